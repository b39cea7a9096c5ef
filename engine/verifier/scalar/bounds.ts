// Range knowledge about a scalar: a tnum plus signed/unsigned bounds in 64 and 32 bits,
// and the rules that keep the five views consistent (6.18 reg_bounds_sync and friends).
//
// 64-bit bounds are bigints (smin/smax signed, umin/umax unsigned); 32-bit bounds are
// plain numbers (s32 in [-2^31, 2^31), u32 in [0, 2^32)).

import {
  type Tnum,
  TNUM_UNKNOWN,
  U64_MAX,
  tnumConst,
  tnumConstSubreg,
  tnumIntersect,
  tnumRange,
  tnumSubreg,
  tnumClearSubreg,
  tnumOr,
  tnumIsConst,
  tnumSubregIsConst,
  tnumCast,
  tnumStep,
} from './tnum.ts';

export interface ScalarBounds {
  readonly varOff: Tnum;
  readonly smin: bigint;
  readonly smax: bigint;
  readonly umin: bigint;
  readonly umax: bigint;
  readonly s32min: number;
  readonly s32max: number;
  readonly u32min: number;
  readonly u32max: number;
}

/** The same fields, writable: the transfer functions work on a private copy. */
export type MutBounds = { -readonly [K in keyof ScalarBounds]: ScalarBounds[K] };

export const S64_MIN = -(1n << 63n);
export const S64_MAX = (1n << 63n) - 1n;
export const S32_MIN = -0x8000_0000;
export const S32_MAX = 0x7fff_ffff;
export const U32_MAX = 0xffff_ffff;
export { U64_MAX };

