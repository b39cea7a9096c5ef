// engine/program/series.ts (the per-series facts) and the interpreter's stack-arg state
// (engine/runtime/stack-args.ts): layouts against the seed's worked example and the merged
// rules, the legal r11/r12 forms, message texts, and run-time behaviour that differs by series.

import t from 'tap';
import { assemble } from '../engine/isa/asm/index.ts';
import type { Program, Series } from '../engine/program/types.ts';
import {
  SERIES, argName, classifyStackArgInsn, depthIn, extraRegs, fixedUpKfuncOff, incomingArgNo, incomingDepth,
  incomingOffset, message, notInitializedMessage, outgoingArgNo, outgoingDepthIndex, outgoingOffset, stackArgBase,
  v4SlotIndex,
} from '../engine/program/series.ts';
import { runProgram, type RunResult } from '../engine/runtime/index.ts';

t.test('base registers and facts', async (t) => {
  t.equal(stackArgBase('v4'), 12);
  t.equal(stackArgBase('merged'), 11);
  t.equal(stackArgBase('none'), undefined);
  t.equal(SERIES.v4.slotsSurviveCalls, true);
  t.equal(SERIES.merged.slotsSurviveCalls, false);
  t.equal(SERIES.v4.outgoingReadable, true);
  t.equal(SERIES.merged.outgoingReadable, false);
  t.equal(SERIES.merged.loadBeforeStoreOrCall, true);
  t.equal(SERIES.v4.loadBeforeStoreOrCall, false);
  for (const s of ['v4', 'merged'] as const) t.ok(Object.keys(SERIES[s].evidence).length >= 5, `${s} facts carry evidence`);
});

t.test("the seed's worked example (v4): kfunc1 with 8 args, kfunc2 with 9", async (t) => {
  // kfunc1's args 6..8 at r12-24..r12-8, kfunc2's args 6..9 at r12-32..r12-8.
  t.same([6, 7, 8].map((a) => outgoingOffset('v4', a, 8)), [-24, -16, -8]);
  t.same([6, 7, 8, 9].map((a) => outgoingOffset('v4', a, 9)), [-32, -24, -16, -8]);
  // foo(a1..a7): incoming r12+8 = arg 6, r12+16 = arg 7; depths 16 in, 32 out (bytes).
  t.same([incomingOffset(6), incomingOffset(7)], [8, 16]);
  t.equal(incomingDepth('v4', 7), 16);
  t.equal(depthIn('v4', 4), 32);
  // The seed's spi: incoming slots first, then the outgoing ones from r12-8 down.
  t.equal(v4SlotIndex(16, 8, 9), 2, 'last arg of kfunc2 sits right after the two incoming slots');
  t.equal(v4SlotIndex(16, 5, 9), 5, 'arg 6 (index 5) of kfunc2 is the deepest');
  t.equal(v4SlotIndex(0, 5, 6), 0);
});

t.test('merged layout: arg N at r11-8*(N-5), incoming at r11+8*(N-5)', async (t) => {
  t.same([6, 7, 12].map((a) => outgoingOffset('merged', a, 12)), [-8, -16, -56]);
  t.equal(outgoingOffset('merged', 7, 7), -16, 'independent of the callee arity');
  t.equal(depthIn('merged', 5), 5);
  t.equal(incomingDepth('merged', 10), 5);
  t.equal(incomingDepth('merged', 4), 0);
});

t.test('offset <-> argument round trips for every arity', async (t) => {
  for (const s of ['v4', 'merged'] as const) {
    for (let n = 6; n <= 12; n++) {
      for (let a = 6; a <= n; a++) {
        const off = outgoingOffset(s, a, n);
        t.equal(outgoingArgNo(s, off, n), a);
        t.equal(outgoingDepthIndex(s, a, n), -off / 8);
        t.equal(incomingArgNo(incomingOffset(a)), a);
      }
      t.equal(outgoingArgNo(s, -8 * (n - 4), n), undefined, `${s}: one slot past a ${n}-arg call`);
    }
  }
  t.equal(outgoingArgNo('merged', -4, 7), undefined);
  t.equal(incomingArgNo(0), undefined);
  t.equal(incomingArgNo(12), undefined);
  t.throws(() => outgoingOffset('v4', 5, 7), RangeError);
  t.throws(() => outgoingOffset('merged', 8, 7), RangeError);
  t.throws(() => incomingOffset(13), RangeError);
});

