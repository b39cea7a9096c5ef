// Conditional jumps on scalars: can the outcome be decided from ranges alone
// (is_scalar_branch_taken), and what does each outcome teach about both operands
// (regs_refine_cond_op + reg_bounds_sync, 6.18).

import {
  BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE,
  BPF_JSLT, BPF_JSLE, BPF_X,
} from '../../isa/opcodes.ts';
import {
  tnumSubreg, tnumIsConst, tnumOverlap, tnumIntersect, tnumWithSubreg, tnumOr, tnumAnd,
  tnumConst, U64_MAX,
} from './tnum.ts';
import {
  type ScalarBounds, type MutBounds,
  copyBounds, syncInPlace, markUnboundedInPlace, sanityCheck, isConstIn, constValueIn,
  toS64, toU64, lowU32, lowS32,
} from './bounds.ts';

/** "b <op> a" for "a <op> b". */
export function flipOpcode(op: number): number {
  switch (op) {
    case BPF_JGE: return BPF_JLE;
    case BPF_JGT: return BPF_JLT;
    case BPF_JLE: return BPF_JGE;
    case BPF_JLT: return BPF_JGT;
    case BPF_JSGE: return BPF_JSLE;
    case BPF_JSGT: return BPF_JSLT;
    case BPF_JSLE: return BPF_JSGE;
    case BPF_JSLT: return BPF_JSGT;
    default: return op; // JEQ, JNE, JSET are symmetric
  }
}

/** The condition that holds on the fall-through path. JSET has no inverse opcode, so
 *  JSET|BPF_X stands for "no tested bit set" here, as in the kernel. */
export function revOpcode(op: number): number {
  switch (op) {
    case BPF_JEQ: return BPF_JNE;
    case BPF_JNE: return BPF_JEQ;
    case BPF_JSET: return BPF_JSET | BPF_X;
    case BPF_JSET | BPF_X: return BPF_JSET;
    case BPF_JGE: return BPF_JLT;
    case BPF_JGT: return BPF_JLE;
    case BPF_JLE: return BPF_JGT;
    case BPF_JLT: return BPF_JGE;
    case BPF_JSGE: return BPF_JSLT;
    case BPF_JSGT: return BPF_JSLE;
    case BPF_JSLE: return BPF_JSGT;
    case BPF_JSLT: return BPF_JSGE;
    default: return 0;
  }
}

interface View {
  umin: bigint;
  umax: bigint;
  smin: bigint;
  smax: bigint;
}

const view = (b: ScalarBounds, is32: boolean): View =>
  is32
    ? { umin: BigInt(b.u32min), umax: BigInt(b.u32max), smin: BigInt(b.s32min), smax: BigInt(b.s32max) }
    : { umin: b.umin, umax: b.umax, smin: b.smin, smax: b.smax };

/** 1 taken, 0 not taken, -1 unknown, for `dst <op> src` on two scalars (JMP or JMP32). */
export function isBranchTaken(op: number, is32: boolean, dst: ScalarBounds, src: ScalarBounds): 1 | 0 | -1 {
  let r1 = dst;
  let r2 = src;
  let t1 = is32 ? tnumSubreg(r1.varOff) : r1.varOff;
  let t2 = is32 ? tnumSubreg(r2.varOff) : r2.varOff;
  const a = view(r1, is32);
  const b = view(r2, is32);
  switch (op) {
    case BPF_JEQ:
    case BPF_JNE: {
      const eq = op === BPF_JEQ;
      if (tnumIsConst(t1) && tnumIsConst(t2)) return (t1.value === t2.value) === eq ? 1 : 0;
      const never = !tnumOverlap(t1, t2) ||
        a.umin > b.umax || a.umax < b.umin || a.smin > b.smax || a.smax < b.smin ||
        (!is32 && (r1.u32min > r2.u32max || r1.u32max < r2.u32min ||
                   r1.s32min > r2.s32max || r1.s32max < r2.s32min));
      if (never) return eq ? 0 : 1;
      return -1;
    }
    case BPF_JSET: {
      if (!isConstIn(r2, is32)) {
        [r1, r2] = [r2, r1];
        [t1, t2] = [t2, t1];
      }
      if (!isConstIn(r2, is32)) return -1;
      if (t1.value & ~t1.mask & t2.value) return 1;
      if (((t1.mask | t1.value) & t2.value) === 0n) return 0;
      return -1;
    }
    case BPF_JGT:
      return a.umin > b.umax ? 1 : a.umax <= b.umin ? 0 : -1;
    case BPF_JSGT:
      return a.smin > b.smax ? 1 : a.smax <= b.smin ? 0 : -1;
    case BPF_JLT:
      return a.umax < b.umin ? 1 : a.umin >= b.umax ? 0 : -1;
    case BPF_JSLT:
      return a.smax < b.smin ? 1 : a.smin >= b.smax ? 0 : -1;
    case BPF_JGE:
      return a.umin >= b.umax ? 1 : a.umax < b.umin ? 0 : -1;
    case BPF_JSGE:
      return a.smin >= b.smax ? 1 : a.smax < b.smin ? 0 : -1;
    case BPF_JLE:
      return a.umax <= b.umin ? 1 : a.umin > b.umax ? 0 : -1;
    case BPF_JSLE:
      return a.smax <= b.smin ? 1 : a.smin > b.smax ? 0 : -1;
    default:
      return -1;
  }
}

