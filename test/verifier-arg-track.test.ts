// merged arg tracking (bpf-next liveness.c): the lattice (join, offsets, frames), its
// printer, the transfer function, and the pre-pass as the verifier runs it (merged only;
// v4 and plain 6.18 logs carry none of it). Expected values follow the rules written in
// docs/series.md "arg tracking (merged)".

import t from 'tap';
import {
  type ArgTrack, NONE, UNVISITED, addConst, alu64, argTrackEq, fpAt, fpOffToSlot, fpUnknown, imprecise, join,
  mergeOffsets, stackArgOffToSlot, TRACKED, MAX_ARG_SPILL_SLOTS,
} from '../engine/verifier/liveness/arg-track.ts';
import { argTrackText, joinLine, listingLine, trackLabel, transitionLine } from '../engine/verifier/liveness/arg-track-print.ts';
import { argTrackXfer, type ArgState } from '../engine/verifier/liveness/arg-track-xfer.ts';
import { program, run, REGS5, type Sub } from './lib/verifier-stack-arg-lib.ts';

const fp = (frame: number, ...offs: number[]): ArgTrack => ({ kind: 'fp', frame, offs });
const text = (a: ArgTrack): string => argTrackText(a);

t.test('printer: every lattice level', async (tt) => {
  tt.equal(text(NONE), '_');
  tt.equal(text(UNVISITED), '?');
  tt.equal(text(imprecise(3)), 'IMP3');
  tt.equal(text(imprecise(0x1f)), 'IMP1f', 'mask in hex');
  tt.equal(text(fpUnknown(1)), 'fp1 ?');
  tt.equal(text(fpAt(0, 0)), 'fp0+0', 'zero keeps its sign');
  tt.equal(text(fp(0, -16, -8, 0)), 'fp0-16|fp0-8|fp0+0');
  tt.equal(text(fpAt(2, 24)), 'fp2+24');
});

t.test('printer: labels and lines', async (tt) => {
  tt.same([0, 10, 11, 17, -1, -64].map(trackLabel), ['r0', 'r10', 'sa0', 'sa6', 'fp-8', 'fp-512']);
  tt.equal(joinLine(9, 10, 11, fpAt(0, -8), NONE, fp(0, -8, 0)), 'arg JOIN insn 9 -> 10 sa0: fp0-8 + _ => fp0-8|fp0+0\n');
  const regs = new Array<ArgTrack>(TRACKED).fill(NONE);
  const out = [...regs];
  out[1] = fpAt(0, -8);
  out[11] = fpAt(0, -8);
  const stack = new Array<ArgTrack>(MAX_ARG_SPILL_SLOTS).fill(NONE);
  const stackOut = [...stack];
  stackOut[2] = fpAt(0, -8);
  tt.equal(transitionLine(5, '(07) r1 += -8', regs, out, stack, stackOut, argTrackEq), '  5: (07) r1 += -8\tr1: _ -> fp0-8\tsa0: _ -> fp0-8\tfp-24: _ -> fp0-8\n',
    'registers, then slots, then spills');
  tt.equal(transitionLine(5, '(05) goto pc+1', regs, regs, stack, stack, argTrackEq), '', 'nothing changed: no line');
  tt.equal(listingLine(12, '(79) r0 = *(u64 *)(r1 +0)', true, out, stackOut), ' 12: (79) r0 = *(u64 *)(r1 +0) // r1=fp0-8 sa0=fp0-8 fp-24=fp0-8\n');
  tt.equal(listingLine(12, '(07) r1 += 1', false, out, stackOut), ' 12: (07) r1 += 1\n', 'only loads, stores and calls are annotated');
  const withR10 = [...regs];
  withR10[10] = fpAt(0, 0);
  tt.equal(listingLine(3, '(85) call pc+2', true, withR10, stack), '  3: (85) call pc+2\n', 'r10 is never listed');
});

t.test('join: unvisited and none', async (tt) => {
  tt.same(join(UNVISITED, fpAt(0, -8)), fpAt(0, -8), 'unreached side adopts the other');
  tt.same(join(fpAt(0, -8), UNVISITED), fpAt(0, -8));
  tt.same(join(NONE, NONE), NONE);
  tt.same(join(fpAt(0, -8), NONE), fp(0, -8, 0), 'single offset + none gains a fake +0');
  tt.same(join(NONE, fpAt(1, -8)), fp(1, -8, 0));
  tt.same(join(fp(0, -16, -8), NONE), fp(0, -16, -8), 'several offsets + none unchanged');
  tt.same(join(fpUnknown(0), NONE), fpUnknown(0));
  tt.same(join(fpAt(0, 0), NONE), fpAt(0, 0), 'fp+0 + none is a fixed point');
  tt.same(join(imprecise(2), NONE), imprecise(2));
});

