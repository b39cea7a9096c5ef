// Tracked numbers: a 64-bit value where every bit is known-0, known-1 or unknown.
// `mask` has a 1 for each unknown bit; `value` holds the known bits (and 0 where unknown).
// All arithmetic is modulo 2^64, like the kernel's u64 (6.18 kernel/bpf/tnum.c semantics).

export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

export const U64_MAX = 0xffff_ffff_ffff_ffffn;
export const U32_MAX_N = 0xffff_ffffn;

const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);

const mk = (value: bigint, mask: bigint): Tnum => ({ value, mask });

export const TNUM_UNKNOWN: Tnum = mk(0n, U64_MAX);
export const TNUM_ZERO: Tnum = mk(0n, 0n);

export const tnumUnknown = (): Tnum => TNUM_UNKNOWN;

/** A fully known value (any sign; taken modulo 2^64). */
export const tnumConst = (v: bigint): Tnum => mk(u64(v), 0n);

/** Index of the highest set bit, counting from 1 (0 for x == 0), like fls64. */
export function fls64(x: bigint): number {
  if (x === 0n) return 0;
  // Two 32-bit halves and clz32 instead of a string: this runs in every tnumRange.
  if (x > 0n && x <= U64_MAX) {
    const hi = Number(x >> 32n);
    return hi !== 0 ? 64 - Math.clz32(hi) : 32 - Math.clz32(Number(x));
  }
  return x.toString(2).length;
}

/** The smallest tnum covering every value in [min, max] (unsigned). */
export function tnumRange(min: bigint, max: bigint): Tnum {
  const bits = fls64(u64(min) ^ u64(max));
  if (bits > 63) return TNUM_UNKNOWN;
  const delta = (1n << BigInt(bits)) - 1n;
  return mk(u64(min) & ~delta, delta);
}

export const tnumLshift = (a: Tnum, shift: number): Tnum =>
  mk(u64(a.value << BigInt(shift)), u64(a.mask << BigInt(shift)));

export const tnumRshift = (a: Tnum, shift: number): Tnum =>
  mk(a.value >> BigInt(shift), a.mask >> BigInt(shift));

/** Arithmetic right shift of the low `bitness` (32 or 64) bits; 32-bit results are zero-extended. */
export function tnumArshift(a: Tnum, minShift: number, bitness: 32 | 64): Tnum {
  const s = BigInt(minShift);
  if (bitness === 32) {
    return mk(
      BigInt.asUintN(32, BigInt.asIntN(32, a.value) >> s),
      BigInt.asUintN(32, BigInt.asIntN(32, a.mask) >> s),
    );
  }
  return mk(u64(s64(a.value) >> s), u64(s64(a.mask) >> s));
}

export function tnumAdd(a: Tnum, b: Tnum): Tnum {
  const sm = a.mask + b.mask;
  const sv = a.value + b.value;
  // Carries that differ between "all unknown bits 0" and "all 1" mark unknown bits.
  const chi = u64(sm + sv) ^ u64(sv);
  const mu = chi | a.mask | b.mask;
  return mk(u64(sv) & ~mu, mu);
}

export function tnumSub(a: Tnum, b: Tnum): Tnum {
  const dv = u64(a.value - b.value);
  const hi = u64(dv + a.mask);
  const lo = u64(dv - b.mask);
  const mu = (hi ^ lo) | a.mask | b.mask;
  return mk(dv & ~mu, mu);
}

/** 6.18: negation is tracked as 0 - a. */
export const tnumNeg = (a: Tnum): Tnum => tnumSub(TNUM_ZERO, a);

export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const v = a.value & b.value;
  return mk(v, (a.value | a.mask) & (b.value | b.mask) & ~v);
}

export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  return mk(v, (a.mask | b.mask) & ~v);
}

export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const mu = a.mask | b.mask;
  return mk((a.value ^ b.value) & ~mu, mu);
}

/** Every value of either tnum (bits where they disagree become unknown). */
export function tnumUnion(a: Tnum, b: Tnum): Tnum {
  const mu = (a.value ^ b.value) | a.mask | b.mask;
  return mk(a.value & b.value & ~mu, mu);
}

/**
 * Long multiplication over the bits of `a` (6.18): a known-1 bit adds the shifted `b`; an
 * unknown bit keeps both possibilities, the sum with and without that partial product.
 */
export function tnumMul(a: Tnum, b: Tnum): Tnum {
  let acc: Tnum = TNUM_ZERO;
  let av = a.value;
  let am = a.mask;
  let bb = b;
  while (av !== 0n || am !== 0n) {
    if (av & 1n) acc = tnumAdd(acc, bb);
    else if (am & 1n) acc = tnumUnion(acc, tnumAdd(acc, bb));
    av >>= 1n;
    am >>= 1n;
    bb = tnumLshift(bb, 1);
  }
  return acc;
}

