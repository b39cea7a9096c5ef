// Soundness of the scalar core, checked with concrete values (fixed seed): abstract a few
// random 64-bit values into bounds, run every ALU op and branch refinement, and require
// that every concrete result is still described by the computed bounds.

import t from 'tap';
import {
  BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD,
  BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END,
  BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE,
} from '../engine/isa/opcodes.ts';
import {
  type ScalarBounds, scalarFrom, scalarConst, scalarAlu, isBranchTaken, refineBranch, tnumIn,
  tnumConst, tnumUnion, formatScalar, maybeForkScalars,
} from '../engine/verifier/scalar/index.ts';
import { rng } from '../engine/verifier/scalar/oracle.ts';

const M64 = (1n << 64n) - 1n;
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);
const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);

/** Does `b` describe the concrete 64-bit value v? */
function contains(b: ScalarBounds, v: bigint): boolean {
  return b.umin <= v && v <= b.umax && b.smin <= s64(v) && s64(v) <= b.smax &&
    BigInt(b.u32min) <= u32(v) && u32(v) <= BigInt(b.u32max) &&
    BigInt(b.s32min) <= s32(v) && s32(v) <= BigInt(b.s32max) && tnumIn(b.varOff, tnumConst(v));
}

/** The tightest bounds this core can state for a set of values (tnum union + min/max). */
function abstract(vs: bigint[]): ScalarBounds {
  let tn = tnumConst(vs[0]);
  for (const v of vs) tn = tnumUnion(tn, tnumConst(v));
  const mm = (xs: bigint[]): [bigint, bigint] => [xs.reduce((a, b) => (a < b ? a : b)), xs.reduce((a, b) => (a > b ? a : b))];
  const [umin, umax] = mm(vs);
  const [smin, smax] = mm(vs.map(s64));
  const [u32min, u32max] = mm(vs.map(u32));
  const [s32min, s32max] = mm(vs.map(s32));
  return scalarFrom({ varOff: tn, umin, umax, smin, smax, u32min: Number(u32min), u32max: Number(u32max), s32min: Number(s32min), s32max: Number(s32max) });
}

/** The BPF ISA's own results (RFC 9669), 64-bit or 32-bit zero-extended. */
function concrete(op: number, is64: boolean, x: bigint, y: bigint, off: number, endImm: number, toBe: boolean): bigint {
  const w = is64 ? 64 : 32;
  const uw = (v: bigint): bigint => BigInt.asUintN(w, v);
  const sw = (v: bigint): bigint => BigInt.asIntN(w, v);
  const a = uw(x);
  const b = uw(y);
  switch (op) {
    case BPF_ADD: return uw(a + b);
    case BPF_SUB: return uw(a - b);
    case BPF_MUL: return uw(a * b);
    case BPF_OR: return a | b;
    case BPF_AND: return a & b;
    case BPF_XOR: return a ^ b;
    case BPF_LSH: return uw(a << (b % BigInt(w)));
    case BPF_RSH: return a >> (b % BigInt(w));
    case BPF_ARSH: return uw(sw(a) >> (b % BigInt(w)));
    case BPF_NEG: return uw(-a);
    case BPF_DIV:
      if (off === 1) return b === 0n ? 0n : uw(sw(a) / sw(b));
      return b === 0n ? 0n : a / b;
    case BPF_MOD:
      if (off === 1) return b === 0n ? a : uw(sw(a) % sw(b));
      return b === 0n ? a : a % b;
    case BPF_MOV:
      if (off === 0) return uw(y);
      return uw(BigInt.asUintN(64, BigInt.asIntN(off, y)));
    case BPF_END: {
      const bytes = endImm / 8;
      const low = BigInt.asUintN(endImm, x);
      if (!is64 && !toBe) return low;
      let out = 0n;
      for (let i = 0; i < bytes; i++) out = (out << 8n) | ((low >> BigInt(8 * i)) & 0xffn);
      return out;
    }
    default: throw new Error(`op ${op}`);
  }
}

function jmpHolds(op: number, is32: boolean, x: bigint, y: bigint): boolean {
  const ux = is32 ? u32(x) : x;
  const uy = is32 ? u32(y) : y;
  const sx = is32 ? s32(x) : s64(x);
  const sy = is32 ? s32(y) : s64(y);
  switch (op) {
    case BPF_JEQ: return ux === uy;
    case BPF_JNE: return ux !== uy;
    case BPF_JGT: return ux > uy;
    case BPF_JGE: return ux >= uy;
    case BPF_JLT: return ux < uy;
    case BPF_JLE: return ux <= uy;
    case BPF_JSGT: return sx > sy;
    case BPF_JSGE: return sx >= sy;
    case BPF_JSLT: return sx < sy;
    case BPF_JSLE: return sx <= sy;
    case BPF_JSET: return (ux & uy) !== 0n;
    default: throw new Error(`op ${op}`);
  }
}

const r = rng(0xbadc0de);
const SPECIAL = [0n, 1n, 2n, 7n, 0x7fn, 0x80n, 0xffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  0x7fffffffffffffffn, 0x8000000000000000n, M64, M64 - 1n, 0xfffffff0n, 0xffffffff80000000n];