t.test('join: same frame merges offsets, up to four', async (tt) => {
  tt.same(join(fpAt(0, -8), fpAt(0, -16)), fp(0, -16, -8), 'sorted');
  tt.same(join(fp(0, -16, -8), fp(0, -8, 0)), fp(0, -16, -8, 0), 'deduplicated');
  tt.same(join(fp(0, -32, -24, -16, -8), fpAt(0, -40)), fpUnknown(0), 'a fifth offset: unknown');
  tt.same(join(fpUnknown(1), fpAt(1, -8)), fpUnknown(1));
  tt.same(mergeOffsets(0, [-8], [-8]), fpAt(0, -8));
});

t.test('join: different frames lose the frame', async (tt) => {
  tt.same(join(fpAt(0, -8), fpAt(1, -8)), imprecise(3));
  tt.same(join(imprecise(1), fpAt(2, 0)), imprecise(5));
  tt.same(join(imprecise(1), imprecise(6)), imprecise(7));
  tt.ok(argTrackEq(imprecise(3), imprecise(3)));
  tt.notOk(argTrackEq(imprecise(3), imprecise(1)));
  tt.notOk(argTrackEq(fpAt(0, -8), fpAt(1, -8)));
  tt.notOk(argTrackEq(fp(0, -8), fpUnknown(0)));
});

t.test('arithmetic on tracked values', async (tt) => {
  tt.same(addConst(fp(0, -16, 0), -8), fp(0, -24, -8));
  tt.same(addConst(fpAt(0, -32000), -1000), fpUnknown(0), 's16 overflow forgets the offsets');
  tt.same(addConst(fpAt(0, -8), 0x10000), fpUnknown(0), 'a delta beyond s16 too');
  tt.same(addConst(imprecise(1), 8), imprecise(1));
  tt.same(alu64(fpAt(0, -8), NONE), fpUnknown(0), 'ptr op scalar keeps the frame');
  tt.same(alu64(NONE, fpAt(1, -8)), fpUnknown(1), 'the pointer side leaks into dst');
  tt.same(alu64(fpAt(0, -8), fpAt(1, 0)), imprecise(3));
  tt.same(alu64(NONE, NONE), NONE);
});

t.test('slot numbering', async (tt) => {
  tt.same([-8, -16, -512, -520, -4, 0, 8].map(fpOffToSlot), [0, 1, 63, -1, -1, -1, -1]);
  tt.same([-8, 8, -56, 56, -64, -80].map(stackArgOffToSlot), [0, 0, 6, 6, -1, -1], 'beyond seven slots: none');
});

const entry = (): ArgState => {
  const regs = new Array<ArgTrack>(TRACKED).fill(NONE);
  regs[10] = fpAt(0, 0);
  return { regs, stack: new Array<ArgTrack>(MAX_ARG_SPILL_SLOTS).fill(NONE) };
};
const ctx = { depth: 0, stackArgEntry: new Array<ArgTrack>(7).fill(NONE), parentStack: () => undefined };
const ins = (code: number, dst: number, src: number, off: number, imm: number) => ({ code, dst, src, off, imm });
const step = (s: ArgState, ...list: ReturnType<typeof ins>[]): ArgState => list.reduce((st, i) => argTrackXfer(i, st, ctx), s);

t.test('transfer: moves, stores, loads, calls', async (tt) => {
  // r1 = r10; r1 += -16; *(u64 *)(r10 -8) = r1; r2 = *(u64 *)(r10 -8)
  const s1 = step(entry(), ins(0xbf, 1, 10, 0, 0), ins(0x07, 1, 0, 0, -16), ins(0x7b, 10, 1, -8, 0), ins(0x79, 2, 10, -8, 0));
  tt.same(s1.regs[1], fpAt(0, -16));
  tt.same(s1.stack[0], fpAt(0, -16), 'spilled');
  tt.same(s1.regs[2], fpAt(0, -16), 'filled');
  // r3 = r10; r3 += -8; r4 = *(u64 *)(r3 +0): a fill through a register joins from none
  const s2 = step(s1, ins(0xbf, 3, 10, 0, 0), ins(0x07, 3, 0, 0, -8), ins(0x79, 4, 3, 0, 0));
  tt.same(s2.regs[4], fp(0, -16, 0));
  // *(u64 *)(r11 -16) = r1 -> sa1; *(u64 *)(r11 -8) = 5 -> sa0 none
  const s3 = step(s2, ins(0x7b, 11, 1, -16, 0), ins(0x7a, 11, 0, -8, 5));
  tt.same(s3.regs[12], fpAt(0, -16));
  tt.same(s3.regs[11], NONE);
  // a 4-byte store over fp-8 forgets the spilled pointer; w1 = w1 drops r1
  const s4 = step(s3, ins(0x62, 10, 0, -8, 0), ins(0xbc, 1, 1, 0, 0));
  tt.same(s4.stack[0], NONE);
  tt.same(s4.regs[1], NONE);
  // a call clears r0..r5, keeps r6.. and the spill slots
  const s5 = step(step(s1, ins(0xbf, 6, 1, 0, 0)), ins(0x85, 0, 0, 0, 7));
  tt.same([s5.regs[1], s5.regs[2], s5.regs[6], s5.stack[0]], [NONE, NONE, fpAt(0, -16), fpAt(0, -16)]);
  // r1 = (s8)r2 (movsx, off 8) is not a pointer
  tt.same(step(s1, ins(0xbf, 1, 2, 8, 0)).regs[1], NONE);
});

