// ALU semantics of the interpreter: every operation in 64- and 32-bit form against an
// independent BigInt model of the 6.18 rules (div by 0 -> 0, mod by 0 -> dst, sdiv/smod by
// -1, shift masking, 32-bit zero extension), named edge cases, and a seeded fuzz.

import t from 'tap';
import { assemble } from '../engine/isa/asm/index.ts';
import type { Insn } from '../engine/isa/insn.ts';
import type { Program } from '../engine/program/types.ts';
import { runProgram } from '../engine/runtime/index.ts';

const prog = (insns: Insn[]): Program => ({
  name: 't', progType: 'SOCKET_FILTER', insns, maps: [], funcs: [{ start: 0, name: 'main', linkage: 'static' }],
  license: 'GPL', flags: 0,
});
const run = (text: string): bigint => {
  const r = runProgram(prog(assemble(text)));
  if (!r.ok) throw new Error(r.fault);
  return r.retval;
};

const U64 = (1n << 64n) - 1n;
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);

type Op = 'add' | 'sub' | 'mul' | 'div' | 'sdiv' | 'mod' | 'smod' | 'or' | 'and' | 'xor' | 'lsh' | 'rsh' | 'arsh';
const SYM: Record<Op, string> = {
  add: '+=', sub: '-=', mul: '*=', div: '/=', sdiv: 's/=', mod: '%=', smod: 's%=', or: '|=', and: '&=',
  xor: '^=', lsh: '<<=', rsh: '>>=', arsh: 's>>=',
};

/** The model: what r0 holds after `r0 op= r1` (w = 64 or 32). */
function model(op: Op, a: bigint, b: bigint, w: 64 | 32): bigint {
  const U = w === 64 ? u64 : u32, S = w === 64 ? s64 : s32;
  const A = U(a), B = U(b), mask = BigInt(w - 1);
  switch (op) {
    case 'add': return U(A + B);
    case 'sub': return U(A - B);
    case 'mul': return U(A * B);
    case 'div': return B === 0n ? 0n : A / B;
    case 'mod': return B === 0n ? A : A % B;
    case 'sdiv': return B === 0n ? 0n : S(B) === -1n ? U(-S(A)) : U(S(A) / S(B));
    case 'smod': return B === 0n ? A : S(B) === -1n ? 0n : U(S(A) % S(B));
    case 'or': return A | B;
    case 'and': return A & B;
    case 'xor': return A ^ B;
    case 'lsh': return U(A << (B & mask));
    case 'rsh': return A >> (B & mask);
    case 'arsh': return U(S(A) >> (B & mask));
  }
}

const asmReg = (op: Op, a: bigint, b: bigint, w: 64 | 32): string => w === 64
  ? `r0 = ${u64(a)} ll; r1 = ${u64(b)} ll; r0 ${SYM[op]} r1; exit`
  : `r0 = ${u64(a)} ll; r1 = ${u64(b)} ll; w0 ${SYM[op]} w1; exit`;

const EDGES = [0n, 1n, 2n, 3n, 7n, 31n, 32n, 63n, 64n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n,
  0x7fffffffffffffffn, 0x8000000000000000n, U64, U64 - 1n, 0xdeadbeefcafebaben];
const OPS = Object.keys(SYM) as Op[];

t.test('every ALU op on edge operands matches the model (64 and 32 bit, register source)', async (t) => {
  let checked = 0;
  for (const op of OPS) {
    for (const w of [64, 32] as const) {
      for (const a of EDGES) {
        for (const b of EDGES) {
          const got = run(asmReg(op, a, b, w));
          const want = model(op, a, b, w);
          if (got !== want) t.fail(`${op}${w} ${a} ${b}: got ${got}, want ${want}`);
          checked++;
        }
      }
    }
  }
  t.equal(checked, OPS.length * 2 * EDGES.length ** 2, 'all combinations ran');
});

