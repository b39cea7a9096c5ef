// The verifier log's text for a scalar (print_reg_state / print_scalar_ranges, 6.18):
// constants print as a number, otherwise `scalar(...)` with the non-default bounds, equal
// neighbours merged (`smin=smin32=0`), and var_off when some bit is known.

import { tnumIsConst, tnumIsUnknown, tnumStrn, hex } from './tnum.ts';
import { type ScalarBounds, S64_MIN, S64_MAX, S32_MIN, S32_MAX, U32_MAX, U64_MAX, toS64 } from './bounds.ts';

/** Numbers in [0, 65535] print in decimal, others as %#llx. */
export function fmtUnum(x: bigint): string {
  return x <= 0xffffn && x >= 0n ? x.toString() : hex(BigInt.asUintN(64, x));
}

/** Numbers in [-32768, 32767] print in decimal, others as the u64 pattern in hex. */
export function fmtSnum(x: bigint): string {
  return x >= -0x8000n && x <= 0x7fffn ? x.toString() : hex(BigInt.asUintN(64, x));
}

interface Piece {
  readonly name: string;
  /** The value as the kernel holds it in its u64 slot. */
  readonly val: bigint;
  readonly signed: boolean;
  omit: boolean;
}

/**
 * The comma-separated range list (`smin=..,umax=..`), without var_off; empty when every
 * bound is at its default. Pointer types with a variable offset print these too.
 */
export function formatScalarRanges(b: ScalarBounds): string {
  // Signed 32-bit values that print in hex are shown as their u32 pattern, so they are not
  // merged with a sign-extended 64-bit twin.
  const s32 = (v: number): bigint => (v >= -0x8000 && v <= 0x7fff ? BigInt(v) : BigInt(v >>> 0));
  const p: Piece[] = [
    { name: 'smin', val: b.smin, signed: true, omit: b.smin === S64_MIN },
    { name: 'smax', val: b.smax, signed: true, omit: b.smax === S64_MAX },
    { name: 'umin', val: b.umin, signed: false, omit: b.umin === 0n },
    { name: 'umax', val: b.umax, signed: false, omit: b.umax === U64_MAX },
    { name: 'smin32', val: s32(b.s32min), signed: true, omit: b.s32min === S32_MIN },
    { name: 'smax32', val: s32(b.s32max), signed: true, omit: b.s32max === S32_MAX },
    { name: 'umin32', val: BigInt(b.u32min), signed: false, omit: b.u32min === 0 },
    { name: 'umax32', val: BigInt(b.u32max), signed: false, omit: b.u32max === U32_MAX },
  ];
  // Compare as the kernel does: raw u64 slots, negatives never merged with non-negatives.
  const raw = (x: Piece): bigint => BigInt.asUintN(64, x.val);
  const neg = (x: Piece): boolean => x.signed && toS64(raw(x)) < 0n;
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const m1 = p[i];
    if (m1.omit) continue;
    out += `${out ? ',' : ''}${m1.name}=`;
    for (let j = i + 2; j < p.length; j += 2) {
      const m2 = p[j];
      if (m2.omit || raw(m2) !== raw(m1) || neg(m2) !== neg(m1)) continue;
      m2.omit = true;
      out += `${m2.name}=`;
    }
    out += m1.signed ? fmtSnum(toS64(raw(m1))) : fmtUnum(raw(m1));
  }
  return out;
}

/** Everything inside `scalar(...)` after the id: ranges then var_off. */
export function formatScalarBody(b: ScalarBounds): string {
  const ranges = formatScalarRanges(b);
  if (tnumIsUnknown(b.varOff)) return ranges;
  return `${ranges}${ranges ? ',' : ''}var_off=${tnumStrn(b.varOff)}`;
}

/**
 * The kernel's text for a scalar register: "5", "-3", "scalar()", "scalar(umax=255,...)".
 * `id` (non-zero; a string such as "2-300" for linked ids) is printed first as the kernel does; precision's "P"
 * prefix is the caller's.
 */
export function formatScalar(b: ScalarBounds, id: number | string = 0): string {
  if (tnumIsConst(b.varOff)) return fmtSnum(toS64(b.varOff.value));
  const body = formatScalarBody(b);
  const idPart = id ? `id=${id}` : '';
  return `scalar(${idPart}${idPart && body ? ',' : ''}${body})`;
}

const NAMES = new Set(['smin', 'smax', 'umin', 'umax', 'smin32', 'smax32', 'umin32', 'umax32']);

/** A number as printed: decimal (maybe negative) or 0x-hex. */
function parseNum(s: string): bigint | undefined {
  if (/^-?\d+$/.test(s)) return BigInt(s);
  if (/^0x[0-9a-f]+$/.test(s)) return BigInt(s);
  return undefined;
}

/**
 * The inverse of formatScalar: the kernel's text for a scalar ("5", "P-3",
 * "scalar(id=2+4,smin=...,var_off=(0x0; 0xff))") back to bounds. Printing omits only
 * defaults, so the bounds are recovered exactly; precision and ids are ignored.
 * Returns undefined for anything that is not a scalar.
 */
export function parseScalar(text: string): ScalarBounds | undefined {
  let t = text.trim();
  if (t.startsWith('P')) t = t.slice(1);
  const k = parseNum(t);
  if (k !== undefined) return scalarConstOf(k);
  const m = /^scalar\((.*)\)$/.exec(t);
  if (!m) return undefined;
  let body = m[1];
  const b: { -readonly [K in keyof ScalarBounds]: ScalarBounds[K] } = {
    varOff: { value: 0n, mask: U64_MAX },
    smin: S64_MIN, smax: S64_MAX, umin: 0n, umax: U64_MAX,
    s32min: S32_MIN, s32max: S32_MAX, u32min: 0, u32max: U32_MAX,
  };
  const vo = /(?:^|,)var_off=\((0x[0-9a-f]+); (0x[0-9a-f]+)\)$/.exec(body);
  if (vo) {
    b.varOff = { value: BigInt(vo[1]), mask: BigInt(vo[2]) };
    body = body.slice(0, vo.index);
  }
  for (const part of body.split(',')) {
    if (!part || part.startsWith('id=')) continue;
    const names = part.split('=');
    const num = parseNum(names.pop() ?? '');
    if (num === undefined || !names.every((n) => NAMES.has(n))) return undefined;
    for (const n of names) {
      switch (n) {
        case 'smin': b.smin = BigInt.asIntN(64, num); break;
        case 'smax': b.smax = BigInt.asIntN(64, num); break;
        case 'umin': b.umin = BigInt.asUintN(64, num); break;
        case 'umax': b.umax = BigInt.asUintN(64, num); break;
        // Hex s32 values are printed as their u32 pattern; decimal ones as themselves.
        case 'smin32': b.s32min = Number(BigInt.asIntN(32, num)); break;
        case 'smax32': b.s32max = Number(BigInt.asIntN(32, num)); break;
        case 'umin32': b.u32min = Number(BigInt.asUintN(32, num)); break;
        case 'umax32': b.u32max = Number(BigInt.asUintN(32, num)); break;
      }
    }
  }
  return b;
}

function scalarConstOf(v: bigint): ScalarBounds {
  const u = BigInt.asUintN(64, v);
  const lo = Number(u & 0xffff_ffffn);
  return {
    varOff: { value: u, mask: 0n },
    smin: BigInt.asIntN(64, u), smax: BigInt.asIntN(64, u), umin: u, umax: u,
    s32min: lo | 0, s32max: lo | 0, u32min: lo, u32max: lo,
  };
}
