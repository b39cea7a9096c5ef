// What an ALU instruction does to a scalar's range knowledge (6.18
// adjust_scalar_min_max_vals and the per-op range rules, plus MOV/MOVSX/NEG/END).
// Pointer arithmetic, ids and precision are the driver's business.

import {
  BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD,
  BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END,
} from '../../isa/opcodes.ts';
import {
  tnumAdd, tnumSub, tnumMul, tnumAnd, tnumOr, tnumXor, tnumNeg,
  tnumLshift, tnumRshift, tnumArshift, tnumSubreg, tnumIsConst, tnumSubregIsConst,
  tnumBswap,
} from './tnum.ts';
import {
  type ScalarBounds, type MutBounds,
  S64_MIN, S64_MAX, S32_MIN, S32_MAX, U32_MAX, U64_MAX,
  toU64, toS64, lowU32,
  copyBounds, scalarConst, scalarUnknown,
  markKnownInPlace, mark32KnownInPlace, mark64UnboundedInPlace, mark32UnboundedInPlace,
  markUnboundedInPlace, updateFromTnum, update32FromTnum, syncInPlace, zext32To64InPlace,
  coerceToSize, coerceToSizeSx, coerceSubregToSizeSx,
} from './bounds.ts';

const TWO32 = 0x1_0000_0000;
const inS32 = (x: number): boolean => x >= S32_MIN && x <= S32_MAX;
const inS64 = (x: bigint): boolean => x >= S64_MIN && x <= S64_MAX;

/** The src operand of a BPF_K instruction: imm sign-extended to 64 bits. */
export const scalarImm = (imm: number): ScalarBounds => scalarConst(BigInt(imm | 0));

// ---------------------------------------------------------------- add / sub / mul

function add32(d: MutBounds, s: ScalarBounds): void {
  const smin = d.s32min + s.s32min;
  const smax = d.s32max + s.s32max;
  if (inS32(smin) && inS32(smax)) {
    d.s32min = smin;
    d.s32max = smax;
  } else {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  }
  const umin = d.u32min + s.u32min;
  const umax = d.u32max + s.u32max;
  // 6.18: when both ends wrap the range is still contiguous; only a split range is lost.
  if (umin <= U32_MAX && umax > U32_MAX) {
    d.u32min = 0;
    d.u32max = U32_MAX;
  } else {
    d.u32min = umin % TWO32;
    d.u32max = umax % TWO32;
  }
}

function add64(d: MutBounds, s: ScalarBounds): void {
  const smin = d.smin + s.smin;
  const smax = d.smax + s.smax;
  if (inS64(smin) && inS64(smax)) {
    d.smin = smin;
    d.smax = smax;
  } else {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  }
  const umin = d.umin + s.umin;
  const umax = d.umax + s.umax;
  if (umin <= U64_MAX && umax > U64_MAX) {
    d.umin = 0n;
    d.umax = U64_MAX;
  } else {
    d.umin = toU64(umin);
    d.umax = toU64(umax);
  }
}

function sub32(d: MutBounds, s: ScalarBounds): void {
  const smin = d.s32min - s.s32max;
  const smax = d.s32max - s.s32min;
  if (inS32(smin) && inS32(smax)) {
    d.s32min = smin;
    d.s32max = smax;
  } else {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  }
  const umin = d.u32min - s.u32max;
  const umax = d.u32max - s.u32min;
  // 6.18: both ends underflowing keeps a contiguous (wrapped) range.
  if (umin < 0 && umax >= 0) {
    d.u32min = 0;
    d.u32max = U32_MAX;
  } else {
    d.u32min = (umin + TWO32) % TWO32;
    d.u32max = (umax + TWO32) % TWO32;
  }
}

function sub64(d: MutBounds, s: ScalarBounds): void {
  const smin = d.smin - s.smax;
  const smax = d.smax - s.smin;
  if (inS64(smin) && inS64(smax)) {
    d.smin = smin;
    d.smax = smax;
  } else {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  }
  const umin = d.umin - s.umax;
  const umax = d.umax - s.umin;
  if (umin < 0n && umax >= 0n) {
    d.umin = 0n;
    d.umax = U64_MAX;
  } else {
    d.umin = toU64(umin);
    d.umax = toU64(umax);
  }
}