const minB = (x: bigint, y: bigint): bigint => (x < y ? x : y);
const maxB = (x: bigint, y: bigint): bigint => (x > y ? x : y);

/** regs_refine_cond_op: narrow r1/r2 (in place) assuming `r1 <op> r2` holds. */
export function refineCondOp(r1: MutBounds, r2: MutBounds, op: number, is32: boolean): void {
  // GE/GT/SGE/SGT are handled as LE/LT/SLE/SLT with the operands swapped.
  if (op === BPF_JGE || op === BPF_JGT || op === BPF_JSGE || op === BPF_JSGT) {
    op = flipOpcode(op);
    [r1, r2] = [r2, r1];
  }
  switch (op) {
    case BPF_JEQ:
      if (is32) {
        r1.u32min = Math.max(r1.u32min, r2.u32min);
        r1.u32max = Math.min(r1.u32max, r2.u32max);
        r1.s32min = Math.max(r1.s32min, r2.s32min);
        r1.s32max = Math.min(r1.s32max, r2.s32max);
        r2.u32min = r1.u32min;
        r2.u32max = r1.u32max;
        r2.s32min = r1.s32min;
        r2.s32max = r1.s32max;
        const t = tnumIntersect(tnumSubreg(r1.varOff), tnumSubreg(r2.varOff));
        r1.varOff = tnumWithSubreg(r1.varOff, t);
        r2.varOff = tnumWithSubreg(r2.varOff, t);
      } else {
        r1.umin = maxB(r1.umin, r2.umin);
        r1.umax = minB(r1.umax, r2.umax);
        r1.smin = maxB(r1.smin, r2.smin);
        r1.smax = minB(r1.smax, r2.smax);
        r2.umin = r1.umin;
        r2.umax = r1.umax;
        r2.smin = r1.smin;
        r2.smax = r1.smax;
        r1.varOff = tnumIntersect(r1.varOff, r2.varOff);
        r2.varOff = r1.varOff;
      }
      break;
    case BPF_JNE: {
      if (!isConstIn(r2, is32)) [r1, r2] = [r2, r1];
      if (!isConstIn(r2, is32)) break;
      // A constant sitting exactly on an edge of r1's range shaves that edge off.
      const val = constValueIn(r2, is32);
      if (is32) {
        if (r1.u32min === lowU32(val)) r1.u32min = (r1.u32min + 1) >>> 0;
        if (r1.u32max === lowU32(val)) r1.u32max = (r1.u32max - 1) >>> 0;
        if (r1.s32min === lowS32(val)) r1.s32min = (r1.s32min + 1) | 0;
        if (r1.s32max === lowS32(val)) r1.s32max = (r1.s32max - 1) | 0;
      } else {
        if (r1.umin === val) r1.umin = toU64(r1.umin + 1n);
        if (r1.umax === val) r1.umax = toU64(r1.umax - 1n);
        if (r1.smin === toS64(val)) r1.smin = toS64(r1.smin + 1n);
        if (r1.smax === toS64(val)) r1.smax = toS64(r1.smax - 1n);
      }
      break;
    }
    case BPF_JSET: {
      if (!isConstIn(r2, is32)) [r1, r2] = [r2, r1];
      if (!isConstIn(r2, is32)) break;
      const val = constValueIn(r2, is32);
      // Only a single tested bit tells which bit is set.
      if (val === 0n || (val & (val - 1n)) !== 0n) break;
      if (is32) r1.varOff = tnumWithSubreg(r1.varOff, tnumOr(tnumSubreg(r1.varOff), tnumConst(val)));
      else r1.varOff = tnumOr(r1.varOff, tnumConst(val));
      break;
    }
    case BPF_JSET | BPF_X: {
      if (!isConstIn(r2, is32)) [r1, r2] = [r2, r1];
      if (!isConstIn(r2, is32)) break;
      const val = constValueIn(r2, is32);
      // Ranges are dropped first so a dead branch cannot leave them inconsistent.
      markUnboundedInPlace(r1);
      const notVal = tnumConst(~val & U64_MAX);
      if (is32) r1.varOff = tnumWithSubreg(r1.varOff, tnumAnd(tnumSubreg(r1.varOff), notVal));
      else r1.varOff = tnumAnd(r1.varOff, notVal);
      break;
    }
    case BPF_JLE:
      if (is32) {
        r1.u32max = Math.min(r1.u32max, r2.u32max);
        r2.u32min = Math.max(r1.u32min, r2.u32min);
      } else {
        r1.umax = minB(r1.umax, r2.umax);
        r2.umin = maxB(r1.umin, r2.umin);
      }
      break;
    case BPF_JLT:
      // The kernel's u32/u64 arithmetic wraps here; on a live branch it never does.
      if (is32) {
        r1.u32max = Math.min(r1.u32max, (r2.u32max - 1) >>> 0);
        r2.u32min = Math.max((r1.u32min + 1) >>> 0, r2.u32min);
      } else {
        r1.umax = minB(r1.umax, toU64(r2.umax - 1n));
        r2.umin = maxB(toU64(r1.umin + 1n), r2.umin);
      }
      break;
    case BPF_JSLE:
      if (is32) {
        r1.s32max = Math.min(r1.s32max, r2.s32max);
        r2.s32min = Math.max(r1.s32min, r2.s32min);
      } else {
        r1.smax = minB(r1.smax, r2.smax);
        r2.smin = maxB(r1.smin, r2.smin);
      }
      break;
    case BPF_JSLT:
      if (is32) {
        r1.s32max = Math.min(r1.s32max, (r2.s32max - 1) | 0);
        r2.s32min = Math.max((r1.s32min + 1) | 0, r2.s32min);
      } else {
        r1.smax = minB(r1.smax, toS64(r2.smax - 1n));
        r2.smin = maxB(toS64(r1.smin + 1n), r2.smin);
      }
      break;
    default:
      break;
  }
}

