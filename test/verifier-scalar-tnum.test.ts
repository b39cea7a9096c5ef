// tnum operations (soundness against concrete members, fixed seed), tnum_step against a
// brute-force search, and the log text of scalars: known kernel outputs plus a
// format/parse round trip.

import t from 'tap';
import {
  type Tnum, tnumConst, tnumRange, tnumAdd, tnumSub, tnumMul, tnumAnd, tnumOr, tnumXor,
  tnumNeg, tnumLshift, tnumRshift, tnumArshift, tnumIn, tnumStep, tnumUnion, tnumIntersect,
  tnumOverlap, tnumCast, tnumBswap, tnumStrn, formatScalar, parseScalar, scalarFrom,
  scalarConst, scalarUnknown, scalarOfSize, scalarAlu, scalarImm, boundsEqual,
} from '../engine/verifier/scalar/index.ts';
import { BPF_AND, BPF_MUL, BPF_ADD, BPF_NEG } from '../engine/isa/opcodes.ts';
import { rng } from '../engine/verifier/scalar/oracle.ts';

const M = (1n << 64n) - 1n;
const r = rng(0x7e57);
const rand64 = (): bigint => (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32));

/** A random tnum with few unknown bits, so its members can be enumerated. */
function randTnum(): Tnum {
  let mask = 0n;
  const n = Math.floor(r() * 5);
  for (let i = 0; i < n; i++) mask |= 1n << BigInt(Math.floor(r() * 64));
  if (r() < 0.3) mask = BigInt(Math.floor(r() * 16));
  return { value: rand64() & ~mask & M, mask };
}

function members(a: Tnum): bigint[] {
  const bits: bigint[] = [];
  for (let i = 0n; i < 64n; i++) if ((a.mask >> i) & 1n) bits.push(1n << i);
  const out: bigint[] = [];
  for (let k = 0; k < 1 << bits.length; k++) {
    let v = a.value;
    bits.forEach((b, i) => { if ((k >> i) & 1) v |= b; });
    out.push(v);
  }
  return out;
}

t.test('tnum ops contain every concrete result', async (t) => {
  const ops: [string, (a: Tnum, b: Tnum) => Tnum, (x: bigint, y: bigint) => bigint][] = [
    ['add', tnumAdd, (x, y) => (x + y) & M],
    ['sub', tnumSub, (x, y) => (x - y) & M],
    ['mul', tnumMul, (x, y) => (x * y) & M],
    ['and', tnumAnd, (x, y) => x & y],
    ['or', tnumOr, (x, y) => x | y],
    ['xor', tnumXor, (x, y) => x ^ y],
    ['union', tnumUnion, (x) => x],
  ];
  for (const [name, f, g] of ops) {
    let bad = 0;
    let n = 0;
    for (let i = 0; i < 150; i++) {
      const a = randTnum();
      const b = randTnum();
      const res = f(a, b);
      for (const x of members(a)) for (const y of members(b)) {
        n++;
        if (!tnumIn(res, tnumConst(g(x, y)))) bad++;
      }
    }
    t.equal(bad, 0, `${name}: ${n} results inside`);
  }
  let bad = 0;
  for (let i = 0; i < 200; i++) {
    const a = randTnum();
    const s = Math.floor(r() * 64);
    for (const x of members(a)) {
      if (!tnumIn(tnumNeg(a), tnumConst(-x & M))) bad++;
      if (!tnumIn(tnumLshift(a, s), tnumConst((x << BigInt(s)) & M))) bad++;
      if (!tnumIn(tnumRshift(a, s), tnumConst(x >> BigInt(s)))) bad++;
      if (!tnumIn(tnumArshift(a, s, 64), tnumConst(BigInt.asUintN(64, BigInt.asIntN(64, x) >> BigInt(s))))) bad++;
      if (!tnumIn(tnumArshift(a, s % 32, 32), tnumConst(BigInt.asUintN(32, BigInt.asIntN(32, x) >> BigInt(s % 32))))) bad++;
      if (!tnumIn(tnumCast(a, 2), tnumConst(x & 0xffffn))) bad++;
      const sw = BigInt('0x' + (x & 0xffffffffn).toString(16).padStart(8, '0').match(/../g)!.reverse().join(''));
      if (!tnumIn(tnumBswap(a, 4), tnumConst(sw))) bad++;
    }
  }
  t.equal(bad, 0, 'neg, shifts, cast, bswap');
});