// Products of two 32-bit numbers can exceed 2^53, so do them in bigint.
function mul32(d: MutBounds, s: ScalarBounds): void {
  const umin = BigInt(d.u32min) * BigInt(s.u32min);
  const umax = BigInt(d.u32max) * BigInt(s.u32max);
  if (umin > 0xffff_ffffn || umax > 0xffff_ffffn) {
    d.u32min = 0;
    d.u32max = U32_MAX;
  } else {
    d.u32min = Number(umin);
    d.u32max = Number(umax);
  }
  // 6.18: signed bounds from the four corner products when none overflows.
  const a = BigInt(d.s32min);
  const b = BigInt(d.s32max);
  const c = BigInt(s.s32min);
  const e = BigInt(s.s32max);
  const p = [a * c, a * e, b * c, b * e];
  if (p.every((x) => x >= -0x8000_0000n && x <= 0x7fff_ffffn)) {
    d.s32min = Number(p.reduce((x, y) => (x < y ? x : y)));
    d.s32max = Number(p.reduce((x, y) => (x > y ? x : y)));
  } else {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  }
}

function mul64(d: MutBounds, s: ScalarBounds): void {
  const umin = d.umin * s.umin;
  const umax = d.umax * s.umax;
  if (umin > U64_MAX || umax > U64_MAX) {
    d.umin = 0n;
    d.umax = U64_MAX;
  } else {
    d.umin = umin;
    d.umax = umax;
  }
  const p = [d.smin * s.smin, d.smin * s.smax, d.smax * s.smin, d.smax * s.smax];
  if (p.every(inS64)) {
    d.smin = p.reduce((x, y) => (x < y ? x : y));
    d.smax = p.reduce((x, y) => (x > y ? x : y));
  } else {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  }
}

// ---------------------------------------------------------------- bitwise

/** Signed bounds copied from unsigned ones when those stay on one side of the sign bit. */
function s32FromU32(d: MutBounds): void {
  if ((d.u32min | 0) <= (d.u32max | 0)) {
    d.s32min = d.u32min | 0;
    d.s32max = d.u32max | 0;
  } else {
    d.s32min = S32_MIN;
    d.s32max = S32_MAX;
  }
}

function s64FromU64(d: MutBounds): void {
  if (toS64(d.umin) <= toS64(d.umax)) {
    d.smin = toS64(d.umin);
    d.smax = toS64(d.umax);
  } else {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  }
}

// The bitwise rules run after d.varOff already holds the op's result tnum.

function and32(d: MutBounds, s: ScalarBounds): void {
  const t = tnumSubreg(d.varOff);
  if (tnumSubregIsConst(s.varOff) && tnumSubregIsConst(d.varOff)) {
    mark32KnownInPlace(d, t.value);
    return;
  }
  d.u32min = lowU32(t.value);
  d.u32max = Math.min(d.u32max, s.u32max);
  s32FromU32(d);
}

function and64(d: MutBounds, s: ScalarBounds): void {
  if (tnumIsConst(s.varOff) && tnumIsConst(d.varOff)) {
    markKnownInPlace(d, d.varOff.value);
    return;
  }
  d.umin = d.varOff.value;
  d.umax = d.umax < s.umax ? d.umax : s.umax;
  s64FromU64(d);
  updateFromTnum(d);
}

function or32(d: MutBounds, s: ScalarBounds): void {
  const t = tnumSubreg(d.varOff);
  if (tnumSubregIsConst(s.varOff) && tnumSubregIsConst(d.varOff)) {
    mark32KnownInPlace(d, t.value);
    return;
  }
  d.u32min = Math.max(d.u32min, s.u32min);
  d.u32max = lowU32(t.value | t.mask);
  s32FromU32(d);
}

function or64(d: MutBounds, s: ScalarBounds): void {
  if (tnumIsConst(s.varOff) && tnumIsConst(d.varOff)) {
    markKnownInPlace(d, d.varOff.value);
    return;
  }
  d.umin = d.umin > s.umin ? d.umin : s.umin;
  d.umax = d.varOff.value | d.varOff.mask;
  s64FromU64(d);
  updateFromTnum(d);
}

function xor32(d: MutBounds, s: ScalarBounds): void {
  const t = tnumSubreg(d.varOff);
  if (tnumSubregIsConst(s.varOff) && tnumSubregIsConst(d.varOff)) {
    mark32KnownInPlace(d, t.value);
    return;
  }
  d.u32min = lowU32(t.value);
  d.u32max = lowU32(t.value | t.mask);
  s32FromU32(d);
}