t.test('immediate operands are sign-extended to 64 bits', async (t) => {
  t.equal(run('r0 = 0; r0 += -1; exit'), U64);
  t.equal(run('r0 = 0; w0 += -1; exit'), 0xffffffffn, '32-bit add zero-extends');
  t.equal(run('r0 = -1; r0 &= 0x7fffffff; exit'), 0x7fffffffn);
  t.equal(run('r0 = 1; r0 |= -2; exit'), U64);
  t.equal(run('r0 = 0x100000000 ll; r0 /= -1; exit'), 0n, 'unsigned div by imm -1 = 2^64-1 is 0');
  t.equal(run('r0 = 5; r0 s/= -1; exit'), u64(-5n));
  t.equal(run('r0 = 5; r0 s%= -1; exit'), 0n);
});

t.test('division and modulo edge cases as the kernel rewrites them', async (t) => {
  const INT64_MIN = 0x8000000000000000n;
  t.equal(run('r0 = 9; r1 = 0; r0 /= r1; exit'), 0n, 'div by 0 -> 0');
  t.equal(run('r0 = 9; r1 = 0; r0 %= r1; exit'), 9n, 'mod by 0 -> dst');
  t.equal(run('r0 = -1; r1 = 0; w0 %= w1; exit'), 0xffffffffn, 'mod32 by 0 -> dst, zero-extended');
  t.equal(run('r0 = -1; r1 = 0; w0 /= w1; exit'), 0n, 'div32 by 0 -> 0');
  t.equal(run('r0 = 0x8000000000000000 ll; r1 = -1; r0 s/= r1; exit'), INT64_MIN, 'INT64_MIN s/ -1 = INT64_MIN');
  t.equal(run('r0 = 0x8000000000000000 ll; r1 = -1; r0 s%= r1; exit'), 0n, 'INT64_MIN s% -1 = 0');
  t.equal(run('r0 = 0x80000000; r1 = -1; w0 s/= w1; exit'), 0x80000000n, 'INT_MIN s/ -1 = INT_MIN (32)');
  t.equal(run('r0 = -7; r1 = 2; r0 s/= r1; exit'), u64(-3n), 'sdiv truncates toward zero');
  t.equal(run('r0 = -7; r1 = 2; r0 s%= r1; exit'), u64(-1n), 'smod takes the sign of the dividend');
  t.equal(run('r0 = 7; r1 = -2; r0 s%= r1; exit'), 1n);
  t.equal(run('r0 = -7; r1 = 0; r0 s/= r1; exit'), 0n, 'sdiv by 0 -> 0');
  t.equal(run('r0 = -7; r1 = 0; r0 s%= r1; exit'), u64(-7n), 'smod by 0 -> dst');
  t.equal(run('r0 = -1; r1 = 0x100000000 ll; r0 /= r1; exit'), 0xffffffffn, 'u64 div with a high divisor');
});

t.test('shifts mask the count (63 / 31)', async (t) => {
  t.equal(run('r0 = 1; r1 = 65; r0 <<= r1; exit'), 2n);
  t.equal(run('r0 = 1; r1 = 33; w0 <<= w1; exit'), 2n);
  t.equal(run('r0 = -1; r1 = 64; r0 >>= r1; exit'), U64, 'count 64 is 0');
  t.equal(run('r0 = 0x80000000; r1 = 63; w0 s>>= w1; exit'), 0xffffffffn, '32-bit arsh by 63 = by 31');
  t.equal(run('r0 = 0x8000000000000000 ll; r0 s>>= 63; exit'), U64);
});

t.test('neg, mov, movsx and 32-bit zero extension', async (t) => {
  t.equal(run('r0 = 5; r0 = -r0; exit'), u64(-5n));
  t.equal(run('r0 = 5; w0 = -w0; exit'), 0xfffffffbn);
  t.equal(run('r0 = 0; r0 = -r0; exit'), 0n);
  t.equal(run('r1 = 0x80; r0 = (s8)r1; exit'), u64(-128n));
  t.equal(run('r1 = 0x8000; r0 = (s16)r1; exit'), u64(-32768n));
  t.equal(run('r1 = 0x80000000; r0 = (s32)r1; exit'), 0xffffffff80000000n);
  t.equal(run('r1 = 0x7f; r0 = (s8)r1; exit'), 0x7fn);
  t.equal(run('r1 = 0x80; w0 = (s8)w1; exit'), 0xffffff80n, '32-bit movsx zero-extends');
  t.equal(run('r1 = -1; w0 = w1; exit'), 0xffffffffn);
});

