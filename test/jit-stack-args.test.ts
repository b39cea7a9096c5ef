// Stack arguments in the x86-64 JIT, both series: golden bytes of the two layouts (no live
// kernel has either series), and native runs in which a real SysV function (a koffi
// callback) receives 12 kfunc arguments, and BPF functions pass 12 arguments to each other.

import t from 'tap';
import type { Insn } from '../engine/isa/insn.ts';
import type { Program } from '../engine/program/types.ts';
import { jitProgram } from '../engine/jit/x86_64/compile.ts';
import { fromXlated } from '../engine/jit/x86_64/xlated.ts';
import { withStackArgs, type StackArgSeries } from '../engine/jit/x86_64/stack-args.ts';
import { runNativeInProcess } from '../engine/jit/native/run.ts';
import type { NativeMachine } from '../engine/jit/native/bridge.ts';
import type { Machine } from '../engine/runtime/index.ts';

const noNative = process.arch !== 'x64' || process.platform !== 'linux' ? 'native x86-64 execution needs linux/x64' : false;

const I = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
const ST_DW = 0x7a, STX_DW = 0x7b, LDX_DW = 0x79, MOV_K = 0xb7, MOV_X = 0xbf, ADD_X = 0x0f, MUL_K = 0x27, CALL = 0x85;
const EXIT = I(0x95, 0, 0, 0, 0);
const base = (s: StackArgSeries): number => (s === 'merged' ? 11 : 12);
/** Where the caller stores argument `n` (6..nargs): merged r11-8*(n-5); v4 last arg at r12-8. */
const outOff = (s: StackArgSeries, n: number, nargs: number): number => (s === 'merged' ? -8 * (n - 5) : -8 * (nargs - n + 1));

const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex');

function jit(s: StackArgSeries, insns: Insn[], depths: number[], argCounts: number[]): string[] {
  const funcs = withStackArgs(fromXlated(insns, { stackDepths: depths, callOffsetIn: 'imm' }), s, argCounts);
  return jitProgram(funcs).funcs.map((f) => hex(f.code));
}

/** main: arg 6 = 6 (ST), arg 7 = r0 = 7 (STX), call a 7-argument subprog; the subprog
 *  returns arg6 + arg7. */
function sevenArgs(s: StackArgSeries): Insn[] {
  const b = base(s);
  return [
    I(ST_DW, b, 0, outOff(s, 6, 7), 6), I(MOV_K, 0, 0, 0, 7), I(STX_DW, b, 0, outOff(s, 7, 7), 0), I(CALL, 0, 1, 0, 1), EXIT,
    I(LDX_DW, 0, b, 8, 0), I(LDX_DW, 1, b, 16, 0), I(ADD_X, 0, 1, 0, 0), EXIT,
  ];
}

const PRO = '0f1f4400000f1f00554889e5'; // fentry nop, tail-call nop, push rbp, mov rbp,rsp
const EPI = 'c9e900000000'; // leave, jmp __x86_return_thunk (masked)

t.test('merged: arg 6 in r9, arg 7+ at [rsp+..] from a pre-allocated area, incoming 7+ at [rbp+16..]', async (t) => {
  const [main, sub] = jit('merged', sevenArgs('merged'), [0, 0], [1, 7]);
  t.equal(main, PRO +
    '4881ec08000000' + // sub rsp, 8: outgoing area for arg 7 (arg 6 needs none)
    '49b90600000000000000' + // movabs r9, 6: the arg-6 ST is this one instruction
    'b807000000' + // mov eax, 7
    '488945f8' + // mov [rbp-8], rax  == [rsp+0]: arg 7
    'e800000000' + // call sub: no pushes, no pops
    '4881c408000000' + // add rsp, 8 before the (rsp-relative) pops [choice]
    EPI);
  t.equal(sub, PRO +
    '4c89c8' + // mov rax, r9: incoming arg 6
    '488b7d10' + // mov rdi, [rbp+16]: incoming arg 7
    '4801f8' + EPI);
});

t.test('merged: the outgoing area sits below the callee-saved pushes', async (t) => {
  // r6 is used, so rbx is pushed; stack depth 8. arg 7 goes to [rbp - 8 - 8 - 8] = [rsp].
  const b = 11;
  const [main] = jit('merged', [
    I(MOV_K, 6, 0, 0, 1), I(STX_DW, 10, 6, -8, 0), I(STX_DW, b, 6, -8, 0), I(STX_DW, b, 6, -16, 0), I(CALL, 0, 1, 0, 1), EXIT,
    I(LDX_DW, 0, b, 16, 0), EXIT,
  ], [8, 0], [1, 7]);
  t.equal(main, PRO + '4881ec08000000' + '53' + '4881ec08000000' + // frame, push rbx, outgoing area
    'bb01000000' + '48895df8' + // r6 = 1; *(fp-8) = r6
    '4989d9' + // mov r9, rbx: arg 6
    '48895de8' + // mov [rbp-24], rbx: arg 7 at [rsp]
    'e800000000' + '4881c408000000' + '5b' + EPI);
});