const insn = (code: number, dst: number, src: number, off: number, imm = 0) => ({ code, dst, src, off, imm });

t.test('legal forms: merged', async (t) => {
  t.same(classifyStackArgInsn('merged', insn(0x7b, 11, 1, -8)), { kind: 'store', off: -8, src: 1 });
  t.same(classifyStackArgInsn('merged', insn(0x7a, 11, 0, -56, 3)), { kind: 'store', off: -56, imm: 3 });
  t.same(classifyStackArgInsn('merged', insn(0x79, 0, 11, 8)), { kind: 'load', off: 8, dst: 0 });
  const bad = (i: ReturnType<typeof insn>): string | undefined => {
    const f = classifyStackArgInsn('merged', i);
    return f?.kind === 'invalid' ? f.message : undefined;
  };
  t.equal(bad(insn(0x07, 11, 0, 0, 8)), 'R11 is invalid', 'ALU');
  t.equal(bad(insn(0x63, 11, 1, -8)), 'R11 is invalid', 'non-DW store');
  t.equal(bad(insn(0x7b, 11, 1, -4)), 'R11 is invalid', 'unaligned');
  t.equal(bad(insn(0x7b, 11, 1, 8)), 'R11 is invalid', 'positive store');
  t.equal(bad(insn(0x7b, 11, 1, 0)), 'R11 is invalid', 'zero offset');
  t.equal(bad(insn(0x79, 0, 11, -8)), 'R11 is invalid', 'negative load');
  t.equal(bad(insn(0x61, 0, 11, 8)), 'R11 is invalid', 'non-DW load');
  t.equal(bad(insn(0x7b, 11, 11, -8)), 'R11 is invalid', 'r11 as the stored value');
  t.equal(bad(insn(0x7b, 12, 1, -8)), 'R12 is invalid', 'r12 is AX in merged');
  t.equal(bad(insn(0x7a, 11, 0, -80, 1)), 'stack arg write offset -80 exceeds max 7 stack args');
  t.equal(classifyStackArgInsn('merged', insn(0x7b, 10, 1, -8)), undefined, 'r10 is not a stack-arg insn');
  t.equal(classifyStackArgInsn('merged', insn(0x85, 0, 1, 0, 3)), undefined, 'a pseudo call src is no register');
});

t.test('legal forms: v4 and none', async (t) => {
  t.same(classifyStackArgInsn('v4', insn(0x79, 3, 12, -8)), { kind: 'load', off: -8, dst: 3 }, 'read back own slot');
  t.same(classifyStackArgInsn('v4', insn(0x7b, 12, 2, -16)), { kind: 'store', off: -16, src: 2 });
  const msg = (s: Series, i: ReturnType<typeof insn>): string | undefined => {
    const f = classifyStackArgInsn(s, i);
    return f?.kind === 'invalid' ? f.message : undefined;
  };
  t.equal(msg('v4', insn(0x62, 12, 0, -8, 30)), 'stack arg write must be 8 bytes, got 4');
  t.equal(msg('v4', insn(0x6b, 12, 1, -8)), 'stack arg write must be 8 bytes, got 2');
  t.equal(msg('v4', insn(0x73, 12, 1, -8)), 'stack arg write must be 8 bytes, got 1');
  t.equal(msg('v4', insn(0x7b, 12, 1, -4)), 'R12 is invalid');
  t.equal(msg('v4', insn(0x61, 0, 12, 8)), 'R12 is invalid');
  t.equal(msg('v4', insn(0x79, 0, 11, 8)), 'R11 is invalid', 'r11 is AX in v4');
  t.equal(msg('none', insn(0x79, 0, 11, 8)), 'R11 is invalid');
  t.equal(msg('none', insn(0x7b, 12, 1, -8)), 'R12 is invalid');
  t.same(extraRegs(insn(0xbf, 0, 12, 0)), [12]);
  t.same(extraRegs(insn(0xb7, 0, 12, 0)), [], 'a K-form ALU ignores src');
  t.same(extraRegs(insn(0x95, 0, 0, 0)), []);
});

