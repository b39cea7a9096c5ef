// Privileged clean-up after do_check: a conditional jump with one side never reached becomes
// an unconditional jump (or a `goto pc+0`), unreached slots are deleted, and the resulting
// `goto pc+0` / `may_goto pc+0` no-ops go too. A `gotol pc+0` (JMP32 JA) is not a no-op
// pattern the kernel looks for, so it stays.

import type { RawSlot } from '../../isa/insn.ts';
import { BPF_CALL, BPF_EXIT, BPF_JA, BPF_JCOND, BPF_JMP, BPF_JMP32, BPF_MAY_GOTO, LD_IMM64, bpfClass, bpfOp } from '../../isa/opcodes.ts';
import type { XProg } from './xprog.ts';

const JA = BPF_JMP | BPF_JA;

/** Conditional in the kernel's sense: every JMP32 but JA, every JMP but JA/EXIT/CALL
 *  (may_goto included). */
function isCondJump(code: number): boolean {
  const op = bpfOp(code);
  if (bpfClass(code) === BPF_JMP32) return op !== BPF_JA;
  if (bpfClass(code) !== BPF_JMP) return false;
  return op !== BPF_JA && op !== BPF_EXIT && op !== BPF_CALL;
}

const isPlainNop = (s: RawSlot): boolean => s.code === JA && s.dst === 0 && s.src === 0 && s.off === 0 && s.imm === 0;
const isMayGoto0 = (s: RawSlot): boolean =>
  s.code === (BPF_JMP | BPF_JCOND) && s.src === BPF_MAY_GOTO && s.dst === 0 && s.off === 0 && s.imm === 0;

/** opt_hard_wire_dead_code_branches. */
export function hardWireDeadBranches(x: XProg): void {
  for (let i = 0; i < x.len; i++) {
    const s = x.slots[i];
    if (s.code === LD_IMM64) {
      i++;
      continue;
    }
    if (!isCondJump(s.code)) continue;
    if (!x.aux[i + 1]?.seen) x.slots[i] = { code: JA, dst: 0, src: 0, off: s.off, imm: 0 };
    else if (!x.aux[i + 1 + s.off]?.seen) x.slots[i] = { code: JA, dst: 0, src: 0, off: 0, imm: 0 };
  }
}

/** opt_remove_dead_code: delete each run of unreached slots. */
export function removeDeadCode(x: XProg): void {
  for (let i = 0; i < x.len; i++) {
    let j = 0;
    while (i + j < x.len && !x.aux[i + j].seen) j++;
    if (j) x.remove(i, j);
  }
}

/** opt_remove_nops. */
export function removeNops(x: XProg): void {
  for (let i = 0; i < x.len; i++) {
    const mayGoto0 = isMayGoto0(x.slots[i]);
    if (!mayGoto0 && !isPlainNop(x.slots[i])) continue;
    x.remove(i, 1);
    // Step back so a `may_goto pc+1` made into `+0` by this removal is looked at again.
    i -= mayGoto0 && i > 0 ? 2 : 1;
  }
}