function xor64(d: MutBounds, s: ScalarBounds): void {
  if (tnumIsConst(s.varOff) && tnumIsConst(d.varOff)) {
    markKnownInPlace(d, d.varOff.value);
    return;
  }
  d.umin = d.varOff.value;
  d.umax = d.varOff.value | d.varOff.mask;
  s64FromU64(d);
  updateFromTnum(d);
}

// ---------------------------------------------------------------- shifts (src is constant)

function lsh32Bounds(d: MutBounds, umin: bigint, umax: bigint): void {
  d.s32min = S32_MIN;
  d.s32max = S32_MAX;
  if (umax > 31n || BigInt(d.u32max) > 1n << (31n - umax)) {
    d.u32min = 0;
    d.u32max = U32_MAX;
  } else {
    d.u32min = lowU32(BigInt(d.u32min) << umin);
    d.u32max = lowU32(BigInt(d.u32max) << umax);
  }
}

function lsh32(d: MutBounds, s: ScalarBounds): void {
  const sub = tnumSubreg(d.varOff);
  lsh32Bounds(d, BigInt(s.u32min), BigInt(s.u32max));
  d.varOff = tnumSubreg(tnumLshift(sub, s.u32min));
  mark64UnboundedInPlace(d);
  update32FromTnum(d);
}

function lsh64(d: MutBounds, s: ScalarBounds): void {
  const umin = s.umin;
  const umax = s.umax;
  // <<32 keeps the s32 bounds' sign: the usual first half of a 32->64 sign extension.
  if (umin === 32n && umax === 32n) {
    d.smax = BigInt(d.s32max) << 32n;
    d.smin = BigInt(d.s32min) << 32n;
  } else {
    d.smax = S64_MAX;
    d.smin = S64_MIN;
  }
  if (d.umax > 1n << (63n - umax)) {
    d.umin = 0n;
    d.umax = U64_MAX;
  } else {
    d.umin = toU64(d.umin << umin);
    d.umax = toU64(d.umax << umax);
  }
  lsh32Bounds(d, umin, umax);
  d.varOff = tnumLshift(d.varOff, Number(umin));
  updateFromTnum(d);
}

function rsh32(d: MutBounds, s: ScalarBounds): void {
  const sub = tnumSubreg(d.varOff);
  d.s32min = S32_MIN;
  d.s32max = S32_MAX;
  d.varOff = tnumRshift(sub, s.u32min);
  d.u32min = d.u32min >>> s.u32max;
  d.u32max = d.u32max >>> s.u32min;
  mark64UnboundedInPlace(d);
  update32FromTnum(d);
}

function rsh64(d: MutBounds, s: ScalarBounds): void {
  d.smin = S64_MIN;
  d.smax = S64_MAX;
  d.varOff = tnumRshift(d.varOff, Number(s.umin));
  d.umin >>= s.umax;
  d.umax >>= s.umin;
  mark32UnboundedInPlace(d);
  updateFromTnum(d);
}

function arsh32(d: MutBounds, s: ScalarBounds): void {
  const sh = s.u32min;
  d.s32min = d.s32min >> sh;
  d.s32max = d.s32max >> sh;
  d.varOff = tnumArshift(tnumSubreg(d.varOff), sh, 32);
  d.u32min = 0;
  d.u32max = U32_MAX;
  mark64UnboundedInPlace(d);
  update32FromTnum(d);
}

function arsh64(d: MutBounds, s: ScalarBounds): void {
  const sh = s.umin;
  d.smin >>= sh;
  d.smax >>= sh;
  d.varOff = tnumArshift(d.varOff, Number(sh), 64);
  d.umin = 0n;
  d.umax = U64_MAX;
  mark32UnboundedInPlace(d);
  updateFromTnum(d);
}

// ---------------------------------------------------------------- constants

/**
 * A constant whose eight bounds all agree with its tnum (what sync leaves for a known
 * value). For two of these every rule above is exact and sync collapses the result to the
 * constant, so the value can be computed directly.
 */
