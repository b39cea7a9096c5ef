// The driver's view of the numeric core (engine/verifier/scalar/, written separately). Every
// use of scalar arithmetic in the driver goes through this module so the core can be swapped
// in without touching the driver.
//
// STUB until engine/verifier/scalar lands: exact for constants (folds every op on known
// values), otherwise returns the fully unknown scalar, or a size-bounded one where the kernel
// knows the width (loads, 32-bit results). Branch refinement only decides branches whose
// operands are both constant.

export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

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

const U64 = (1n << 64n) - 1n;
const S64_MIN = -(1n << 63n);
const S64_MAX = (1n << 63n) - 1n;
const S32_MIN = -0x80000000;
const S32_MAX = 0x7fffffff;
const U32_MAX = 0xffffffff;

export function scalarConst(v: bigint): ScalarBounds {
  const u = BigInt.asUintN(64, v);
  const s = BigInt.asIntN(64, v);
  const lo = Number(u & 0xffffffffn);
  return {
    varOff: { value: u, mask: 0n },
    smin: s, smax: s, umin: u, umax: u,
    s32min: lo | 0, s32max: lo | 0, u32min: lo, u32max: lo,
  };
}

const UNKNOWN: ScalarBounds = {
  varOff: { value: 0n, mask: U64 },
  smin: S64_MIN, smax: S64_MAX, umin: 0n, umax: U64,
  s32min: S32_MIN, s32max: S32_MAX, u32min: 0, u32max: U32_MAX,
};

export const scalarUnknown = (): ScalarBounds => UNKNOWN;

/** An unsigned value of `bytes` width (zero-extended load): [0, 2^(8*bytes)-1]. */
export function scalarOfSize(bytes: number): ScalarBounds {
  if (bytes >= 8) return UNKNOWN;
  const max = (1n << BigInt(bytes * 8)) - 1n;
  const m32 = bytes >= 4 ? U32_MAX : Number(max);
  return {
    varOff: { value: 0n, mask: max },
    smin: 0n, smax: max, umin: 0n, umax: max,
    s32min: bytes >= 4 ? S32_MIN : 0, s32max: bytes >= 4 ? S32_MAX : m32, u32min: 0, u32max: m32,
  };
}

export const isConst = (b: ScalarBounds): boolean => b.varOff.mask === 0n;
export const constValue = (b: ScalarBounds): bigint => b.varOff.value;
export const isUnknown = (b: ScalarBounds): boolean => b.varOff.mask === U64 && b.smin === S64_MIN && b.smax === S64_MAX && b.umin === 0n && b.umax === U64 && b.s32min === S32_MIN && b.s32max === S32_MAX && b.u32min === 0 && b.u32max === U32_MAX;
export const isZero = (b: ScalarBounds): boolean => isConst(b) && b.varOff.value === 0n;

/** Does `b`'s value range contain `v` (as u64)? Used by null checks and ranges. */
export const mayBe = (b: ScalarBounds, v: bigint): boolean => isConst(b) ? b.varOff.value === BigInt.asUintN(64, v) : b.umin <= BigInt.asUintN(64, v) && BigInt.asUintN(64, v) <= b.umax;

export function boundsEqual(a: ScalarBounds, b: ScalarBounds): boolean {
  return a === b || (a.varOff.value === b.varOff.value && a.varOff.mask === b.varOff.mask && a.smin === b.smin && a.smax === b.smax && a.umin === b.umin && a.umax === b.umax && a.s32min === b.s32min && a.s32max === b.s32max && a.u32min === b.u32min && a.u32max === b.u32max);
}

/** Is `cur` contained in `old` (range_within plus tnum_in)? */
export function boundsWithin(old: ScalarBounds, cur: ScalarBounds): boolean {
  return old.smin <= cur.smin && cur.smax <= old.smax && old.umin <= cur.umin && cur.umax <= old.umax &&
    old.s32min <= cur.s32min && cur.s32max <= old.s32max && old.u32min <= cur.u32min && cur.u32max <= old.u32max &&
    (cur.varOff.mask & ~old.varOff.mask) === 0n && ((cur.varOff.value & ~old.varOff.mask) === old.varOff.value);
}

// ALU op numbers as in opcodes.ts (BPF_ADD ...).
function fold(op: number, is64: boolean, a: bigint, b: bigint, off: number): bigint | undefined {
  const w = is64 ? 64 : 32;
  const ua = BigInt.asUintN(w, a);
  const ub = BigInt.asUintN(w, b);
  const sa = BigInt.asIntN(w, a);
  const sb = BigInt.asIntN(w, b);
  const shMask = BigInt(w - 1);
  let r: bigint;
  switch (op) {
    case 0x00: r = ua + ub; break;
    case 0x10: r = ua - ub; break;
    case 0x20: r = ua * ub; break;
    case 0x30: r = ub === 0n ? 0n : off === 1 ? (sb === -1n ? -sa : sa / sb) : ua / ub; break;
    case 0x40: r = ua | ub; break;
    case 0x50: r = ua & ub; break;
    case 0x60: r = ua << (ub & shMask); break;
    case 0x70: r = ua >> (ub & shMask); break;
    case 0x80: r = -ua; break;
    case 0x90: r = ub === 0n ? ua : off === 1 ? (sb === -1n ? 0n : sa % sb) : ua % ub; break;
    case 0xa0: r = ua ^ ub; break;
    case 0xb0:
      if (off === 8 || off === 16 || off === 32) r = BigInt.asIntN(off, ub);
      else r = ub;
      break;
    case 0xc0: r = sa >> (ub & shMask); break;
    default: return undefined;
  }
  return is64 ? BigInt.asUintN(64, r) : BigInt.asUintN(32, r);
}

