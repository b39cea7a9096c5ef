// The driver's view of the numeric core (engine/verifier/scalar/). Every use of scalar
// arithmetic in the driver goes through this module, so the core's API can evolve without
// touching the driver; a few driver-only helpers (containment for pruning, range parts for
// pointer printing) live here.

import {
  scalarConst, scalarUnknown, scalarOfSize, isConst, isConstIn, constValue, constValueIn, isUnknown, boundsEqual,
  scalarAlu as coreAlu, isBranchTaken, refineBranch, formatScalar, formatScalarRanges, fmtSnum, fmtUnum,
  tnumStrn, tnumIn, coerceToSize, coerceToSizeSx, fls64, tnumAdd, tnumSub, tnumConst, tnumIsAligned, regBoundsSync,
  S64_MIN, S64_MAX, S32_MIN, S32_MAX, U32_MAX, U64_MAX,
} from './scalar/index.ts';
import type { ScalarBounds, Tnum } from './scalar/index.ts';
import { BPF_END } from '../isa/opcodes.ts';

export type { ScalarBounds, Tnum };
export { S64_MIN, S64_MAX };
export { scalarConst, scalarUnknown, scalarOfSize, isConst, isConstIn, constValue, constValueIn, isUnknown, boundsEqual, isBranchTaken, refineBranch, formatScalar, fmtSnum, fmtUnum, coerceToSize, coerceToSizeSx };

/** get_reg_width: bits needed for the largest unsigned value. */
export const regWidth = (b: ScalarBounds): number => fls64(b.umax);

/** dst <op>= src; for BPF_END, `endImm` and `endToBe` come from the instruction. */
export function scalarAlu(op: number, is64: boolean, dst: ScalarBounds, src: ScalarBounds, insnOff: number, endImm = 64, endToBe = false): ScalarBounds {
  return op === BPF_END ? coreAlu(op, is64, dst, src, insnOff, endImm, endToBe) : coreAlu(op, is64, dst, src, insnOff);
}

const immCache = new Map<number, ScalarBounds>();

/** The constant an instruction's 32-bit immediate stands for (sign-extended, as the kernel's
 *  fake BPF_K register), one shared object per value: bounds are immutable, and repeated
 *  immediates in a loop then cost no BigInt work. */
export function immBounds(imm: number): ScalarBounds {
  let b = immCache.get(imm);
  if (!b) {
    if (immCache.size >= 4096) immCache.clear();
    b = scalarConst(BigInt(imm));
    immCache.set(imm, b);
  }
  return b;
}

export const fmtTnum = (t: Tnum): string => tnumStrn(t);

/** The `smin=...` pieces of a non-constant value, for pointers with a variable offset. */
export function scalarRangeParts(b: ScalarBounds): string[] {
  const s = formatScalarRanges(b);
  return s ? s.split(',') : [];
}

/** Is `cur` contained in `old` (range_within plus tnum_in)? */
export function boundsWithin(old: ScalarBounds, cur: ScalarBounds): boolean {
  return old.smin <= cur.smin && cur.smax <= old.smax && old.umin <= cur.umin && cur.umax <= old.umax &&
    old.s32min <= cur.s32min && cur.s32max <= old.s32max && old.u32min <= cur.u32min && cur.u32max <= old.u32max &&
    tnumIn(old.varOff, cur.varOff);
}

/** A pointer's variable part with no 32-bit knowledge: pointers keep only 64-bit bounds. */
function ptrBounds(varOff: Tnum, smin: bigint, smax: bigint, umin: bigint, umax: bigint): ScalarBounds {
  return regBoundsSync({ varOff, smin, smax, umin, umax, s32min: S32_MIN, s32max: S32_MAX, u32min: 0, u32max: U32_MAX });
}

const sOverflows = (x: bigint): boolean => x < S64_MIN || x > S64_MAX;

/** ptr += off with a variable `off`: each bound adds, an overflowing pair is unbounded. */
export function ptrAddVar(ptr: ScalarBounds, off: ScalarBounds): ScalarBounds {
  let smin = ptr.smin + off.smin;
  let smax = ptr.smax + off.smax;
  if (sOverflows(smin) || sOverflows(smax)) [smin, smax] = [S64_MIN, S64_MAX];
  let umin = ptr.umin + off.umin;
  let umax = ptr.umax + off.umax;
  if (umin > U64_MAX || umax > U64_MAX) [umin, umax] = [0n, U64_MAX];
  return ptrBounds(tnumAdd(ptr.varOff, off.varOff), smin, smax, umin, umax);
}

/** ptr -= off with a variable `off`. */
export function ptrSubVar(ptr: ScalarBounds, off: ScalarBounds): ScalarBounds {
  let smin = ptr.smin - off.smax;
  let smax = ptr.smax - off.smin;
  if (sOverflows(smin) || sOverflows(smax)) [smin, smax] = [S64_MIN, S64_MAX];
  let umin = 0n;
  let umax = U64_MAX;
  if (ptr.umin >= off.umax) [umin, umax] = [ptr.umin - off.umax, ptr.umax - off.umin];
  return ptrBounds(tnumSub(ptr.varOff, off.varOff), smin, smax, umin, umax);
}

/** A pointer's variable part after a constant add: unchanged 64-bit bounds, 32-bit forgotten. */
export const ptrKeep = (ptr: ScalarBounds): ScalarBounds => ptrBounds(ptr.varOff, ptr.smin, ptr.smax, ptr.umin, ptr.umax);

/** Is `varOff + k` a multiple of `size` for every value (tnum_is_aligned)? */
export const isAlignedWith = (varOff: Tnum, k: number, size: number): boolean =>
  tnumIsAligned(tnumAdd(varOff, tnumConst(BigInt(k))), BigInt(size));

/** An unknown scalar within [smin, smax] (and [s32min, s32max] for its low half), with the
 *  other bounds derived (reg_bounds_sync): do_refine_retval_range's results. */
export function boundedScalar(smin: bigint, smax: bigint, s32min: number, s32max: number): ScalarBounds {
  return regBoundsSync({ ...scalarUnknown(), smin, smax, s32min, s32max });
}