t.test('messages and argument names', async (t) => {
  t.equal(notInitializedMessage('v4', 6, 7), 'stack arg#6 not properly initialized');
  t.equal(notInitializedMessage('merged', 5, 7), 'callee expects 7 args, stack arg1 is not initialized');
  t.equal(notInitializedMessage('merged', 6, 10), 'callee expects 10 args, stack arg2 is not initialized');
  t.equal(argName('merged', 5, 6), '*(R11-8)');
  t.equal(argName('merged', 9, 10), '*(R11-40)');
  t.equal(argName('merged', 0, 10), 'R1');
  t.equal(argName('v4', 5, 6), 'arg#5');
  t.equal(message('merged', 'progAuxStackArg', argName('merged', 5, 6)), '*(R11-8) prog->aux cannot be a stack argument');
  t.equal(message('v4', 'releaseStackArg', 5), 'arg#5 release arg cannot be a stack argument');
  t.equal(message('merged', 'unrecognizedType', '*(R11-8)', 'STRUCT'), 'Unrecognized *(R11-8) type STRUCT');
  t.equal(message('merged', 'writesUnused', 0, 5, 2), 'func#0 writes 5 stack arg slots, but calls only require 2');
  t.equal(message('merged', 'invalidRead', 8, 0), 'invalid read from stack arg off 8 depth 0');
  t.equal(message('v4', 'tooManyArgs', 'f', 13, 12), 'Function f has 13 > 12 args');
  t.equal(fixedUpKfuncOff('v4', 9, 0), 4);
  t.equal(fixedUpKfuncOff('v4', 3, 7), 0);
  t.equal(fixedUpKfuncOff('merged', 9, 7), 7);
});

// ---- run time ---------------------------------------------------------------------------

const PARAMS6 = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => ({ name, type: 'long' }));

/** main + one callee at `calleeStart` with `params` declared (or not). */
function prog(text: string, calleeStart?: number, params = PARAMS6): Program {
  const insns = assemble(text);
  const funcs: Program['funcs'][number][] = [{ start: 0, name: 'main', linkage: 'global' }];
  if (calleeStart !== undefined) funcs.push({ start: calleeStart, name: 'callee', linkage: 'static', ...(params ? { params } : {}) });
  return { name: 't', progType: 'SCHED_CLS', insns, maps: [], funcs, license: 'GPL', flags: 0 };
}
const run = (p: Program, series: Series): RunResult => runProgram(p, { series });
const value = (r: RunResult): number | string => (r.ok ? Number(r.retval) : (r.fault ?? '?'));

t.test('interpreter: passing arg 6 to a subprogram under each series', async (t) => {
  // main: r1..r5 = 0, arg 6 = 42; callee returns its arg 6.
  const tail = 'r0 = 0; exit';
  const v4 = prog(`r1 = 0; r2 = 0; r3 = 0; r4 = 0; r5 = 0; *(u64 *)(r12 - 8) = 42; call pc+1; exit; r0 = *(u64 *)(r12 + 8); exit; ${tail}`, 8);
  const merged = prog(`r1 = 0; r2 = 0; r3 = 0; r4 = 0; r5 = 0; *(u64 *)(r11 - 8) = 42; call pc+1; exit; r0 = *(u64 *)(r11 + 8); exit; ${tail}`, 8);
  t.equal(value(run(v4, 'v4')), 42);
  t.equal(value(run(merged, 'merged')), 42);
  t.match(value(run(v4, 'merged')), /R12 is invalid under series merged/);
  t.match(value(run(merged, 'v4')), /R11 is invalid under series v4/);
  t.match(value(run(merged, 'none')), /R11 is invalid \(no stack-argument series\)/);
});