/** True when some value is possible under both tnums (known bits agree). */
export function tnumOverlap(a: Tnum, b: Tnum): boolean {
  const known = ~a.mask & ~b.mask;
  return (a.value & known) === (b.value & known);
}

/** Values allowed by both; where known bits disagree the result says 1 (the kernel's choice). */
export function tnumIntersect(a: Tnum, b: Tnum): Tnum {
  const mu = a.mask & b.mask;
  return mk((a.value | b.value) & ~mu, mu);
}

/** Keep the low `size` bytes. */
export function tnumCast(a: Tnum, size: number): Tnum {
  const m = size >= 8 ? U64_MAX : (1n << BigInt(size * 8)) - 1n;
  return mk(a.value & m, a.mask & m);
}

export const tnumIsConst = (a: Tnum): boolean => a.mask === 0n;
export const tnumEqualsConst = (a: Tnum, v: bigint): boolean => a.mask === 0n && a.value === u64(v);
export const tnumIsUnknown = (a: Tnum): boolean => a.mask === U64_MAX;

export function tnumIsAligned(a: Tnum, size: bigint): boolean {
  if (size === 0n) return true;
  return ((a.value | a.mask) & (size - 1n)) === 0n;
}

/** True when every value of `b` is a value of `a`. */
export function tnumIn(a: Tnum, b: Tnum): boolean {
  if (b.mask & ~a.mask) return false;
  return a.value === (b.value & ~a.mask);
}

export const tnumSubreg = (a: Tnum): Tnum => mk(a.value & U32_MAX_N, a.mask & U32_MAX_N);

export const tnumClearSubreg = (a: Tnum): Tnum => mk(a.value & ~U32_MAX_N & U64_MAX, a.mask & ~U32_MAX_N & U64_MAX);

/** Upper 32 bits from `reg`, lower 32 bits from `subreg`. */
export const tnumWithSubreg = (reg: Tnum, subreg: Tnum): Tnum =>
  tnumOr(tnumClearSubreg(reg), tnumSubreg(subreg));

export const tnumConstSubreg = (a: Tnum, value: number | bigint): Tnum =>
  tnumWithSubreg(a, tnumConst(BigInt.asUintN(32, BigInt(value))));

export const tnumSubregIsConst = (a: Tnum): boolean => (a.mask & U32_MAX_N) === 0n;

/** Smallest member of `t` that is >= y, or undefined when every member is below y. */
function minMemberAtLeast(t: Tnum, y: bigint): bigint | undefined {
  if (y <= t.value) return t.value;
  // Highest bit where y disagrees with a known bit of t.
  const conflict = ((y ^ t.value) & ~t.mask) & U64_MAX;
  if (conflict === 0n) return y;
  const c = BigInt(fls64(conflict) - 1);
  const below = (1n << c) - 1n;
  if (((y >> c) & 1n) === 0n) {
    // t forces a 1 where y has 0: keep y's prefix, set the bit, minimal below.
    return (y & ~((1n << (c + 1n)) - 1n)) | (1n << c) | (t.value & below);
  }
  // t forces a 0 where y has 1: carry into the lowest free 0-bit of y above c.
  const free = t.mask & ~y & ~((1n << (c + 1n)) - 1n) & U64_MAX;
  if (free === 0n) return undefined;
  const low = free & -free; // lowest set bit
  const lowBelow = low - 1n;
  return (y & ~(low | lowBelow) & U64_MAX) | low | (t.value & lowBelow);
}

/**
 * The smallest member of `t` above z (6.18 stable, tnum_step): t.value when z is below
 * every member, the largest member when z is at or above it.
 */
export function tnumStep(t: Tnum, z: bigint): bigint {
  const tmax = t.value | t.mask;
  if (z >= tmax) return tmax;
  if (z < t.value) return t.value;
  return minMemberAtLeast(t, z + 1n) ?? tmax;
}

function bswapBits(x: bigint, bytes: number): bigint {
  let out = 0n;
  for (let i = 0; i < bytes; i++) out = (out << 8n) | ((x >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** Byte swap of the low 2/4/8 bytes; the result is zero-extended (6.18 tracks BPF_END). */
export const tnumBswap = (a: Tnum, bytes: 2 | 4 | 8): Tnum =>
  mk(bswapBits(a.value, bytes), bswapBits(a.mask, bytes));

/** `(0x..; 0x..)` as the log prints a non-constant tnum; constants print as a number. */
export function tnumStrn(a: Tnum): string {
  if (a.mask === 0n) return a.value <= 0xffffn ? a.value.toString() : `0x${a.value.toString(16)}`;
  return `(${hex(a.value)}; ${hex(a.mask)})`;
}

/** `%#llx`: 0 prints as "0", everything else with a 0x prefix. */
export const hex = (x: bigint): string => (x === 0n ? '0x0' : `0x${x.toString(16)}`);