export interface Refined {
  readonly dst: ScalarBounds;
  readonly src: ScalarBounds;
  /** REG INVARIANTS VIOLATION lines the kernel logs for this outcome (usually none). */
  readonly messages: readonly string[];
}

/**
 * reg_set_min_max for one outcome: both operands narrowed assuming the jump is `taken`
 * (or falls through). For BPF_K pass src = scalarImm(imm) (the kernel's fake register).
 * `sameReg` is for `if rX <op> rX`: the kernel narrows one register through both operand
 * roles (so `rX s> rX` is not seen as impossible, the range just shrinks).
 *
 * 6.18.44 does not prune an outcome whose narrowed ranges are empty: it logs a
 * "verifier bug: REG INVARIANTS VIOLATION" line, resets that register's ranges (keeping
 * its tnum) and explores the outcome anyway. The kernel checks the taken side first, then
 * the fall-through: see refineBothBranches for the combined order.
 */
export function refineBranch(
  op: number,
  is32: boolean,
  dst: ScalarBounds,
  src: ScalarBounds,
  taken: boolean,
  sameReg = false,
): Refined {
  const d = copyBounds(dst);
  const s = sameReg ? d : copyBounds(src);
  refineCondOp(d, s, taken ? op : revOpcode(op), is32);
  syncInPlace(d);
  syncInPlace(s);
  const side = taken ? 'true' : 'false';
  const messages: string[] = [];
  const c1 = sanityCheck(d, `${side}_reg1`);
  if (c1.message) messages.push(c1.message);
  // With one register in both roles the second check sees the first one's repair.
  const c2 = sanityCheck(sameReg ? c1.fixed : s, `${side}_reg2`);
  if (c2.message) messages.push(c2.message);
  return sameReg ? { dst: c2.fixed, src: c2.fixed, messages } : { dst: c1.fixed, src: c2.fixed, messages };
}

/** Both outcomes, with the kernel's log lines in its order (taken side checked first). */
export function refineBothBranches(
  op: number,
  is32: boolean,
  dst: ScalarBounds,
  src: ScalarBounds,
  sameReg = false,
): { readonly taken: Refined; readonly fall: Refined; readonly messages: readonly string[] } {
  const taken = refineBranch(op, is32, dst, src, true, sameReg);
  const fall = refineBranch(op, is32, dst, src, false, sameReg);
  return { taken, fall, messages: [...taken.messages, ...fall.messages] };
}
