// The patch/remove bookkeeping behind every xlated rewrite: jumps across an edit are
// re-aimed, the old slot's facts move to the last new slot, subprog starts shift.

import t from 'tap';
import type { RawSlot } from '../engine/isa/insn.ts';
import { XProg, type XAux } from '../engine/verifier/fixup/xprog.ts';
import { hardWireDeadBranches, removeDeadCode, removeNops } from '../engine/verifier/fixup/dead-code.ts';

const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): RawSlot => ({ code, dst, src, off, imm });
const mov = (d: number, imm: number): RawSlot => I(0xb7, d, 0, 0, imm);
const mov32 = (d: number, imm: number): RawSlot => I(0xb4, d, 0, 0, imm);
const exit = I(0x95);
const aux = (n: number, seen = true): XAux[] => Array.from({ length: n }, (_, i) => ({ seen, zextDst: false, orig: i }));

t.test('patch: forward and backward jumps across the patched slot move, jumps to it land on its start', async (tt) => {
  // 0: if r0 == 0 goto +2 (to 3)   1: r1 = 1 (patched into 3)   2: goto -3 (to 0)   3: exit
  const x = new XProg([I(0x15, 0, 0, 2), mov(1, 1), I(0x05, 0, 0, -3), exit], aux(4), [0]);
  x.aux[1].ptrType = 7;
  x.patch(1, [mov(2, 2), mov(3, 3), mov(1, 1)]);
  tt.equal(x.len, 6);
  tt.equal(x.slots[0].off, 4, 'forward jump over the patch grows by 2');
  tt.equal(x.slots[4].off, -5, 'backward jump over the patch grows by 2');
  tt.equal(x.aux[3].ptrType, 7, 'the old facts sit on the last new slot');
  tt.equal(x.aux[1].ptrType, undefined);
  tt.same(x.aux.map((a) => a.orig), [0, 1, 1, 1, 2, 3]);
});

t.test('patch: new 32-bit defs are marked zero-extended, the last one included', async (tt) => {
  const x = new XProg([mov32(1, 1), exit], aux(2), [0]);
  x.patch(0, [mov32(2, 2), mov(3, 3), mov32(1, 1)]);
  tt.same(x.aux.map((a) => a.zextDst), [true, false, true, false]);
});

t.test('patch: subprog starts after the patch move; a pseudo call is re-aimed', async (tt) => {
  const x = new XProg([I(0x85, 0, 1, 0, 2), mov(0, 0), exit, mov(0, 1), exit], aux(5), [0, 3]);
  x.patch(1, [mov(0, 0), mov(0, 0)]);
  tt.same(x.subprogStarts, [0, 4]);
  tt.equal(x.slots[0].imm, 3, 'call pc+3 now');
});

t.test('dead code: a never-taken branch becomes goto +0 and then goes; unreached slots go', async (tt) => {
  // 0: r0 = 0  1: if r0 != 0 goto +2  2: r0 = 7  3: exit  4: r0 = 9 (unseen)  5: exit (unseen)
  const x = new XProg([mov(0, 0), I(0x55, 0, 0, 2), mov(0, 7), exit, mov(0, 9), exit], aux(6), [0]);
  x.aux[4].seen = false;
  x.aux[5].seen = false;
  hardWireDeadBranches(x);
  tt.same(x.slots[1], I(0x05), 'goto pc+0');
  removeDeadCode(x);
  removeNops(x);
  tt.same(x.slots, [mov(0, 0), mov(0, 7), exit]);
});

t.test('dead code: an unreached fall-through makes the branch unconditional', async (tt) => {
  const x = new XProg([mov(0, 0), I(0x15, 0, 0, 2), mov(0, 7), exit, mov(0, 9), exit], aux(6), [0]);
  x.aux[2].seen = false;
  x.aux[3].seen = false;
  hardWireDeadBranches(x);
  tt.same(x.slots[1], I(0x05, 0, 0, 2));
  removeDeadCode(x);
  tt.same(x.slots, [mov(0, 0), I(0x05), mov(0, 9), exit], 'the goto now points at the next slot');
  removeNops(x);
  tt.same(x.slots, [mov(0, 0), mov(0, 9), exit]);
});

t.test('nops: gotol pc+0 stays, goto pc+0 goes', async (tt) => {
  const x = new XProg([mov(0, 1), I(0x05), I(0x06), exit], aux(4), [0]);
  removeNops(x);
  tt.same(x.slots, [mov(0, 1), I(0x06), exit]);
});