t.test('transfer: an incoming stack argument and a parent-frame load', async (tt) => {
  const parent = new Array<ArgTrack>(MAX_ARG_SPILL_SLOTS).fill(NONE);
  parent[1] = fpAt(0, -40);
  const c = { depth: 1, stackArgEntry: [fpAt(0, -16), NONE, NONE, NONE, NONE, NONE, NONE], parentStack: (f: number) => (f === 0 ? parent : undefined) };
  const s0 = entry();
  const s1 = argTrackXfer(ins(0x79, 1, 11, 8, 0), s0, c); // r1 = *(u64 *)(r11 +8)
  tt.same(s1.regs[1], fpAt(0, -16));
  const s2 = argTrackXfer(ins(0x79, 2, 1, 0, 0), s1, c); // r2 = *(u64 *)(r1 +0): the caller's fp-16
  tt.same(s2.regs[2], fp(0, -40, 0));
  const s3 = argTrackXfer(ins(0x79, 3, 1, 8, 0), s1, c); // r3 = *(r1 +8): fp0-8, slot 0
  tt.same(s3.regs[3], NONE, 'an unspilled slot of the caller holds none');
});

// The pre-pass as verify() runs it.
const deref: Sub = { name: 'deref', nargs: 6, asm: 'r1 = *(u64 *)(r11 + 8); r0 = *(u64 *)(r1 + 0); exit;' };
const branchy = `r0 = 0; *(u64 *)(r10 - 8) = r0; call bpf_get_prandom_u32; if r0 == 0 goto l_s;
  r0 = r10; r0 += -8; *(u64 *)(r11 - 8) = r0; goto l_c;
  l_s: *(u64 *)(r11 - 8) = 42;
  l_c: ${REGS5} call deref; r0 = 0; exit;`;

t.test('verify: merged prints the pre-pass before the live-regs table', async (tt) => {
  const r = run(program(branchy, [deref]), 'merged', 2);
  const log = r.log;
  tt.match(log, 'arg JOIN insn 8 -> 9 sa0: fp0-8 + _ => fp0-8|fp0+0\n');
  tt.match(log, 'arg JOIN insn 8 -> 9 r0: fp0-8 + _ => fp0-8|fp0+0\n');
  tt.match(log, 'subprog#1: analyzing (depth 1)...\n 17: (79) r1 = *(u64 *)(r11 +8)\tr1: _ -> fp0-8|fp0+0\n');
  tt.ok(log.indexOf('subprog#0: analyzing (depth 0)...') < log.indexOf('Live regs before insn:'), 'before the table');
  tt.ok(log.indexOf('Live regs before insn:') < log.indexOf('0: R1=ctx() R10=fp0'), 'the walk comes after');
  tt.equal(log.split('subprog#0: analyzing').length, 2, 'main analysed once');
  tt.notOk(r.accepted, 'arg6 may be a scalar');
});

t.test('verify: v4 and plain 6.18 have no arg tracking', async (tt) => {
  for (const series of ['v4', 'none'] as const) {
    const log = run(program('r1 = r10; r1 += -8; r0 = 0; exit;'), series, 2).log;
    tt.notMatch(log, 'analyzing', `${series}: no pre-pass`);
    tt.notMatch(log, 'arg JOIN', `${series}: no joins`);
    tt.match(log, /^func#0 @0\nLive regs before insn:\n/, `${series}: the table follows the subprog list directly`);
  }
  const merged = run(program('r1 = r10; r1 += -8; r0 = 0; exit;'), 'merged', 2).log;
  tt.match(merged, /^func#0 @0\nsubprog#0: analyzing \(depth 0\)\.\.\.\n {2}0: \(bf\) r1 = r10\tr1: _ -> fp0\+0\n/);
  tt.notMatch(run(program('r1 = r10; r0 = 0; exit;'), 'merged', 1).log, 'analyzing', 'level 1: silent');
});

t.test('verify: a chain of 16 pointer-passing calls exceeds the pre-pass depth (EINVAL, no message)', async (tt) => {
  const subs: Sub[] = [];
  for (let i = 0; i < 16; i++) subs.push({ name: `f${i}`, nargs: 1, asm: i < 15 ? `call f${i + 1}; exit;` : 'r0 = 0; exit;' });
  const r = run(program('r1 = r10; r1 += -8; call f0; exit;', subs), 'merged', 1);
  tt.notOk(r.accepted);
  tt.equal(r.errno, 22);
  tt.notMatch(r.log, 'too deep', 'the main walk never ran');
  const none = run(program('r1 = r10; r1 += -8; call f0; exit;', subs), 'none', 1);
  tt.match(none.log, 'the call stack of 9 frames is too deep', '6.18 reaches the walk');
});
