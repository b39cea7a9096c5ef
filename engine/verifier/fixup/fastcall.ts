// remove_fastcall_spills_fills (6.18): once do_check accepted the program, the spill/fill
// pairs around inlined fastcall calls that survived the stack contract become no-ops
// (`goto pc+0`, dropped later by removeNops, as opt_remove_nops does), and a function that
// lost some keeps only the stack above its pattern slots. It runs before the stack depth
// check and before any rewrite that adds stack slots (may_goto's counter, bpf_loop), so
// those land below the reduced depth.

import type { RawSlot } from '../../isa/insn.ts';
import { BPF_JA, BPF_JMP } from '../../isa/opcodes.ts';
import type { VerifierEnv } from '../env.ts';
import { fastcallMarks } from '../fastcall-contract.ts';

const NOP: RawSlot = { code: BPF_JMP | BPF_JA, dst: 0, src: 0, off: 0, imm: 0 };

/** Blank the removable pairs in env.slots and shrink the depths; returns the slots blanked. */
export function removeFastcallSpillsFills(env: VerifierEnv): number[] {
  const m = fastcallMarks(env);
  if (!m) return [];
  const blanked: number[] = [];
  env.subprogs.forEach((sp, s) => {
    const end = env.subprogs[s + 1]?.start ?? env.insnCnt;
    let modified = false;
    for (let i = sp.start; i < end; i++) {
      for (let k = 1; k <= m.spills[i]; k++) {
        for (const j of [i - k, i + k]) {
          env.slots[j] = NOP;
          env.insnAt[j] = NOP;
          blanked.push(j);
        }
      }
      if (m.spills[i]) modified = true;
    }
    // Other patterns around calls that stay keep their slots in use.
    if (modified && !m.keepStack[s]) sp.stackDepth = -m.stackOff[s];
  });
  return blanked.sort((a, b) => a - b);
}