/** dst <op>= src. STUB: exact on constants, else unknown (32-bit results zero-extended). */
export function scalarAlu(op: number, is64: boolean, dst: ScalarBounds, src: ScalarBounds, insnOff: number): ScalarBounds {
  if (isConst(src) && (isConst(dst) || op === 0xb0)) {
    const v = fold(op, is64, dst.varOff.value, src.varOff.value, insnOff);
    if (v !== undefined) return scalarConst(v);
  }
  return is64 ? UNKNOWN : scalarOfSize(4);
}

/** 1 taken, 0 not taken, -1 unknown. STUB: decides only constant operands. */
export function isBranchTaken(op: number, is32: boolean, dst: ScalarBounds, src: ScalarBounds): 1 | 0 | -1 {
  if (!isConst(dst) || !isConst(src)) return -1;
  const w = is32 ? 32 : 64;
  const ua = BigInt.asUintN(w, dst.varOff.value);
  const ub = BigInt.asUintN(w, src.varOff.value);
  const sa = BigInt.asIntN(w, ua);
  const sb = BigInt.asIntN(w, ub);
  let t: boolean;
  switch (op) {
    case 0x10: t = ua === ub; break;
    case 0x50: t = ua !== ub; break;
    case 0x20: t = ua > ub; break;
    case 0x30: t = ua >= ub; break;
    case 0xa0: t = ua < ub; break;
    case 0xb0: t = ua <= ub; break;
    case 0x60: t = sa > sb; break;
    case 0x70: t = sa >= sb; break;
    case 0xc0: t = sa < sb; break;
    case 0xd0: t = sa <= sb; break;
    case 0x40: t = (ua & ub) !== 0n; break;
    default: return -1;
  }
  return t ? 1 : 0;
}

/** Refine both operands for one outcome. STUB: equality with a constant makes dst that
 *  constant; everything else is left as is. */
export function refineBranch(op: number, is32: boolean, dst: ScalarBounds, src: ScalarBounds, taken: boolean): { dst: ScalarBounds; src: ScalarBounds } | undefined {
  const eq = (op === 0x10 && taken) || (op === 0x50 && !taken);
  if (eq && !is32 && isConst(src)) return { dst: src, src };
  return { dst, src };
}

const isUnumDecimal = (v: bigint): boolean => v <= 0xffffn;
const isSnumDecimal = (v: bigint): boolean => v >= -0x8000n && v <= 0x7fffn;

export const fmtUnum = (v: bigint): string => (isUnumDecimal(v) ? v.toString() : `0x${v.toString(16)}`);
export const fmtSnum = (v: bigint): string => (isSnumDecimal(v) ? v.toString() : `0x${BigInt.asUintN(64, v).toString(16)}`);

export function fmtTnum(t: Tnum): string {
  if (t.mask === 0n) return fmtUnum(t.value);
  return `(${hex(t.value)}; ${hex(t.mask)})`;
}
const hex = (v: bigint): string => (v === 0n ? '0' : `0x${v.toString(16)}`);

/** The `smin=...,umax=...` list of a non-constant value (entries joined by ','). */
export function scalarRangeParts(b: ScalarBounds): string[] {
  const s32 = (v: number): bigint => (isSnumDecimal(BigInt(v)) ? BigInt(v) : BigInt(v >>> 0));
  const m = [
    { name: 'smin', val: BigInt.asUintN(64, b.smin), omit: b.smin === S64_MIN },
    { name: 'smax', val: BigInt.asUintN(64, b.smax), omit: b.smax === S64_MAX },
    { name: 'umin', val: b.umin, omit: b.umin === 0n },
    { name: 'umax', val: b.umax, omit: b.umax === U64 },
    { name: 'smin32', val: BigInt.asUintN(64, s32(b.s32min)), omit: b.s32min === S32_MIN },
    { name: 'smax32', val: BigInt.asUintN(64, s32(b.s32max)), omit: b.s32max === S32_MAX },
    { name: 'umin32', val: BigInt(b.u32min), omit: b.u32min === 0 },
    { name: 'umax32', val: BigInt(b.u32max), omit: b.u32max === U32_MAX },
  ];
  const out: string[] = [];
  for (let i = 0; i < m.length; i++) {
    const m1 = m[i];
    if (m1.omit) continue;
    const neg1 = m1.name[0] === 's' && BigInt.asIntN(64, m1.val) < 0n;
    let text = `${m1.name}=`;
    for (let j = i + 2; j < m.length; j += 2) {
      const m2 = m[j];
      if (m2.omit || m2.val !== m1.val) continue;
      const neg2 = m2.name[0] === 's' && BigInt.asIntN(64, m2.val) < 0n;
      if (neg2 !== neg1) continue;
      m2.omit = true;
      text += `${m2.name}=`;
    }
    text += m1.name[0] === 's' ? fmtSnum(BigInt.asIntN(64, m1.val)) : fmtUnum(m1.val);
    out.push(text);
  }
  return out;
}

/** The kernel's text for a scalar value. */
export function formatScalar(b: ScalarBounds): string {
  if (isConst(b)) return fmtSnum(BigInt.asIntN(64, b.varOff.value));
  const parts = scalarRangeParts(b);
  if (b.varOff.mask !== U64) parts.push(`var_off=${fmtTnum(b.varOff)}`);
  return `scalar(${parts.join(',')})`;
}
