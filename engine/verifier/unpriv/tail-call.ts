// bpf_tail_call under Spectre v1 (no bypass_spec_v1 for the map): the rewrite bounds and
// masks the index with one map's max_entries / index_mask, so every path through a call
// must pass the same prog array. Checked where do_misc_fixups does it, after do_check.

import { BPF_CALL, BPF_JMP } from '../../isa/opcodes.ts';
import { reject, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';

const FUNC_TAIL_CALL = 12;

/** Maps are taken to be created by the loader itself, so they share its bypass_spec_v1. */
export function checkTailCallMaps(env: VerifierEnv): void {
  if (env.bypassSpecV1) return;
  for (let i = 0; i < env.insnCnt; i++) {
    const insn = env.insnAt[i];
    if (!insn || insn.code !== (BPF_JMP | BPF_CALL) || insn.src !== 0 || insn.imm !== FUNC_TAIL_CALL) continue;
    // Unseen calls are dead code, rewritten to a trap before this point.
    if (env.aux[i].seen && env.aux[i].fixup?.map === 'poison') throw reject(EINVAL, 'tail_call abusing map_ptr');
  }
}
