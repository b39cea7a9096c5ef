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
  const gone = new Uint8Array(x.len);
  for (let i = 0; i < x.len; i++) gone[i] = x.aux[i].seen ? 0 : 1;
  x.removeAll(gone);
}

/**
 * opt_remove_nops. The kernel deletes one no-op at a time, scanning forward, and after a
 * `may_goto pc+0` looks once more at the instruction before it (a `may_goto pc+1` in front
 * has just become `+0`). This walks the slots as loaded with the same visiting order and
 * decides each slot against the offsets it would have by then, then deletes all at once.
 */
export function removeNops(x: XProg): void {
  const n = x.len;
  const gone = new Uint8Array(n);
  // Kept slots so far, for stepping back.
  const kept: number[] = [];
  // Slot `i`'s kind of no-op once the scan has visited every slot up to `scanned`: a
  // forward jump's offset has shrunk to 0 when every slot between it and its target was
  // visited and deleted (when stepping back, every slot visited after `i` was).
  const nopKind = (i: number, scanned: number): 'ja' | 'may_goto' | undefined => {
    const s = x.slots[i];
    const mayGoto = s.code === (BPF_JMP | BPF_JCOND) && s.src === BPF_MAY_GOTO;
    if (s.code !== JA && !mayGoto) return undefined;
    if (s.dst !== 0 || s.src !== (mayGoto ? BPF_MAY_GOTO : 0) || s.imm !== 0 || s.off < 0) return undefined;
    if (i + s.off > scanned) return undefined;
    return mayGoto ? 'may_goto' : 'ja';
  };
  for (let i = 0; i < n; i++) {
    if (x.slots[i].code === LD_IMM64) {
      kept.push(i, i + 1);
      i++;
      continue;
    }
    let kind = nopKind(i, i);
    if (!kind) {
      kept.push(i);
      continue;
    }
    gone[i] = 1;
    // Step back over may_goto +0 removals: the kept slot before is looked at once more.
    while (kind === 'may_goto' && kept.length) {
      const prev = kept[kept.length - 1];
      kind = nopKind(prev, i);
      if (!kind) break;
      kept.pop();
      gone[prev] = 1;
    }
  }
  x.removeAll(gone);
}