t.test('tnum_range, intersect, overlap', async (t) => {
  t.same(tnumRange(0n, 255n), { value: 0n, mask: 0xffn });
  t.same(tnumRange(5n, 5n), { value: 5n, mask: 0n });
  t.same(tnumRange(0n, M), { value: 0n, mask: M });
  t.same(tnumRange(0x10n, 0x17n), { value: 0x10n, mask: 7n });
  t.same(tnumIntersect({ value: 0n, mask: 0xffn }, { value: 0x10n, mask: 0x0fn }), { value: 0x10n, mask: 0x0fn });
  t.equal(tnumOverlap({ value: 0n, mask: 2n }, tnumConst(1n)), false, '{0,2} and 1 share nothing');
  t.equal(tnumOverlap({ value: 0n, mask: 2n }, tnumConst(2n)), true);
  // The kernel's union-based multiply keeps a constant factor's structure (6.18 log).
  t.same(tnumMul({ value: 0xc21a2d8dn, mask: 0x3de5d272n }, tnumConst(M - 15n)),
    { value: 0xfffffff000000010n, mask: 0x3de5d2720n });
});

t.test('tnum_step: smallest member above z', async (t) => {
  let bad = 0;
  for (let i = 0; i < 300; i++) {
    const a = randTnum();
    const ms = members(a).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const tmax = a.value | a.mask;
    const zs = [a.value, tmax, ...ms.map((m) => m - 1n).filter((z) => z >= 0n), ...ms, rand64(), 0n];
    for (const z of zs) {
      const want = z >= tmax ? tmax : z < a.value ? a.value : ms.find((m) => m > z);
      if (tnumStep(a, z) !== want) bad++;
    }
  }
  t.equal(bad, 0, 'matches brute force');
});

t.test('log text of scalars', async (t) => {
  // Outputs copied from the 6.18 kernel's level-2 log.
  t.equal(formatScalar(scalarConst(7n)), '7');
  t.equal(formatScalar(scalarConst(-3n)), '-3');
  t.equal(formatScalar(scalarConst(0x10000n)), '0x10000');
  t.equal(formatScalar(scalarConst(-0x8001n)), '0xffffffffffff7fff');
  t.equal(formatScalar(scalarUnknown()), 'scalar()');
  t.equal(formatScalar(scalarOfSize(4)), 'scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))');
  const r7 = scalarAlu(BPF_MUL, true, scalarAlu(BPF_AND, true, scalarUnknown(), scalarImm(255)), scalarImm(3));
  t.equal(formatScalar(r7), 'scalar(smin=smin32=0,smax=umax=smax32=umax32=765,var_off=(0x0; 0x3ff))');
  t.equal(formatScalar(scalarAlu(BPF_NEG, true, r7, scalarImm(0))), 'scalar(smin=smin32=-765,smax=smax32=0)');
  const a = scalarAlu(BPF_ADD, true, r7, scalarImm(-300));
  t.equal(formatScalar(scalarAlu(BPF_MUL, true, a, scalarImm(-2))),
    'scalar(smin=smin32=-930,smax=smax32=600,umax=0xfffffffffffffffe,umax32=0xfffffffe,var_off=(0x0; 0xfffffffffffffffe))');
  t.equal(formatScalar(r7, 2), 'scalar(id=2,smin=smin32=0,smax=umax=smax32=umax32=765,var_off=(0x0; 0x3ff))');
  t.equal(formatScalar(scalarUnknown(), 1), 'scalar(id=1)');
  t.equal(tnumStrn({ value: 0n, mask: 0xffn }), '(0x0; 0xff)');
  // Hex s32 bounds print as their u32 pattern: not merged with the sign-extended 64-bit
  // twin, but merged with an equal u32 bound; decimal negatives merge across widths.
  const neg = scalarFrom({ smin: -100000n, smax: -5n });
  t.equal(formatScalar(neg), 'scalar(smin=0xfffffffffffe7960,smax=smax32=-5,umin=0xfffffffffffe7960,umax=0xfffffffffffffffb,smin32=umin32=0xfffe7960,umax32=0xfffffffb,var_off=(0xfffffffffffe0000; 0x1ffff))');
});

t.test('format/parse round trip', async (t) => {
  let bad = 0;
  for (let i = 0; i < 500; i++) {
    const a = randTnum();
    const ms = members(a);
    const lo = ms[Math.floor(r() * ms.length)];
    const b = scalarFrom({ varOff: r() < 0.2 ? { value: 0n, mask: M } : { value: a.value, mask: a.mask | BigInt(Math.floor(r() * 0xffff)) }, umin: lo & 0xffffffffffn });
    const text = formatScalar(b);
    const back = parseScalar(text);
    if (!back || !boundsEqual(back, b) && formatScalar(back) !== text) bad++;
    if (back && formatScalar(back) !== text) bad++;
  }
  t.equal(bad, 0, 'parse(format(b)) formats the same');
  t.equal(parseScalar('ctx()'), undefined, 'pointers are not scalars');
  t.same(parseScalar('P5'), scalarConst(5n), 'precision mark ignored');
  t.ok(parseScalar('scalar(id=3+4,umax=255)'), 'linked ids ignored');
});
