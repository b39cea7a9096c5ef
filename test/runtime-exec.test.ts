// Interpreter execution: loads/stores of every size, memsx, atomics, bpf-to-bpf calls and
// frames, may_goto, LD_ABS/LD_IND, and runtime faults (which are results, never throws).

import t from 'tap';
import { assemble } from '../engine/isa/asm/index.ts';
import type { Insn } from '../engine/isa/insn.ts';
import type { Program, ProgType } from '../engine/program/types.ts';
import { BPF_MAX_LOOPS, MAX_CALL_FRAMES, runProgram, type RunEnv, type RunResult } from '../engine/runtime/index.ts';

const prog = (insns: Insn[], progType: ProgType = 'SOCKET_FILTER'): Program => ({
  name: 't', progType, insns, maps: [], funcs: [{ start: 0, name: 'main', linkage: 'static' }], license: 'GPL', flags: 0,
});
const exec = (text: string, env: RunEnv = {}, progType: ProgType = 'SOCKET_FILTER'): RunResult =>
  runProgram(prog(assemble(text), progType), env);
const run = (text: string, env: RunEnv = {}, progType: ProgType = 'SOCKET_FILTER'): bigint => {
  const r = exec(text, env, progType);
  if (!r.ok) throw new Error(r.fault);
  return r.retval;
};

t.test('stack loads and stores of every size, little endian', async (t) => {
  t.equal(run('r1 = 0x1122334455667788 ll; *(u64 *)(r10 - 8) = r1; r0 = *(u32 *)(r10 - 8); exit'), 0x55667788n);
  t.equal(run('r1 = 0x1122334455667788 ll; *(u64 *)(r10 - 8) = r1; r0 = *(u32 *)(r10 - 4); exit'), 0x11223344n);
  t.equal(run('r1 = 0x1122334455667788 ll; *(u64 *)(r10 - 8) = r1; r0 = *(u16 *)(r10 - 6); exit'), 0x5566n);
  t.equal(run('r1 = 0x1122334455667788 ll; *(u64 *)(r10 - 8) = r1; r0 = *(u8 *)(r10 - 1); exit'), 0x11n);
  t.equal(run('*(u64 *)(r10 - 8) = -1; r0 = *(u64 *)(r10 - 8); exit'), (1n << 64n) - 1n, 'ST DW sign-extends imm');
  t.equal(run('*(u64 *)(r10 - 8) = 0; *(u32 *)(r10 - 8) = -1; r0 = *(u64 *)(r10 - 8); exit'), 0xffffffffn);
  t.equal(run('*(u64 *)(r10 - 8) = 0; *(u16 *)(r10 - 8) = 0x12345; r0 = *(u64 *)(r10 - 8); exit'), 0x2345n);
  t.equal(run('*(u64 *)(r10 - 8) = 0; r1 = 0x1ff; *(u8 *)(r10 - 8) = r1; r0 = *(u64 *)(r10 - 8); exit'), 0xffn);
});

t.test('sign-extending loads (memsx)', async (t) => {
  t.equal(run('*(u64 *)(r10 - 8) = 0x80; r0 = *(s8 *)(r10 - 8); exit'), 0xffffffffffffff80n);
  t.equal(run('*(u64 *)(r10 - 8) = 0x8000; r0 = *(s16 *)(r10 - 8); exit'), 0xffffffffffff8000n);
  t.equal(run('*(u32 *)(r10 - 8) = 0x80000000; r0 = *(s32 *)(r10 - 8); exit'), 0xffffffff80000000n);
  t.equal(run('*(u64 *)(r10 - 8) = 0x7f; r0 = *(s8 *)(r10 - 8); exit'), 0x7fn);
});