t.test('interpreter: v4 places args by the callee arity, and needs it', async (t) => {
  const PARAMS7 = [...PARAMS6, { name: 'g', type: 'long' }];
  // arg6 = 6 at r12-16, arg7 = 7 at r12-8; the callee returns arg6 * 10 + arg7.
  const text = '*(u64 *)(r12 - 16) = 6; *(u64 *)(r12 - 8) = 7; call pc+1; exit; r0 = *(u64 *)(r12 + 8); r0 *= 10; r1 = *(u64 *)(r12 + 16); r0 += r1; exit';
  t.equal(value(run(prog(text, 4, PARAMS7), 'v4')), 67);
  const noParams = prog(text, 4, undefined as unknown as typeof PARAMS7);
  t.match(value(run({ ...noParams, funcs: [noParams.funcs[0]] }, 'v4')), /argument count is unknown/);
  // merged without declared params passes the written slots from r11-8 down.
  const m = '*(u64 *)(r11 - 8) = 6; *(u64 *)(r11 - 16) = 7; call pc+1; exit; r0 = *(u64 *)(r11 + 8); r0 *= 10; r1 = *(u64 *)(r11 + 16); r0 += r1; exit';
  t.equal(value(run({ ...prog(m), funcs: [{ start: 0, name: 'main', linkage: 'global' }] }, 'merged')), 67);
});

t.test('interpreter: slots survive calls in v4, not in merged', async (t) => {
  const PARAMS = PARAMS6;
  // Two calls, one store: v4 passes 5 twice (10); merged faults at the second call.
  const v4 = prog('*(u64 *)(r12 - 8) = 5; call pc+4; r6 = r0; call pc+2; r0 += r6; exit; r0 = *(u64 *)(r12 + 8); exit', 6, PARAMS);
  const merged = prog('*(u64 *)(r11 - 8) = 5; call pc+4; r6 = r0; call pc+2; r0 += r6; exit; r0 = *(u64 *)(r11 + 8); exit', 6, PARAMS);
  t.equal(value(run(v4, 'v4')), 10);
  t.match(value(run(merged, 'merged')), /stack arg 6 \(r11-8\) is not initialized/);
  // A helper call invalidates too (merged).
  const helper = prog('*(u64 *)(r11 - 8) = 5; call 7; call pc+1; exit; r0 = *(u64 *)(r11 + 8); exit', 4, PARAMS);
  t.match(value(run(helper, 'merged')), /not initialized/);
});

t.test('interpreter: v4 reads back outgoing slots; merged cannot', async (t) => {
  t.equal(value(run(prog('*(u64 *)(r12 - 8) = 9; r0 = *(u64 *)(r12 - 8); exit'), 'v4')), 9);
  t.match(value(run(prog('r0 = *(u64 *)(r12 - 16); exit'), 'v4')), /uninitialized outgoing stack arg slot -16/);
  t.match(value(run(prog('r0 = *(u64 *)(r12 + 8); exit'), 'v4')), /0 incoming stack args/);
  t.match(value(run(prog('r0 = *(u64 *)(r11 - 8); exit'), 'merged')), /R11 is invalid/);
});

t.test('interpreter: private opcodes in a program are invalid, not stack-arg forms', async (t) => {
  const p: Program = { ...prog('r0 = 0; exit'), insns: [{ code: 0xff, dst: 0, src: 0, off: 0, imm: 0 }, ...assemble('r0 = 0; exit')] };
  t.match(value(run(p, 'merged')), /invalid opcode 0xff/);
  t.match(value(run(p, 'none')), /invalid opcode 0xff/);
});
