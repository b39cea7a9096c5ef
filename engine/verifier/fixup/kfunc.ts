// fixup_kfunc_call's one-instruction rewrites that show in the xlated dump (6.18): the two
// casts are the identity at run time, so the call becomes `r0 = r1`.

import { BPF_ALU64, BPF_CALL, BPF_JMP, BPF_MOV, BPF_PSEUDO_KFUNC_CALL, BPF_X } from '../../isa/opcodes.ts';
import { kernelKfunc } from '../kfunc/meta.ts';
import type { XProg } from './xprog.ts';

const CASTS = new Set(['bpf_cast_to_kern_ctx', 'bpf_rdonly_cast']);

export function fixupKfuncCasts(x: XProg): void {
  for (let i = 0; i < x.len; i++) {
    const s = x.slots[i];
    if (s.code !== (BPF_JMP | BPF_CALL) || s.src !== BPF_PSEUDO_KFUNC_CALL || s.off !== 0) continue;
    const k = kernelKfunc(s.imm);
    if (k && CASTS.has(k.name)) x.slots[i] = { code: BPF_ALU64 | BPF_MOV | BPF_X, dst: 0, src: 1, off: 0, imm: 0 };
  }
}