t.test('atomics: add/or/and/xor with and without fetch, xchg, cmpxchg, acquire/release', async (t) => {
  t.equal(run('*(u64 *)(r10 - 8) = 40; r1 = 2; lock *(u64 *)(r10 - 8) += r1; r0 = *(u64 *)(r10 - 8); exit'), 42n);
  t.equal(run('*(u64 *)(r10 - 8) = 40; r1 = 2; r1 = atomic_fetch_add((u64 *)(r10 - 8), r1); r0 = r1; exit'), 40n);
  t.equal(run('*(u64 *)(r10 - 8) = -1; r1 = 1; lock *(u64 *)(r10 - 8) += r1; r0 = *(u64 *)(r10 - 8); exit'), 0n, '64-bit carry');
  t.equal(run('*(u64 *)(r10 - 8) = -1; r1 = 1; lock *(u32 *)(r10 - 8) += w1; r0 = *(u64 *)(r10 - 8); exit'),
    0xffffffff00000000n, '32-bit add leaves the upper word');
  t.equal(run('*(u64 *)(r10 - 8) = 0xf0; r1 = 0x0f; w1 = atomic_fetch_or((u32 *)(r10 - 8), w1); r0 = *(u64 *)(r10 - 8); r0 <<= 8; r0 |= r1; exit'), 0xfff0n);
  t.equal(run('*(u64 *)(r10 - 8) = 0xff; r1 = 0x0f; lock *(u64 *)(r10 - 8) &= r1; r0 = *(u64 *)(r10 - 8); exit'), 0x0fn);
  t.equal(run('*(u64 *)(r10 - 8) = 0xff; r1 = 0x0f; r1 = atomic_fetch_xor((u64 *)(r10 - 8), r1); r0 = *(u64 *)(r10 - 8); r0 += r1; exit'), 0xf0n + 0xffn);
  t.equal(run('*(u64 *)(r10 - 8) = 7; r1 = 9; r1 = xchg_64(r10 - 8, r1); r0 = *(u64 *)(r10 - 8); r0 *= 100; r0 += r1; exit'), 907n);
  t.equal(run('*(u64 *)(r10 - 8) = 7; r0 = 7; r1 = 9; r0 = cmpxchg_64(r10 - 8, r0, r1); r1 = *(u64 *)(r10 - 8); r0 *= 100; r0 += r1; exit'), 709n, 'cmpxchg hit');
  t.equal(run('*(u64 *)(r10 - 8) = 7; r0 = 6; r1 = 9; r0 = cmpxchg_64(r10 - 8, r0, r1); r1 = *(u64 *)(r10 - 8); r0 *= 100; r0 += r1; exit'), 707n, 'cmpxchg miss');
  t.equal(run('*(u64 *)(r10 - 8) = -1; r0 = 0x1ffffffff ll; w1 = 5; w0 = cmpxchg32_32(r10 - 8, w0, w1); exit'), 0xffffffffn, 'cmpxchg32 compares and returns 32 bits');
  t.equal(run('*(u64 *)(r10 - 8) = -1; w0 = load_acquire((u8 *)(r10 - 8)); exit'), 0xffn);
  t.equal(run('r1 = 0x1234; store_release((u16 *)(r10 - 8), w1); r0 = *(u16 *)(r10 - 8); exit'), 0x1234n);
});

t.test('bpf-to-bpf calls: args, r0, callee-saved r6-r9, a stack per frame', async (t) => {
  const text = `
    r6 = 6; r1 = 20; *(u64 *)(r10 - 8) = 11;
    call f;
    r1 = *(u64 *)(r10 - 8);
    if r6 != 6 goto bad; if r1 != 11 goto bad;
    exit;
  bad:
    r0 = -1; exit;
  f:
    r6 = 0; *(u64 *)(r10 - 8) = 99; r0 = r1; r0 += 1; exit`;
  t.equal(run(text), 21n);
  const r = exec('call f; exit; f: r0 = r10; exit');
  const r2 = exec('r0 = r10; exit');
  t.ok(r.ok && r2.ok && r.retval !== r2.retval, 'the callee has its own frame pointer');
});

t.test('call depth: 8 frames run, a 9th faults', async (t) => {
  const chain = (n: number): string => {
    let s = 'r0 = 0; call f1; exit;\n';
    for (let i = 1; i < n; i++) s += `f${i}: r0 += 1; call f${i + 1}; exit;\n`;
    return s + `f${n}: r0 += 1; exit`;
  };
  t.equal(run(chain(MAX_CALL_FRAMES - 1)), BigInt(MAX_CALL_FRAMES - 1), '8 frames including main');
  const r = exec(chain(MAX_CALL_FRAMES));
  t.notOk(r.ok);
  t.match(r.fault, /call stack too deep/);
});

t.test('may_goto: a per-frame budget of BPF_MAX_LOOPS', async (t) => {
  const loop = 'r0 = 0; l: may_goto +2; r0 += 1; goto l; exit';
  t.equal(run(loop, { maxInsns: 40_000_000 }), BigInt(BPF_MAX_LOOPS));
  // Each frame starts with a fresh budget: main spends one, the callee still gets all of it.
  const perFrame = 'may_goto +0; call f; exit; f: r0 = 0; l: may_goto +2; r0 += 1; goto l; exit';
  t.equal(run(perFrame, { maxInsns: 40_000_000 }), BigInt(BPF_MAX_LOOPS));
});