t.test('v4: the outgoing area extends the frame; calls push the args (last first) and pop them', async (t) => {
  const [main, sub] = jit('v4', sevenArgs('v4'), [0, 0], [1, 7]);
  t.equal(main, PRO +
    '4881ec10000000' + // sub rsp, 16: r12-16 .. r12-8 below the (empty) BPF stack
    '48c745f006000000' + // arg 6 at r12-16 = [rbp-16]
    'b807000000' + '488945f8' + // arg 7 at r12-8 = [rbp-8]
    'ffb5f8ffffff' + 'ffb5f0ffffff' + // push arg 7, push arg 6: arg 6 ends at [rsp]
    'e800000000' + '4883c410' + // call; add rsp, 16
    EPI);
  t.equal(sub, PRO + '488b4510' + '488b7d18' + '4801f8' + EPI, 'callee: r12+8 = [rbp+16], r12+16 = [rbp+24]');
});

t.test('v4: a kfunc call marshals per SysV (insn.off = stack args): arg 6 to r9, 7+ pushed', async (t) => {
  // 8-argument kfunc: arg6 r12-24, arg7 r12-16, arg8 r12-8; off = 3.
  const [main] = jit('v4', [
    I(ST_DW, 12, 0, -24, 6), I(ST_DW, 12, 0, -16, 7), I(ST_DW, 12, 0, -8, 8), I(CALL, 0, 2, 3, 1234), EXIT,
  ], [0], [1]);
  t.equal(main, PRO + '4881ec18000000' +
    '48c745e806000000' + '48c745f007000000' + '48c745f808000000' +
    'ffb5f8ffffff' + 'ffb5f0ffffff' + // push arg 8, push arg 7
    '4c8b8de8ffffff' + // mov r9, [rbp-24]: arg 6
    'e800000000' + '4883c410' + EPI);
});

t.test('merged: a kfunc call needs no marshaling (the layout is SysV already)', async (t) => {
  const [main] = jit('merged', [I(ST_DW, 11, 0, -8, 6), I(ST_DW, 11, 0, -16, 7), I(CALL, 0, 2, 0, 1234), EXIT], [0], [1]);
  t.equal(main, PRO + '4881ec08000000' + '49b90600000000000000' + '48c745f807000000' + 'e800000000' + '4881c408000000' + EPI);
});

t.test('merged: the verifier scratch register moved to r12 (AX) and still maps to x86 r10', async (t) => {
  const [main] = jit('merged', [I(MOV_K, 12, 0, 0, 5), I(MOV_X, 0, 12, 0, 0), EXIT], [0], [1]);
  t.equal(main, PRO + '41ba05000000' + '4c89d0' + EPI);
});

// ---- native: 12 arguments -------------------------------------------------------------

const prog = (insns: Insn[]): Program => ({ name: 'p', progType: 'SOCKET_FILTER', insns, maps: [], funcs: [], license: 'GPL', flags: 0 });
const KFUNC_ID = 0x7e0fff;

/** r1..r5 = 1..5, args 6..12 = 6..12 in the series' slots, then `call`. */
function storeTwelve(s: StackArgSeries): Insn[] {
  const out: Insn[] = [];
  for (let n = 1; n <= 5; n++) out.push(I(MOV_K, n, 0, 0, n * 0x1111));
  for (let n = 6; n <= 12; n++) out.push(I(ST_DW, base(s), 0, outOff(s, n, 12), n * 0x1111));
  return out;
}
const want = Array.from({ length: 12 }, (_, k) => BigInt((k + 1) * 0x1111));

for (const s of ['merged', 'v4'] as const) {
  t.test(`${s}: a native SysV kfunc receives 12 arguments in order`, { skip: noNative }, async (t) => {
    let got: bigint[] = [];
    const kfunc = (m: Machine): void => {
      const nm = m as NativeMachine;
      got = [1, 2, 3, 4, 5].map((i) => m.argU64(i)).concat(nm.kfuncStackArgs);
      m.setR0(got.reduce((a, v, k) => a + v * BigInt(k + 1), 0n));
    };
    const p = prog([...storeTwelve(s), I(CALL, 0, 2, s === 'v4' ? 7 : 0, KFUNC_ID), EXIT]);
    const r = runNativeInProcess(p, { series: s, argCounts: [1] }, { kfuncs: new Map([[KFUNC_ID, kfunc]]) });
    t.equal(r.error, undefined);
    t.same(got, want, 'args 1..12 as the kfunc saw them');
    t.equal(r.retval, want.reduce((a, v, k) => a + v * BigInt(k + 1), 0n), 'its result in r0');
  });

  t.test(`${s}: a BPF function receives 12 arguments natively`, { skip: noNative }, async (t) => {
    // sub: r0 = sum(k * arg_k); incoming loads first (merged: before any store or call).
    const b = base(s);
    const sub: Insn[] = [I(MOV_K, 0, 0, 0, 0)];
    for (let n = 1; n <= 12; n++) {
      if (n <= 5) sub.push(I(MOV_X, 6, n, 0, 0));
      else sub.push(I(LDX_DW, 6, b, 8 * (n - 5), 0));
      sub.push(I(MUL_K, 6, 0, 0, n), I(ADD_X, 0, 6, 0, 0));
    }
    sub.push(EXIT);
    const main = [...storeTwelve(s), I(CALL, 0, 1, 0, 1), EXIT];
    const r = runNativeInProcess(prog([...main, ...sub]), { series: s, argCounts: [1, 12] });
    t.equal(r.error, undefined);
    t.equal(r.retval, want.reduce((a, v, k) => a + v * BigInt(k + 1), 0n));
  });
}
