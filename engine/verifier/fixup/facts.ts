// What do_check learns per instruction that the rewrites after it need (the kernel keeps
// these in bpf_insn_aux_data): the pointer type behind each load/store, and for helper calls
// the map in r1 and the key in r3. Recorded from the state *before* the instruction runs, on
// every path; paths that disagree poison the map/key facts as the kernel does.

import type { Insn } from '../../isa/insn.ts';
import { BPF_CALL, BPF_JMP, BPF_LDX, BPF_ST, BPF_STX, bpfClass, bpfOp } from '../../isa/opcodes.ts';
import type { VerifierEnv } from '../env.ts';
import { RegType, baseType, type MapRef } from '../state/types.ts';
import { constValue, isConst } from '../scalar-api.ts';

export interface FixupFacts {
  /** Base RegType of the pointer a load/store goes through. */
  ptrType?: number;
  /** Helper call: the map passed in r1. */
  map?: MapRef | 'poison';
  /** Helper call: r3 as a constant (bpf_tail_call's index). */
  key?: bigint | 'poison';
  /** A 64-bit ALU operation on an arena pointer: done in 32 bits (aux->needs_zext). */
  arenaZext?: boolean;
}

/** Called by do_check for each instruction it is about to check. */
// r11/r12 (stack-arg bases, or invalid and rejected right after) have no register state.
export function recordFixupFacts(env: VerifierEnv, insn: Insn, idx: number): void {
  const regs = env.curState.frames[env.curState.curframe].regs;
  const cls = bpfClass(insn.code);
  const aux = env.aux[idx];
  if (cls === BPF_LDX) {
    aux.fixup = { ...aux.fixup, ptrType: baseType(regs[insn.src]?.type ?? RegType.NOT_INIT) };
  } else if (cls === BPF_STX || cls === BPF_ST) {
    aux.fixup = { ...aux.fixup, ptrType: baseType(regs[insn.dst]?.type ?? RegType.NOT_INIT) };
  } else if (cls === BPF_JMP && bpfOp(insn.code) === BPF_CALL && insn.src === 0) {
    const f: FixupFacts = { ...aux.fixup };
    // The map argument: r1, but r2 for bpf_tail_call (#12).
    const r1 = regs[insn.imm === 12 ? 2 : 1];
    if (r1.type === RegType.CONST_PTR_TO_MAP && r1.map) {
      if (f.map === undefined) f.map = r1.map;
      else if (f.map !== 'poison' && f.map.index !== r1.map.index) f.map = 'poison';
    }
    const r3 = regs[3];
    const k = r3.type === RegType.SCALAR_VALUE && isConst(r3.s) ? constValue(r3.s) : undefined;
    if (f.key === undefined) f.key = k ?? 'poison';
    else if (f.key !== 'poison' && f.key !== k) f.key = 'poison';
    aux.fixup = f;
  }
}