function isExactConst(b: ScalarBounds): boolean {
  const t = b.varOff;
  if (t.mask !== 0n) return false;
  const v = t.value;
  if (b.umin !== v || b.umax !== v || b.smin !== b.smax || b.u32min !== b.u32max || b.s32min !== b.s32max) return false;
  // Small non-negative values (the usual case) need no bigint arithmetic.
  if (v <= 0x7fff_ffffn) return b.smin === v && b.u32min === Number(v) && b.s32min === b.u32min;
  return b.smin === toS64(v) && b.u32min === lowU32(v) && b.s32min === (b.u32min | 0);
}

const M32 = 0xffff_ffffn;

/** The concrete result of `a op b` (u64 patterns; 32-bit ops zero-extended), or undefined
 *  for ops left to the general path. Shift amounts were checked by isSafeToComputeRange. */
function constOp(op: number, is64: boolean, a: bigint, b: bigint): bigint | undefined {
  if (is64) {
    switch (op) {
      case BPF_ADD: return toU64(a + b);
      case BPF_SUB: return toU64(a - b);
      case BPF_MUL: return toU64(a * b);
      case BPF_AND: return a & b;
      case BPF_OR: return a | b;
      case BPF_XOR: return a ^ b;
      case BPF_NEG: return toU64(-a);
      case BPF_LSH: return toU64(a << b);
      case BPF_RSH: return a >> b;
      case BPF_ARSH: return toU64(toS64(a) >> b);
      default: return undefined;
    }
  }
  const x = a & M32;
  const y = b & M32;
  switch (op) {
    case BPF_ADD: return (x + y) & M32;
    case BPF_SUB: return (x - y) & M32;
    case BPF_MUL: return (x * y) & M32;
    case BPF_AND: return x & y;
    case BPF_OR: return x | y;
    case BPF_XOR: return x ^ y;
    case BPF_NEG: return -x & M32;
    case BPF_LSH: return (x << y) & M32;
    case BPF_RSH: return x >> y;
    case BPF_ARSH: return BigInt.asIntN(32, x) >> y & M32;
    default: return undefined;
  }
}

// ---------------------------------------------------------------- driver-facing

/**
 * is_safe_to_compute_dst_reg_range: may the kernel track `dst op= src` at all? When not,
 * dst simply becomes unknown (div/mod, shifts by a non-constant or too-large amount).
 */
export function isSafeToComputeRange(op: number, is64: boolean, src: ScalarBounds): boolean {
  switch (op) {
    case BPF_ADD:
    case BPF_SUB:
    case BPF_AND:
    case BPF_XOR:
    case BPF_OR:
    case BPF_MUL:
    case BPF_NEG:
    case BPF_END:
      return true;
    case BPF_LSH:
    case BPF_RSH:
    case BPF_ARSH: {
      const srcConst = is64
        ? tnumIsConst(src.varOff) && src.smin === src.smax && src.umin === src.umax
        : tnumSubregIsConst(src.varOff) && src.s32min === src.s32max && src.u32min === src.u32max;
      return srcConst && src.umax < (is64 ? 64n : 32n);
    }
    default:
      return false;
  }
}

/**
 * maybe_fork_scalars: `dst &= K` / `dst |= K` with dst in [-1, 0] makes the kernel split
 * the path: it pushes a state with dst = 0 that re-runs this instruction and continues
 * with dst = -1. Returns both dst values (before the op) or undefined when no fork.
 * (6.18 stable; the width is chosen by which of the 64/32-bit ranges is [-1, 0].)
 */
export function maybeForkScalars(
  op: number,
  dst: ScalarBounds,
  src: ScalarBounds,
): { readonly cont: ScalarBounds; readonly pushed: ScalarBounds } | undefined {
  if ((op !== BPF_AND && op !== BPF_OR) || !tnumIsConst(src.varOff)) return undefined;
  let alu32: boolean;
  if (dst.smin === -1n && dst.smax === 0n) alu32 = false;
  else if (dst.s32min === -1 && dst.s32max === 0) alu32 = true;
  else return undefined;
  const cont = copyBounds(dst);
  const pushed = copyBounds(dst);
  if (alu32) {
    mark32KnownInPlace(pushed, 0n);
    mark32KnownInPlace(cont, 0xffff_ffffn);
  } else {
    markKnownInPlace(pushed, 0n);
    markKnownInPlace(cont, U64_MAX);
  }
  return { cont, pushed };
}