function randVal(): bigint {
  const c = r();
  if (c < 0.3) return SPECIAL[Math.floor(r() * SPECIAL.length)];
  if (c < 0.6) return u64(BigInt(Math.floor(r() * 512) - 256));
  const hi = BigInt(Math.floor(r() * 2 ** 32));
  const lo = BigInt(Math.floor(r() * 2 ** 32));
  return c < 0.8 ? lo : (hi << 32n) | lo;
}

/** A small set of values near each other (so ranges are interesting), or spread out. */
function randSet(): bigint[] {
  const n = 1 + Math.floor(r() * 4);
  const base = randVal();
  const vs: bigint[] = [];
  for (let i = 0; i < n; i++) vs.push(r() < 0.6 ? u64(base + BigInt(Math.floor(r() * 64) - 32)) : randVal());
  return vs;
}

const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD,
  BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END];
const JMP_OPS = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE];

t.test('ALU results contain every concrete result', async (t) => {
  let checked = 0;
  const failures: string[] = [];
  for (let iter = 0; iter < 3000; iter++) {
    const op = ALU_OPS[iter % ALU_OPS.length];
    const is64 = r() < 0.5;
    const xs = randSet();
    let ys = randSet();
    // Shifts are only tracked for a constant in-range amount; others make dst unknown (sound).
    if (op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) ys = [BigInt(Math.floor(r() * (is64 ? 64 : 32)))];
    const off = op === BPF_DIV || op === BPF_MOD ? (r() < 0.5 ? 1 : 0) : op === BPF_MOV ? [0, 8, 16, ...(is64 ? [32] : [])][Math.floor(r() * (is64 ? 4 : 3))] : 0;
    const endImm = [16, 32, 64][Math.floor(r() * 3)];
    const toBe = r() < 0.5;
    const dst = abstract(xs);
    const src = abstract(ys);
    // The and/or fork on [-1, 0] splits dst first; each half must still be sound.
    const fork = maybeForkScalars(op, dst, src);
    const dsts = fork ? [fork.cont, fork.pushed] : [dst];
    for (const d of dsts) {
      const res = scalarAlu(op, is64, d, src, off, endImm, toBe);
      for (const x of xs) {
        if (!contains(d, x)) continue;
        for (const y of ys) {
          const v = concrete(op, is64, x, y, off, endImm, toBe);
          checked++;
          if (!contains(res, v) && failures.length < 5) {
            failures.push(`op=${op.toString(16)} is64=${is64} off=${off} end=${endImm}/${toBe} x=${x} y=${y} -> ${v} not in ${formatScalar(res)} (dst ${formatScalar(d)}, src ${formatScalar(src)})`);
          }
        }
      }
    }
  }
  t.ok(checked > 5000, `${checked} concrete results checked`);
  t.same(failures, [], 'no concrete result escapes its bounds');
});

t.test('branch decisions and refinements are sound', async (t) => {
  let checked = 0;
  const failures: string[] = [];
  for (let iter = 0; iter < 3000; iter++) {
    const op = JMP_OPS[iter % JMP_OPS.length];
    const is32 = r() < 0.5;
    const xs = randSet();
    const ys = r() < 0.5 ? [randVal()] : randSet();
    const dst = abstract(xs);
    const src = abstract(ys);
    const pred = isBranchTaken(op, is32, dst, src);
    const taken = refineBranch(op, is32, dst, src, true);
    const fall = refineBranch(op, is32, dst, src, false);
    for (const x of xs) {
      for (const y of ys) {
        const holds = jmpHolds(op, is32, x, y);
        checked++;
        const out = holds ? taken : fall;
        const bad = (pred === 1 && !holds) || (pred === 0 && holds) ||
          (out.messages.length === 0 && (!contains(out.dst, x) || !contains(out.src, y)));
        if (bad && failures.length < 5) {
          failures.push(`op=${op.toString(16)} is32=${is32} x=${x} y=${y} holds=${holds} pred=${pred} dst ${formatScalar(dst)} src ${formatScalar(src)} -> ${formatScalar(out.dst)} / ${formatScalar(out.src)}`);
        }
      }
    }
  }
  t.ok(checked > 5000, `${checked} concrete pairs checked`);
  t.same(failures, [], 'decisions never contradict a concrete pair; refined bounds keep it');
});

t.test('constants stay exact through every tracked op', async (t) => {
  const failures: string[] = [];
  for (let iter = 0; iter < 1000; iter++) {
    const op = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_OR, BPF_AND, BPF_XOR, BPF_NEG, BPF_LSH, BPF_RSH, BPF_ARSH, BPF_END][iter % 11];
    const is64 = r() < 0.5;
    const x = randVal();
    const y = op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH ? BigInt(Math.floor(r() * (is64 ? 64 : 32))) : randVal();
    const endImm = [16, 32, 64][iter % 3];
    const res = scalarAlu(op, is64, scalarConst(x), scalarConst(y), 0, endImm, true);
    const want = concrete(op, is64, x, y, 0, endImm, true);
    if (formatScalar(res) !== formatScalar(scalarConst(want)) && failures.length < 5) {
      failures.push(`op=${op.toString(16)} is64=${is64} ${x} ${y}: ${formatScalar(res)} want ${want}`);
    }
  }
  t.same(failures, [], 'const op const is the constant result');
});