t.test('LD_ABS / LD_IND read the packet big endian; out of range returns 0', async (t) => {
  const data = new Uint8Array(64);
  data.set([0x11, 0x22, 0x33, 0x44, 0x55], 14); // network header for socket filters
  data.set([0xaa, 0xbb], 0);
  const sf = (text: string): bigint => run(`r6 = r1; ${text}`, { data });
  t.equal(sf('r0 = *(u32 *)skb[0]; exit'), 0x11223344n, 'socket filter: offset 0 is the network header');
  t.equal(sf('r0 = *(u16 *)skb[1]; exit'), 0x2233n);
  t.equal(sf('r0 = *(u8 *)skb[4]; exit'), 0x55n);
  t.equal(sf('r7 = 2; r0 = *(u16 *)skb[r7 + 1]; exit'), 0x4455n);
  t.equal(sf('r0 = 7; r0 = *(u32 *)skb[48]; r0 = 9; exit'), 0n, 'out of range ends the program with 0');
  t.equal(sf('r0 = *(u16 *)skb[-2097152]; exit'), 0xaabbn, 'SKF_LL_OFF reads the mac header');
  t.equal(run('r6 = r1; r0 = *(u16 *)skb[0]; exit', { data }, 'SCHED_CLS'), 0xaabbn, 'tc sees the frame from byte 0');
  t.equal(run('r6 = r1; r0 = *(u32 *)skb[60]; r0 = 1; exit', { data }, 'SCHED_CLS'), 1n, 'last 4 bytes are in range for tc');
});

t.test('packet pointers from the context', async (t) => {
  const data = new Uint8Array(64);
  data[0] = 0x5a;
  t.equal(run('r2 = *(u32 *)(r1 + 76); r0 = *(u8 *)(r2 + 0); exit', { data }, 'SCHED_CLS'), 0x5an);
  t.equal(run('r2 = *(u32 *)(r1 + 0); r3 = *(u32 *)(r1 + 4); r0 = r3; r0 -= r2; exit', {}, 'XDP'), 64n);
  const oob = exec('r2 = *(u32 *)(r1 + 80); r0 = *(u8 *)(r2 + 0); exit', { data }, 'SCHED_CLS');
  t.notOk(oob.ok, 'reading at data_end faults');
  const r = exec('r2 = *(u32 *)(r1 + 76); *(u8 *)(r2 + 3) = 0x77; r0 = 0; exit', {}, 'SCHED_CLS');
  t.equal(r.dataOut?.[3], 0x77, 'packet writes show in dataOut');
  t.equal(r.dataOut?.length, 64);
});

t.test('faults are results', async (t) => {
  const cases: [string, RegExp][] = [
    ['r0 = *(u64 *)(r10 + 0); exit', /invalid read of 8 bytes/],
    ['r1 = 0; r0 = *(u8 *)(r1 + 0); exit', /NULL/],
    ['r0 = *(u64 *)(r10 - 520); exit', /invalid read/],
    ['*(u64 *)(r10 + 8) = 1; exit', /invalid write/],
    ['call 149; exit', /unknown helper bpf_snprintf_btf#149/],
    ['l: goto l', /instruction limit/],
    ['r0 = 1', /jumped out of the program/],
  ];
  for (const [text, re] of cases) {
    const r = exec(text, { maxInsns: 1000 });
    t.notOk(r.ok, text);
    t.match(r.fault, re, text);
  }
  const bad = runProgram(prog([{ code: 0xff, dst: 0, src: 0, off: 0, imm: 0 }]));
  t.match(bad.fault, /invalid opcode 0xff/);
  const kf = runProgram(prog([{ code: 0x85, dst: 0, src: 2, off: 0, imm: 1234 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]));
  t.match(kf.fault, /unknown kfunc \(btf_id 1234\)/);
  const withKfunc = runProgram(prog([
    { code: 0xb7, dst: 1, src: 0, off: 0, imm: 10 },
    { code: 0x85, dst: 0, src: 2, off: 0, imm: 1234 },
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
  ]), { kfuncs: new Map([[1234, (m) => m.setR0(m.argU64(1) + 5n)]]) });
  t.equal(withKfunc.retval, 15n, 'a kfunc from the table runs with r1..r5');
  t.equal(exec('l: goto l', { maxInsns: 1000 }).insnsExecuted, 1000, 'the bound is exact');
});