/**
 * The byte-order ops (6.18): ALU64 bswap and, on this little-endian host, ALU|TO_BE swap
 * bytes, so the ranges restart from the swapped tnum; 16/32-bit forms then truncate like
 * a narrow load. ALU|TO_LE only truncates (le64 does nothing). No zero-extension step.
 */
function endian(d: MutBounds, is64: boolean, toBe: boolean, imm: number): void {
  const bytes = (imm >> 3) as 2 | 4 | 8;
  if (is64 || toBe) {
    d.varOff = tnumBswap(d.varOff, bytes);
    markUnboundedInPlace(d);
  }
  if (bytes !== 8) Object.assign(d, coerceToSize(d, bytes));
}

/**
 * dst <op>= src for scalar dst and src (class ALU when !is64, ALU64 when is64).
 * `insnOff` is the instruction's off field: 1 selects sdiv/smod, 8/16/32 selects movsx.
 * For BPF_END pass the instruction's imm (16/32/64) in `endImm` and its source bit in
 * `endToBe`. Ops the kernel cannot track yield scalarUnknown() (no zero-extension).
 */
export function scalarAlu(
  op: number,
  is64: boolean,
  dst: ScalarBounds,
  src: ScalarBounds,
  insnOff = 0,
  endImm = 64,
  endToBe = false,
): ScalarBounds {
  if (op === BPF_MOV) return scalarMov(is64, src, insnOff);
  if (!isSafeToComputeRange(op, is64, src)) return scalarUnknown();
  if (isExactConst(dst) && (op === BPF_NEG || isExactConst(src))) {
    const v = constOp(op, is64, dst.varOff.value, src.varOff.value);
    if (v !== undefined) return scalarConst(v);
  }

  const d = copyBounds(dst);
  switch (op) {
    case BPF_ADD:
      add32(d, src);
      add64(d, src);
      d.varOff = tnumAdd(d.varOff, src.varOff);
      break;
    case BPF_SUB:
      sub32(d, src);
      sub64(d, src);
      d.varOff = tnumSub(d.varOff, src.varOff);
      break;
    case BPF_NEG: {
      // 6.18: tracked as 0 - dst.
      const old = dst;
      markKnownInPlace(d, 0n);
      sub32(d, old);
      sub64(d, old);
      d.varOff = tnumNeg(old.varOff);
      break;
    }
    case BPF_MUL:
      d.varOff = tnumMul(d.varOff, src.varOff);
      mul32(d, src);
      mul64(d, src);
      break;
    case BPF_AND:
      d.varOff = tnumAnd(d.varOff, src.varOff);
      and32(d, src);
      and64(d, src);
      break;
    case BPF_OR:
      d.varOff = tnumOr(d.varOff, src.varOff);
      or32(d, src);
      or64(d, src);
      break;
    case BPF_XOR:
      d.varOff = tnumXor(d.varOff, src.varOff);
      xor32(d, src);
      xor64(d, src);
      break;
    case BPF_LSH:
      if (is64) lsh64(d, src);
      else lsh32(d, src);
      break;
    case BPF_RSH:
      if (is64) rsh64(d, src);
      else rsh32(d, src);
      break;
    case BPF_ARSH:
      if (is64) arsh64(d, src);
      else arsh32(d, src);
      break;
    case BPF_END:
      endian(d, is64, endToBe, endImm);
      break;
    default:
      break;
  }
  // BPF_END already truncated to its own width.
  if (!is64 && op !== BPF_END) zext32To64InPlace(d);
  syncInPlace(d);
  return d;
}

/** MOV: `dst = src` (off 0), `dst = (s8/s16/s32) src` (off 8/16/32); 32-bit forms zero-extend. */
export function scalarMov(is64: boolean, src: ScalarBounds, insnOff = 0): ScalarBounds {
  if (is64) {
    if (insnOff === 0) return src;
    return coerceToSizeSx(src, insnOff >> 3);
  }
  const d = copyBounds(insnOff === 0 ? src : coerceSubregToSizeSx(src, insnOff >> 3));
  zext32To64InPlace(d);
  syncInPlace(d);
  return d;
}

/** `dst = imm` (BPF_MOV | BPF_K): sign-extended for ALU64, zero-extended for ALU. */
export const scalarMovImm = (is64: boolean, imm: number): ScalarBounds =>
  scalarConst(is64 ? BigInt(imm | 0) : BigInt(imm >>> 0));