t.test('byte swaps: le/be (ALU) and bswap (ALU64)', async (t) => {
  t.equal(run('r0 = 0x1122334455667788 ll; r0 = be16 r0; exit'), 0x8877n);
  t.equal(run('r0 = 0x1122334455667788 ll; r0 = be32 r0; exit'), 0x88776655n);
  t.equal(run('r0 = 0x1122334455667788 ll; r0 = be64 r0; exit'), 0x8877665544332211n);
  t.equal(run('r0 = 0x1122334455667788 ll; r0 = le16 r0; exit'), 0x7788n);
  t.equal(run('r0 = 0x1122334455667788 ll; r0 = le32 r0; exit'), 0x55667788n);
  t.equal(run('r0 = 0x1122334455667788 ll; r0 = le64 r0; exit'), 0x1122334455667788n);
  t.equal(run('r0 = 0x1122334455667788 ll; r0 = bswap16 r0; exit'), 0x8877n);
  t.equal(run('r0 = 0x1122334455667788 ll; r0 = bswap32 r0; exit'), 0x88776655n);
  t.equal(run('r0 = 0x1122334455667788 ll; r0 = bswap64 r0; exit'), 0x8877665544332211n);
});

t.test('conditional jumps, 64 and 32 bit, against the model', async (t) => {
  const conds: [string, (a: bigint, b: bigint, w: 64 | 32) => boolean][] = [
    ['==', (a, b) => a === b], ['!=', (a, b) => a !== b], ['>', (a, b) => a > b], ['>=', (a, b) => a >= b],
    ['<', (a, b) => a < b], ['<=', (a, b) => a <= b], ['&', (a, b) => (a & b) !== 0n],
    ['s>', (a, b, w) => sx(a, w) > sx(b, w)], ['s>=', (a, b, w) => sx(a, w) >= sx(b, w)],
    ['s<', (a, b, w) => sx(a, w) < sx(b, w)], ['s<=', (a, b, w) => sx(a, w) <= sx(b, w)],
  ];
  const sx = (v: bigint, w: 64 | 32): bigint => (w === 64 ? s64(v) : s32(v));
  const vals = [0n, 1n, 0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000001n, 0x8000000000000000n, U64];
  let n = 0;
  for (const [sym, f] of conds) {
    for (const w of [64, 32] as const) {
      for (const a of vals) for (const b of vals) {
        const r = w === 64 ? 'r' : 'w';
        const got = run(`r0 = 0; r1 = ${a} ll; r2 = ${b} ll; if ${r}1 ${sym} ${r}2 goto +1; exit; r0 = 1; exit`);
        const want = w === 64 ? f(a, b, 64) : f(u32(a), u32(b), 32);
        if (got !== (want ? 1n : 0n)) t.fail(`${r}1 ${sym} ${r}2 with ${a}, ${b}`);
        n++;
      }
    }
  }
  t.equal(n, conds.length * 2 * vals.length ** 2);
  t.equal(run('r0 = -1; if r0 == -1 goto +1; exit; r0 = 7; exit'), 7n, 'jump imm is sign-extended');
  t.equal(run('r0 = 0xffffffff; if w0 == -1 goto +1; exit; r0 = 7; exit'), 7n, 'jmp32 compares 32 bits');
  t.equal(run('r0 = 3; gotol +1; r0 = 4; exit'), 3n, 'gotol');
});

t.test('seeded fuzz: random operands for every op', async (t) => {
  let s = 0x12345678;
  const rnd32 = (): bigint => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return BigInt(s);
  };
  const rnd64 = (): bigint => {
    const kind = Number(rnd32() % 4n);
    if (kind === 0) return rnd32() % 70n; // small, incl. shift counts
    if (kind === 1) return u64(-(rnd32() % 70n));
    return (rnd32() << 32n) | rnd32();
  };
  let bad = 0, n = 0;
  for (let i = 0; i < 300; i++) {
    const a = rnd64(), b = rnd64();
    for (const op of OPS) {
      for (const w of [64, 32] as const) {
        n++;
        if (run(asmReg(op, a, b, w)) !== model(op, a, b, w)) {
          bad++;
          if (bad < 5) t.fail(`${op}${w} ${a} ${b}`);
        }
      }
    }
  }
  t.equal(bad, 0, `${n} random cases`);
});
