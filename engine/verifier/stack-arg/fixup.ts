// The v4 kfunc-call rewrite (fixup_kfunc_call in the seed): once the kfunc is resolved the
// call's `off` (a BTF fd index before) carries the number of stack arguments, 0 for five or
// fewer, so the JIT knows how many to marshal. merged leaves `off` alone
// (engine/program/series.ts fixedUpKfuncOff). Runs on the xlated slots (fixup/).

import type { RawSlot } from '../../isa/insn.ts';
import { BPF_CALL, BPF_JMP, BPF_PSEUDO_KFUNC_CALL, LD_IMM64 } from '../../isa/opcodes.ts';
import { fixedUpKfuncOff } from '../../program/series.ts';
import type { Series } from '../../program/types.ts';
import { kfuncDecl } from './kfunc.ts';

export function fixupKfuncStackArgs(slots: RawSlot[], series: Series): void {
  if (series === 'none') return;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i];
    if (s.code === LD_IMM64) {
      i++;
      continue;
    }
    if (s.code !== (BPF_JMP | BPF_CALL) || s.src !== BPF_PSEUDO_KFUNC_CALL) continue;
    const k = kfuncDecl(s.imm);
    if (k) slots[i] = { ...s, off: fixedUpKfuncOff(series, k.params.length, s.off) };
  }
}