export const toU64 = (x: bigint): bigint => BigInt.asUintN(64, x);
export const toS64 = (x: bigint): bigint => BigInt.asIntN(64, x);
// BigInt <-> two u32 halves through one 8-byte buffer: a BigUint64Array store takes any
// bigint mod 2^64 (its u64 bit pattern), so the halves come out with no BigInt allocated.
const U64_CELL = new BigUint64Array(1);
const S64_CELL = new BigInt64Array(U64_CELL.buffer);
const HALVES = new Uint32Array(U64_CELL.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = LITTLE_ENDIAN ? 1 : 0;

/** Low 32 bits of a 64-bit value, as u32 / s32 numbers. */
export const lowU32 = (x: bigint): number => {
  U64_CELL[0] = x;
  return HALVES[LO];
};
export const lowS32 = (x: bigint): number => lowU32(x) | 0;

const maxB = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const minB = (a: bigint, b: bigint): bigint => (a < b ? a : b);

export const copyBounds = (b: ScalarBounds): MutBounds => ({
  varOff: b.varOff,
  smin: b.smin,
  smax: b.smax,
  umin: b.umin,
  umax: b.umax,
  s32min: b.s32min,
  s32max: b.s32max,
  u32min: b.u32min,
  u32max: b.u32max,
});

/** A fully known value (__mark_reg_known). */
export function scalarConst(v: bigint): ScalarBounds {
  if (v >= 0n && v <= 0x7fff_ffffn) {
    // The common small constant: every view is the same number, no bigint arithmetic.
    const n = Number(v);
    return { varOff: { value: v, mask: 0n }, smin: v, smax: v, umin: v, umax: v, s32min: n, s32max: n, u32min: n, u32max: n };
  }
  const u = toU64(v);
  const s = toS64(v);
  return {
    varOff: tnumConst(u),
    smin: s,
    smax: s,
    umin: u,
    umax: u,
    s32min: lowS32(u),
    s32max: lowS32(u),
    u32min: lowU32(u),
    u32max: lowU32(u),
  };
}

const UNKNOWN: ScalarBounds = {
  varOff: TNUM_UNKNOWN,
  smin: S64_MIN,
  smax: S64_MAX,
  umin: 0n,
  umax: U64_MAX,
  s32min: S32_MIN,
  s32max: S32_MAX,
  u32min: 0,
  u32max: U32_MAX,
};

/** Nothing known (__mark_reg_unknown without the precision part). */
export const scalarUnknown = (): ScalarBounds => UNKNOWN;

/** Build from explicit pieces, then sync (handy for tests and for the driver). */
export function scalarFrom(p: Partial<ScalarBounds>): ScalarBounds {
  const b = copyBounds({ ...UNKNOWN, ...p });
  syncInPlace(b);
  return b;
}

/** An unsigned range [0, 2^(8*size)-1] as a load of `size` bytes produces. */
export function scalarOfSize(size: 1 | 2 | 4 | 8): ScalarBounds {
  if (size === 8) return UNKNOWN;
  const b = copyBounds(UNKNOWN);
  b.varOff = tnumCast(TNUM_UNKNOWN, size);
  syncInPlace(b);
  return b;
}

export const isConst = (b: ScalarBounds): boolean => tnumIsConst(b.varOff);
export const isSubregConst = (b: ScalarBounds): boolean => tnumSubregIsConst(b.varOff);
export const constValue = (b: ScalarBounds): bigint => b.varOff.value;

/** Is the register a known constant in the width a jmp/alu of that size looks at? */
export const isConstIn = (b: ScalarBounds, is32: boolean): boolean =>
  is32 ? tnumSubregIsConst(b.varOff) : tnumIsConst(b.varOff);
export const constValueIn = (b: ScalarBounds, is32: boolean): bigint =>
  is32 ? b.varOff.value & 0xffff_ffffn : b.varOff.value;

export const isUnknown = (b: ScalarBounds): boolean =>
  b.varOff.mask === U64_MAX && b.smin === S64_MIN && b.smax === S64_MAX && b.umin === 0n &&
  b.umax === U64_MAX && b.s32min === S32_MIN && b.s32max === S32_MAX && b.u32min === 0 &&
  b.u32max === U32_MAX;

export function boundsEqual(a: ScalarBounds, b: ScalarBounds): boolean {
  // States share unchanged registers' bounds objects, so identity settles most calls.
  if (a === b) return true;
  return a.varOff.value === b.varOff.value && a.varOff.mask === b.varOff.mask &&
    a.smin === b.smin && a.smax === b.smax && a.umin === b.umin && a.umax === b.umax &&
    a.s32min === b.s32min && a.s32max === b.s32max && a.u32min === b.u32min && a.u32max === b.u32max;
}

// ---- in-place building blocks (exported for alu.ts / branch.ts) ----

export function markKnownInPlace(b: MutBounds, v: bigint): void {
  const k = scalarConst(v);
  Object.assign(b, k);
}

/** Only the low 32 bits become `v`; upper tnum bits and 64-bit bounds are untouched. */
export function mark32KnownInPlace(b: MutBounds, v: bigint): void {
  b.varOff = tnumConstSubreg(b.varOff, v);
  b.s32min = b.s32max = lowS32(v);
  b.u32min = b.u32max = lowU32(v);
}

export function mark64UnboundedInPlace(b: MutBounds): void {
  b.smin = S64_MIN;
  b.smax = S64_MAX;
  b.umin = 0n;
  b.umax = U64_MAX;
}

export function mark32UnboundedInPlace(b: MutBounds): void {
  b.s32min = S32_MIN;
  b.s32max = S32_MAX;
  b.u32min = 0;
  b.u32max = U32_MAX;
}

export function markUnboundedInPlace(b: MutBounds): void {
  mark64UnboundedInPlace(b);
  mark32UnboundedInPlace(b);
}

export function markUnknownInPlace(b: MutBounds): void {
  Object.assign(b, UNKNOWN);
}

/** Tighten the 32-bit bounds from the low half of the tnum. */
export function update32FromTnum(b: MutBounds): void {
  const v = lowU32(b.varOff.value);
  const m = lowU32(b.varOff.mask);
  // signed: the sign bit is set in the minimum if it may be set; the rest is minimal.
  const smin = (v | (m & 0x8000_0000)) | 0;
  const smax = (v | (m & 0x7fff_ffff)) | 0;
  if (smin > b.s32min) b.s32min = smin;
  if (smax < b.s32max) b.s32max = smax;
  if (v > b.u32min) b.u32min = v;
  const umax = (v | m) >>> 0;
  if (umax < b.u32max) b.u32max = umax;
}

/** Tighten the 64-bit bounds from the tnum. */
export function update64FromTnum(b: MutBounds): void {
  const { value: v, mask: m } = b.varOff;
  if (m === U64_MAX && v === 0n) {
    // Nothing known: no bound moves; only a single-value u64 range can become a constant.
    if (b.umin >= b.umax && !(b.umin === U64_MAX && b.umax === U64_MAX)) Object.assign(b, scalarConst(b.umin));
    return;
  }
  const smin = toS64(v | (m & (1n << 63n)));
  const smax = toS64(v | (m & S64_MAX));
  if (smin > b.smin) b.smin = smin;
  if (smax < b.smax) b.smax = smax;
  if (v > b.umin) b.umin = v;
  const tmax = v | m;
  if (tmax < b.umax) b.umax = tmax;
  // A mask of low bits only: the members are exactly [v, tmax], so the value after a member
  // umin is umin + 1 and the general search below is not needed.
  if (m >= 0n && (m & (m + 1n)) === 0n && (v & m) === 0n && b.umin >= v && b.umin <= tmax) {
    const step = b.umin < tmax ? b.umin + 1n : tmax;
    if (step > b.umax) Object.assign(b, scalarConst(b.umin));
    return;
  }
  // 6.18 stable: when the u64 range and the tnum share exactly one value, it is known.
  // (A constant tnum the range has drifted away from is snapped back to the constant.)
  const next = tnumStep(b.varOff, b.umin);
  const uminIn = (b.umin & ~m) === v;
  if (uminIn && next > b.umax) Object.assign(b, scalarConst(b.umin));
  else if (!uminIn && next === tmax) Object.assign(b, scalarConst(tmax));
  else if (!uminIn && next <= b.umax && tnumStep(b.varOff, next) > b.umax) Object.assign(b, scalarConst(next));
}

/** __update_reg_bounds */
export function updateFromTnum(b: MutBounds): void {
  update32FromTnum(b);
  update64FromTnum(b);
}

// ---- the same deduction on bigints ----
//
// Kept for states outside the number domain (a dead branch can leave an "unsigned" bound
// negative); the halves below are exact only for u64/s64/u32/s32 values in range.

/** 32-bit bounds learned from each other and from the 64-bit bounds. */
function deduce32(b: MutBounds): void {
  // When the upper halves of a 64-bit range agree, its low halves form a range too.
  if (b.umin >> 32n === b.umax >> 32n) {
    const lo = lowU32(b.umin);
    const hi = lowU32(b.umax);
    if (lo > b.u32min) b.u32min = lo;
    if (hi < b.u32max) b.u32max = hi;
    if ((lo | 0) <= (hi | 0)) {
      if ((lo | 0) > b.s32min) b.s32min = lo | 0;
      if ((hi | 0) < b.s32max) b.s32max = hi | 0;
    }
  }
  if (b.smin >> 32n === b.smax >> 32n) {
    const lo = lowU32(b.smin);
    const hi = lowU32(b.smax);
    if (lo <= hi) {
      if (lo > b.u32min) b.u32min = lo;
      if (hi < b.u32max) b.u32max = hi;
    }
    if ((lo | 0) <= (hi | 0)) {
      if ((lo | 0) > b.s32min) b.s32min = lo | 0;
      if ((hi | 0) < b.s32max) b.s32max = hi | 0;
    }
  }
  // Upper halves consecutive (mod 2^32) and the low halves go from negative to
  // non-negative: the low halves still form one s32 range.
  if (((lowU32(b.umin >> 32n) + 1) >>> 0) === lowU32(b.umax >> 32n) &&
      lowS32(b.umin) < 0 && lowS32(b.umax) >= 0) {
    if (lowS32(b.umin) > b.s32min) b.s32min = lowS32(b.umin);
    if (lowS32(b.umax) < b.s32max) b.s32max = lowS32(b.umax);
  }
  if (((lowU32(toU64(b.smin) >> 32n) + 1) >>> 0) === lowU32(toU64(b.smax) >> 32n) &&
      lowS32(b.smin) < 0 && lowS32(b.smax) >= 0) {
    if (lowS32(b.smin) > b.s32min) b.s32min = lowS32(b.smin);
    if (lowS32(b.smax) < b.s32max) b.s32max = lowS32(b.smax);
  }
  // u32 range that does not cross the s32 sign boundary is also an s32 range.
  if ((b.u32min | 0) <= (b.u32max | 0)) {
    if ((b.u32min | 0) > b.s32min) b.s32min = b.u32min | 0;
    if ((b.u32max | 0) < b.s32max) b.s32max = b.u32max | 0;
  }
  const sminU = b.s32min >>> 0;
  const smaxU = b.s32max >>> 0;
  if (sminU <= smaxU) {
    if (sminU > b.u32min) b.u32min = sminU;
    if (smaxU < b.u32max) b.u32max = smaxU;
  } else if (b.u32max < sminU) {
    // u32 range meets only the non-negative part of the s32 range.
    b.s32min = b.u32min | 0;
    if (b.s32max >>> 0 < b.u32max) b.u32max = b.s32max >>> 0;
  } else if (smaxU < b.u32min) {
    // u32 range meets only the negative part.
    b.s32max = b.u32max | 0;
    if (sminU > b.u32min) b.u32min = sminU;
  }
}

function deduce64(b: MutBounds): void {
  const uminS = toS64(b.umin);
  const umaxS = toS64(b.umax);
  if (uminS <= umaxS) {
    b.smin = maxB(b.smin, uminS);
    b.smax = minB(b.smax, umaxS);
  }
  const sminU = toU64(b.smin);
  const smaxU = toU64(b.smax);
  if (sminU <= smaxU) {
    b.umin = maxB(b.umin, sminU);
    b.umax = minB(b.umax, smaxU);
  } else if (b.umax < sminU) {
    b.smin = toS64(b.umin);
    b.umax = minB(b.umax, smaxU);
  } else if (smaxU < b.umin) {
    b.smax = toS64(b.umax);
    b.umin = maxB(b.umin, sminU);
  }
}

/** 64-bit bounds tightened with the 32-bit ones substituted into their low halves. */
function deduceMixed(b: MutBounds): void {
  const HI = ~0xffff_ffffn;
  const u32lo = BigInt(b.u32min);
  const u32hi = BigInt(b.u32max);
  b.umin = maxB(b.umin, toU64((b.umin & HI) | u32lo));
  b.umax = minB(b.umax, toU64((b.umax & HI) | u32hi));
  b.smin = maxB(b.smin, toS64((b.smin & HI) | u32lo));
  b.smax = minB(b.smax, toS64((b.smax & HI) | u32hi));
  const s32loU = b.s32min >>> 0;
  const s32hiU = b.s32max >>> 0;
  if (s32loU <= s32hiU) {
    const lo = BigInt(s32loU);
    const hi = BigInt(s32hiU);
    b.umin = maxB(b.umin, toU64((b.umin & HI) | lo));
    b.umax = minB(b.umax, toU64((b.umax & HI) | hi));
    b.smin = maxB(b.smin, toS64((b.smin & HI) | lo));
    b.smax = minB(b.smax, toS64((b.smax & HI) | hi));
  }
  // A non-negative s32 within a 64-bit range inside [S32_MIN, S32_MAX] (e.g. after a
  // sign-extending load) pins the upper half to zero.
  if (b.s32min >= 0 && b.smin >= BigInt(S32_MIN) && b.smax <= BigInt(S32_MAX)) {
    b.smin = BigInt(b.s32min);
    b.smax = BigInt(b.s32max);
    b.umin = BigInt(b.s32min);
    b.umax = BigInt(b.s32max);
    b.varOff = tnumIntersect(b.varOff, tnumRange(b.smin, b.smax));
  }
}


function slowRound(b: MutBounds): void {
  deduce32(b);
  deduce64(b);
  deduceMixed(b);
}

// ---- deduction on 32-bit halves ----
//
// __reg_deduce_bounds moves facts between the 64-bit and 32-bit views. Done on bigints it
// allocates at every step, and reg_bounds_sync runs it three times per register. Here the
// four 64-bit bounds are split once into (hi, lo) u32 halves (their u64 bit patterns; the
// signed ones compare with a signed hi), the rounds run on plain numbers, stop as soon as
// a round changes nothing (the next one would see the same state), and only bounds that
// moved are turned back into bigints.

/** Unsigned / signed (hi, lo) comparisons. */
const ult = (ah: number, al: number, bh: number, bl: number): boolean => ah < bh || (ah === bh && al < bl);
const ule = (ah: number, al: number, bh: number, bl: number): boolean => ah < bh || (ah === bh && al <= bl);
const slt = (ah: number, al: number, bh: number, bl: number): boolean => (ah | 0) < (bh | 0) || (ah === bh && al < bl);
const sle = (ah: number, al: number, bh: number, bl: number): boolean => (ah | 0) < (bh | 0) || (ah === bh && al <= bl);

let splitHi = 0;
let splitLo = 0;
/** The u64 bit pattern of x (signed or unsigned) into splitHi/splitLo. */
function split(x: bigint): void {
  if (x >= 0n && x <= 0xffff_ffffn) {
    splitHi = 0;
    splitLo = Number(x);
  } else if (x < 0n && x >= -0x8000_0000n) {
    splitHi = 0xffff_ffff;
    splitLo = Number(x) >>> 0;
  } else if (x === U64_MAX) {
    splitHi = splitLo = 0xffff_ffff;
  } else if (x === S64_MAX) {
    splitHi = 0x7fff_ffff;
    splitLo = 0xffff_ffff;
  } else if (x === S64_MIN) {
    splitHi = 0x8000_0000;
    splitLo = 0;
  } else {
    U64_CELL[0] = x;
    splitHi = HALVES[HI];
    splitLo = HALVES[LO];
  }
}

function joinU(hi: number, lo: number): bigint {
  if (hi === 0) return BigInt(lo);
  HALVES[HI] = hi;
  HALVES[LO] = lo;
  return U64_CELL[0];
}
function joinS(hi: number, lo: number): bigint {
  if (hi === 0) return BigInt(lo);
  if (hi === 0xffff_ffff && lo >= 0x8000_0000) return BigInt(lo | 0);
  HALVES[HI] = hi;
  HALVES[LO] = lo;
  return S64_CELL[0];
}

/**
 * Up to `rounds` rounds of __reg_deduce_bounds (its 32-bit, 64-bit and mixed parts, in the
 * kernel's order), in place. Returns the number of rounds that changed something.
 */
function deduceRounds(b: MutBounds, rounds: number): number {
  if (!inNumberDomain(b)) {
    for (let i = 0; i < rounds; i++) slowRound(b);
    return rounds;
  }
  split(b.umin); let uH = splitHi; let uL = splitLo;
  split(b.umax); let UH = splitHi; let UL = splitLo;
  split(b.smin); let sH = splitHi; let sL = splitLo;
  split(b.smax); let SH = splitHi; let SL = splitLo;
  const uH0 = uH, uL0 = uL, UH0 = UH, UL0 = UL, sH0 = sH, sL0 = sL, SH0 = SH, SL0 = SL;
  let u32min = b.u32min;
  let u32max = b.u32max;
  let s32min = b.s32min;
  let s32max = b.s32max;
  let done = 0;
  let bail = false;
  while (done < rounds) {
    const a0 = uH, a1 = uL, a2 = UH, a3 = UL, a4 = sH, a5 = sL, a6 = SH, a7 = SL;
    const a8 = u32min, a9 = u32max, a10 = s32min, a11 = s32max;
    // -- 32-bit bounds from the 64-bit ones and from each other
    // Upper halves of a range equal: its low halves form a range too.
    if (uH === UH) {
      if (uL > u32min) u32min = uL;
      if (UL < u32max) u32max = UL;
      if ((uL | 0) <= (UL | 0)) {
        if ((uL | 0) > s32min) s32min = uL | 0;
        if ((UL | 0) < s32max) s32max = UL | 0;
      }
    }
    if (sH === SH) {
      if (sL <= SL) {
        if (sL > u32min) u32min = sL;
        if (SL < u32max) u32max = SL;
      }
      if ((sL | 0) <= (SL | 0)) {
        if ((sL | 0) > s32min) s32min = sL | 0;
        if ((SL | 0) < s32max) s32max = SL | 0;
      }
    }
    // Upper halves consecutive, low halves from negative to non-negative: one s32 range.
    if (((uH + 1) >>> 0) === UH && (uL | 0) < 0 && (UL | 0) >= 0) {
      if ((uL | 0) > s32min) s32min = uL | 0;
      if ((UL | 0) < s32max) s32max = UL | 0;
    }
    if (((sH + 1) >>> 0) === SH && (sL | 0) < 0 && (SL | 0) >= 0) {
      if ((sL | 0) > s32min) s32min = sL | 0;
      if ((SL | 0) < s32max) s32max = SL | 0;
    }
    // A u32 range on one side of the s32 sign boundary is an s32 range.
    if ((u32min | 0) <= (u32max | 0)) {
      if ((u32min | 0) > s32min) s32min = u32min | 0;
      if ((u32max | 0) < s32max) s32max = u32max | 0;
    }
    {
      const sminU = s32min >>> 0;
      const smaxU = s32max >>> 0;
      if (sminU <= smaxU) {
        if (sminU > u32min) u32min = sminU;
        if (smaxU < u32max) u32max = smaxU;
      } else if (u32max < sminU) {
        // The u32 range meets only the non-negative part of the s32 range.
        s32min = u32min | 0;
        if (s32max >>> 0 < u32max) u32max = s32max >>> 0;
      } else if (smaxU < u32min) {
        // ... or only the negative part.
        s32max = u32max | 0;
        if (sminU > u32min) u32min = sminU;
      }
    }
    // -- 64-bit signed and unsigned from each other
    if (sle(uH, uL, UH, UL)) {
      if (slt(sH, sL, uH, uL)) { sH = uH; sL = uL; }
      if (slt(UH, UL, SH, SL)) { SH = UH; SL = UL; }
    }
    if (ule(sH, sL, SH, SL)) {
      if (ult(uH, uL, sH, sL)) { uH = sH; uL = sL; }
      if (ult(SH, SL, UH, UL)) { UH = SH; UL = SL; }
    } else if (ult(UH, UL, sH, sL)) {
      sH = uH; sL = uL;
      if (ult(SH, SL, UH, UL)) { UH = SH; UL = SL; }
    } else if (ult(SH, SL, uH, uL)) {
      SH = UH; SL = UL;
      if (ult(uH, uL, sH, sL)) { uH = sH; uL = sL; }
    }
    // -- 64-bit bounds with the 32-bit ones substituted into their low halves
    if (u32min > uL) uL = u32min;
    if (u32max < UL) UL = u32max;
    if (u32min > sL) sL = u32min;
    if (u32max < SL) SL = u32max;
    {
      const lo = s32min >>> 0;
      const hi = s32max >>> 0;
      if (lo <= hi) {
        if (lo > uL) uL = lo;
        if (hi < UL) UL = hi;
        if (lo > sL) sL = lo;
        if (hi < SL) SL = hi;
      }
    }
    // A non-negative s32 inside a 64-bit range within [S32_MIN, S32_MAX] (e.g. after a
    // sign-extending load) pins the upper half to zero.
    if (s32min >= 0 && ((sH | 0) >= 0 || (sH === 0xffff_ffff && sL >= 0x8000_0000)) &&
        ((SH | 0) < 0 || (SH === 0 && SL <= 0x7fff_ffff))) {
      if (s32max < 0) {
        // s32min > s32max: the kernel stores a negative u64 bound here; finish on bigints.
        bail = true;
        break;
      }
      sH = SH = uH = UH = 0;
      sL = uL = s32min;
      SL = UL = s32max;
      b.varOff = tnumIntersect(b.varOff, tnumRange(BigInt(s32min), BigInt(s32max)));
    }
    done++;
    if (a0 === uH && a1 === uL && a2 === UH && a3 === UL && a4 === sH && a5 === sL && a6 === SH &&
        a7 === SL && a8 === u32min && a9 === u32max && a10 === s32min && a11 === s32max) {
      done--;
      break;
    }
  }
  b.u32min = u32min;
  b.u32max = u32max;
  b.s32min = s32min;
  b.s32max = s32max;
  if (uH !== uH0 || uL !== uL0) b.umin = joinU(uH, uL);
  if (UH !== UH0 || UL !== UL0) b.umax = joinU(UH, UL);
  if (sH !== sH0 || sL !== sL0) b.smin = joinS(sH, sL);
  if (SH !== SH0 || SL !== SL0) b.smax = joinS(SH, SL);
  if (bail) {
    b.smin = BigInt(b.s32min);
    b.smax = BigInt(b.s32max);
    b.umin = BigInt(b.s32min);
    b.umax = BigInt(b.s32max);
    b.varOff = tnumIntersect(b.varOff, tnumRange(b.smin, b.smax));
    for (let i = done + 1; i < rounds; i++) slowRound(b);
    return rounds;
  }
  return done;
}

/** Every bound a valid u64/s64/u32/s32 value (what the number path assumes). */
function inNumberDomain(b: ScalarBounds): boolean {
  return b.umin >= 0n && b.umax <= U64_MAX && b.umax >= 0n && b.umin <= U64_MAX &&
    b.smin >= S64_MIN && b.smin <= S64_MAX && b.smax >= S64_MIN && b.smax <= S64_MAX &&
    (b.u32min >>> 0) === b.u32min && (b.u32max >>> 0) === b.u32max &&
    (b.s32min | 0) === b.s32min && (b.s32max | 0) === b.s32max;
}

/** __reg_deduce_bounds (one round). */
export function deduceBounds(b: MutBounds): void {
  deduceRounds(b, 1);
}

/** __reg_bound_offset: learn tnum bits from the unsigned ranges. */
export function boundOffset(b: MutBounds): void {
  const t = b.varOff;
  if ((b.u32min >>> 0) !== b.u32min || (b.u32max >>> 0) !== b.u32max ||
      t.value < 0n || t.value > U64_MAX || t.mask < 0n || t.mask > U64_MAX) {
    const v64 = tnumIntersect(b.varOff, tnumRange(b.umin, b.umax));
    const v32 = tnumIntersect(tnumSubreg(v64), tnumRange(BigInt(b.u32min), BigInt(b.u32max)));
    b.varOff = tnumOr(tnumClearSubreg(v64), v32);
    return;
  }
  // On 32-bit halves: tnum_range of the u64 range, intersected with the tnum, then the low
  // half intersected with tnum_range of the u32 range.
  split(b.varOff.value); const vH = splitHi; const vL = splitLo;
  split(b.varOff.mask); const mH = splitHi; const mL = splitLo;
  split(b.umin); const aH = splitHi; const aL = splitLo;
  split(b.umax); const bH = splitHi; const bL = splitLo;
  const xH = (aH ^ bH) >>> 0;
  const xL = (aL ^ bL) >>> 0;
  const bits = xH !== 0 ? 64 - Math.clz32(xH) : xL !== 0 ? 32 - Math.clz32(xL) : 0;
  let rvH: number, rvL: number, rmH: number, rmL: number;
  if (bits > 63) {
    rvH = rvL = 0;
    rmH = rmL = 0xffff_ffff;
  } else {
    rmH = bits > 32 ? 2 ** (bits - 32) - 1 : 0;
    rmL = bits >= 32 ? 0xffff_ffff : 2 ** bits - 1;
    rvH = (aH & ~rmH) >>> 0;
    rvL = (aL & ~rmL) >>> 0;
  }
  // tnum_intersect: unknown where both are unknown, known bits or-ed together.
  const muH = (mH & rmH) >>> 0;
  const muL = (mL & rmL) >>> 0;
  const wH = ((vH | rvH) & ~muH) >>> 0;
  const wL = ((vL | rvL) & ~muL) >>> 0;
  const x32 = (b.u32min ^ b.u32max) >>> 0;
  const bits32 = x32 !== 0 ? 32 - Math.clz32(x32) : 0;
  const r32m = bits32 >= 32 ? 0xffff_ffff : 2 ** bits32 - 1;
  const r32v = (b.u32min & ~r32m) >>> 0;
  const mu32 = (muL & r32m) >>> 0;
  const w32 = ((wL | r32v) & ~mu32) >>> 0;
  // tnum_or of the high half and the low half (disjoint, so the masks just combine).
  const nvH = wH;
  const nvL = w32;
  const nmH = (muH & ~nvH) >>> 0;
  const nmL = (mu32 & ~nvL) >>> 0;
  if (nvH !== vH || nvL !== vL || nmH !== mH || nmL !== mL) b.varOff = { value: joinU(nvH, nvL), mask: joinU(nmH, nmL) };
}

/** reg_bounds_sync, in place. */
export function syncInPlace(b: MutBounds): void {
  updateFromTnum(b);
  deduceRounds(b, 3);
  boundOffset(b);
  updateFromTnum(b);
}

/** reg_bounds_sync: returns a new, consistent value. */
export function regBoundsSync(b: ScalarBounds): ScalarBounds {
  const m = copyBounds(b);
  syncInPlace(m);
  return m;
}

/** What reg_bounds_sanity_check rejects: empty ranges or a constant tnum out of step. */
export function boundsInvalid(b: ScalarBounds): string | undefined {
  if (b.umin > b.umax || b.smin > b.smax || b.u32min > b.u32max || b.s32min > b.s32max) {
    return 'range bounds violation';
  }
  if (tnumIsConst(b.varOff)) {
    const u = b.varOff.value;
    const s = toS64(u);
    if (b.umin !== u || b.umax !== u || b.smin !== s || b.smax !== s) {
      return 'const tnum out of sync with range bounds';
    }
  }
  if (tnumSubregIsConst(b.varOff)) {
    const u = lowU32(b.varOff.value);
    if (b.u32min !== u || b.u32max !== u || b.s32min !== (u | 0) || b.s32max !== (u | 0)) {
      return 'const subreg tnum out of sync with range bounds';
    }
  }
  return undefined;
}

const hx = (x: bigint): string => (x === 0n ? '0x0' : `0x${x.toString(16)}`);

/**
 * reg_bounds_sanity_check as 6.18.44 runs it after a branch refinement: an inconsistent
 * register gets its ranges reset (the tnum is kept) and the kernel logs a line, which is
 * returned here without its trailing newline. `ctx` is "true_reg1", "false_reg2", ...
 */
export function sanityCheck(b: ScalarBounds, ctx: string): { readonly fixed: ScalarBounds; readonly message?: string } {
  const msg = boundsInvalid(b);
  if (msg === undefined) return { fixed: b };
  const message = `verifier bug: REG INVARIANTS VIOLATION (${ctx}): ${msg} ` +
    `u64=[${hx(b.umin)}, ${hx(b.umax)}] s64=[${hx(toU64(b.smin))}, ${hx(toU64(b.smax))}] ` +
    `u32=[${hx(BigInt(b.u32min))}, ${hx(BigInt(b.u32max))}] ` +
    `s32=[${hx(BigInt(b.s32min >>> 0))}, ${hx(BigInt(b.s32max >>> 0))}] ` +
    `var_off=(${hx(b.varOff.value)}, ${hx(b.varOff.mask)})`;
  const fixed = copyBounds(b);
  markUnboundedInPlace(fixed);
  return { fixed, message };
}

/** __reg_assign_32_into_64: 64-bit bounds from the (zero-extended) 32-bit ones. */
export function assign32Into64(b: MutBounds): void {
  b.umin = BigInt(b.u32min);
  b.umax = BigInt(b.u32max);
  if (b.s32min >= 0 && b.s32max >= 0) {
    b.smin = BigInt(b.s32min);
    b.smax = BigInt(b.s32max);
  } else {
    b.smin = 0n;
    b.smax = BigInt(U32_MAX);
  }
}

/** zext_32_to_64: what every ALU32 result goes through. */
export function zext32To64InPlace(b: MutBounds): void {
  b.varOff = tnumSubreg(b.varOff);
  assign32Into64(b);
}

export function zext32To64(b: ScalarBounds): ScalarBounds {
  const m = copyBounds(b);
  zext32To64InPlace(m);
  return m;
}

/** coerce_reg_to_size: keep the low `size` (1, 2, 4) bytes, as a narrow load or zext does. */
export function coerceToSize(b: ScalarBounds, size: number): ScalarBounds {
  const m = copyBounds(b);
  m.varOff = tnumCast(m.varOff, size);
  const mask = (1n << BigInt(size * 8)) - 1n;
  if ((m.umin & ~mask) === (m.umax & ~mask)) {
    m.umin &= mask;
    m.umax &= mask;
  } else {
    m.umin = 0n;
    m.umax = mask;
  }
  m.smin = m.umin;
  m.smax = m.umax;
  if (size < 4) mark32UnboundedInPlace(m);
  syncInPlace(m);
  return m;
}

const sext = (x: bigint, bits: number): bigint => BigInt.asIntN(bits, x);

function sextDefault64(m: MutBounds, size: number): void {
  const bits = BigInt(size * 8 - 1);
  const lo = -(1n << bits);
  const hi = (1n << bits) - 1n;
  m.smin = lo;
  m.smax = hi;
  m.s32min = Number(lo);
  m.s32max = Number(hi);
  m.umin = 0n;
  m.umax = U64_MAX;
  m.u32min = 0;
  m.u32max = U32_MAX;
  m.varOff = TNUM_UNKNOWN;
}

/** coerce_reg_to_size_sx: sign-extend the low `size` (1, 2, 4) bytes to 64 bits. */
export function coerceToSizeSx(b: ScalarBounds, size: number): ScalarBounds {
  const m = copyBounds(b);
  const bits = size * 8;
  if (tnumIsConst(m.varOff)) {
    Object.assign(m, scalarConst(sext(m.varOff.value, bits)));
    return m;
  }
  const topMax = toU64(m.smax) >> BigInt(bits);
  const topMin = toU64(m.smin) >> BigInt(bits);
  if (topMax === topMin) {
    const a = sext(m.smax, bits);
    const c = sext(m.smin, bits);
    const hi = a > c ? a : c;
    const lo = a > c ? c : a;
    if ((hi >= 0n) === (lo >= 0n)) {
      m.smin = lo;
      m.smax = hi;
      m.s32min = Number(lo);
      m.s32max = Number(hi);
      m.umin = toU64(lo);
      m.umax = toU64(hi);
      m.u32min = lowU32(lo);
      m.u32max = lowU32(hi);
      m.varOff = tnumRange(lo, hi);
      return m;
    }
  }
  sextDefault64(m, size);
  return m;
}

/** coerce_subreg_to_size_sx: sign-extend the low `size` (1, 2) bytes into the 32-bit half. */
export function coerceSubregToSizeSx(b: ScalarBounds, size: number): ScalarBounds {
  const m = copyBounds(b);
  const bits = size * 8;
  if (tnumIsConst(m.varOff)) {
    const v = sext(m.varOff.value, bits);
    m.varOff = tnumConst(v);
    m.s32min = m.s32max = lowS32(toU64(v));
    m.u32min = m.u32max = lowU32(toU64(v));
    return m;
  }
  const topMax = (m.s32max >>> 0) >>> bits;
  const topMin = (m.s32min >>> 0) >>> bits;
  if (topMax === topMin) {
    const a = Number(sext(BigInt(m.s32max), bits));
    const c = Number(sext(BigInt(m.s32min), bits));
    const hi = Math.max(a, c);
    const lo = Math.min(a, c);
    if ((hi >= 0) === (lo >= 0)) {
      m.s32min = lo;
      m.s32max = hi;
      m.u32min = lo >>> 0;
      m.u32max = hi >>> 0;
      m.varOff = tnumSubreg(tnumRange(BigInt(lo >>> 0), BigInt(hi >>> 0)));
      return m;
    }
  }
  const half = 1 << (bits - 1);
  m.s32min = -half;
  m.s32max = half - 1;
  m.u32min = 0;
  m.u32max = U32_MAX;
  m.varOff = tnumSubreg(TNUM_UNKNOWN);
  return m;
}
