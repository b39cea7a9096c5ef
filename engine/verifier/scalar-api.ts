// The driver's view of the numeric core (engine/verifier/scalar/). Every use of scalar
// arithmetic in the driver goes through this module, so the core's API can evolve without
// touching the driver; a few driver-only helpers (containment for pruning, range parts for
// pointer printing) live here.

import {
  scalarConst, scalarUnknown, scalarOfSize, isConst, constValue, isUnknown, boundsEqual,
  scalarAlu as coreAlu, isBranchTaken, refineBranch, formatScalar, formatScalarRanges, fmtSnum, fmtUnum,
  tnumStrn, tnumIn, coerceToSize, coerceToSizeSx, fls64,
} from './scalar/index.ts';
import type { ScalarBounds, Tnum } from './scalar/index.ts';
import { BPF_END } from '../isa/opcodes.ts';

export type { ScalarBounds, Tnum };
export { scalarConst, scalarUnknown, scalarOfSize, isConst, constValue, isUnknown, boundsEqual, isBranchTaken, refineBranch, formatScalar, fmtSnum, fmtUnum, coerceToSize, coerceToSizeSx };

/** get_reg_width: bits needed for the largest unsigned value. */
export const regWidth = (b: ScalarBounds): number => fls64(b.umax);

/** dst <op>= src; for BPF_END, `endImm` and `endToBe` come from the instruction. */
export function scalarAlu(op: number, is64: boolean, dst: ScalarBounds, src: ScalarBounds, insnOff: number, endImm = 64, endToBe = false): ScalarBounds {
  return op === BPF_END ? coreAlu(op, is64, dst, src, insnOff, endImm, endToBe) : coreAlu(op, is64, dst, src, insnOff);
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
