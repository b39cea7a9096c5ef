// Programs near the size limits: every pass over the program must be iterative (no JS stack
// overflow on a long straight line or a long jump chain) and linear-ish (deleting many no-ops
// at once must give what the kernel's one-at-a-time deletion gives).

import t from 'tap';
import type { Insn, RawSlot } from '../engine/isa/insn.ts';
import type { Program } from '../engine/program/types.ts';
import { verify } from '../engine/verifier/index.ts';
import { XProg, type XAux } from '../engine/verifier/fixup/xprog.ts';
import { removeDeadCode, removeNops } from '../engine/verifier/fixup/dead-code.ts';
import { BPF_JCOND, BPF_JMP, BPF_MAY_GOTO, LD_IMM64 } from '../engine/isa/opcodes.ts';
import { xorshift32 } from './lib/rng.ts';

const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });
const prog = (insns: Insn[], progType: Program['progType'] = 'SOCKET_FILTER'): Program =>
  ({ name: 't', progType, insns, maps: [], funcs: [], license: 'GPL', flags: 0 });

const JA = 0x05;
const MAY_GOTO = BPF_JMP | BPF_JCOND;

/** `gotol end; l1: r0 = 0; r0 += 1 (n times); exit; end: gotol l1` (verifier_gotol's
 *  large_imm, longer): one straight path as long as the program. */
function gotolLine(n: number): Insn[] {
  const insns = [I(0x06, 0, 0, 0, n + 2), I(0xb7, 0, 0, 0, 0)];
  for (let i = 0; i < n; i++) insns.push(I(0x07, 0, 0, 0, 1));
  insns.push(I(0x95), I(0x06, 0, 0, 0, -(n + 3)));
  return insns;
}

t.test('a 200k-insn straight line verifies (liveness, SCCs and the CFG walk are iterative)', async (tt) => {
  const n = 200_000;
  const r = verify(prog(gotolLine(n)), { logLevel: 1, unpriv: false, series: 'none' });
  tt.equal(r.accepted, true);
  tt.match(r.log, new RegExp(`processed ${n + 4} insns`));
  tt.equal(r.xlated?.length, n + 4, 'no insn is dead; gotol pc+N stays');
});

t.test('a chain of 200k `goto +0` verifies and every no-op leaves the xlated program', async (tt) => {
  const n = 200_000;
  const insns = [I(0xb7, 0, 0, 0, 7)];
  for (let i = 0; i < n; i++) insns.push(I(JA));
  insns.push(I(0x95));
  const r = verify(prog(insns), { logLevel: 1, unpriv: false, series: 'none' });
  tt.equal(r.accepted, true);
  tt.same(r.xlated?.map((i) => i.code), [0xb7, 0x95]);
});

t.test('bpf_prog_load length limits: 4096 slots unprivileged, 1M with CAP_BPF', async (tt) => {
  const at = (n: number, unpriv: boolean) => verify(prog(gotolLine(n - 4)), { logLevel: 1, unpriv, series: 'none' });
  const over = at(4097, true);
  tt.same([over.accepted, over.errno, over.log], [false, 7, ''], 'E2BIG before the verifier: no log');
  tt.equal(at(4096, true).errno, 0);
  // 4096 instructions, 4097 slots: r1 = 1 ll; then the line.
  const withLd = [{ ...I(LD_IMM64, 1, 0, 0, 1), next: I(0) }, ...gotolLine(4095 - 4)];
  tt.equal(withLd.length, 4096);
  const twoSlots = verify(prog(withLd), { logLevel: 1, unpriv: true, series: 'none' });
  tt.equal(twoSlots.errno, 7, 'an ld_imm64 counts as two slots');
});

// --- batch deletion against one-at-a-time deletion ---

const aux = (n: number, seen: (i: number) => boolean): XAux[] => Array.from({ length: n }, (_, i) => ({ seen: seen(i), zextDst: false, orig: i }));

/** The kernel's order: delete one slot at a time, scanning forward; after a `may_goto +0`
 *  look again at the slot before. Uses XProg.remove (one edit per no-op). */
function removeNopsOneByOne(x: XProg): void {
  const same = (s: RawSlot, code: number, src: number): boolean => s.code === code && s.dst === 0 && s.src === src && s.off === 0 && s.imm === 0;
  for (let i = 0; i < x.len; i++) {
    const mayGoto0 = same(x.slots[i], MAY_GOTO, BPF_MAY_GOTO);
    if (!mayGoto0 && !same(x.slots[i], JA, 0)) continue;
    x.remove(i, 1);
    i -= mayGoto0 && i > 0 ? 2 : 1;
  }
}

function removeDeadOneRunAtATime(x: XProg): void {
  for (let i = 0; i < x.len; i++) {
    let j = 0;
    while (i + j < x.len && !x.aux[i + j].seen) j++;
    if (j) x.remove(i, j);
  }
}

/** Random slots rich in no-ops, forward jumps and may_gotos that turn into no-ops. */
function randomSlots(next: () => number, n: number): { slots: RawSlot[]; starts: number[] } {
  // The main program never consists of no-ops only (its last insn is an exit or a jump).
  const slots: RawSlot[] = [I(0xb7, 0, 0, 0, 0)];
  for (let i = 1; i < n; i++) {
    const room = n - i - 1;
    const off = room > 0 ? next() % Math.min(room, 4) : 0;
    switch (next() % 7) {
      case 0: slots.push(I(JA)); break;
      case 1: slots.push(I(MAY_GOTO, 0, BPF_MAY_GOTO, off)); break;
      case 2: slots.push(I(JA, 0, 0, off)); break;
      case 3: slots.push(I(0x15, 1, 0, room > 0 ? off : 0)); break;
      case 4: slots.push(I(JA, 0, 0, -Math.min(i, 1 + (next() % 3)))); break;
      case 5:
        if (room >= 1) {
          slots.push(I(LD_IMM64, 1, 0, 0, 5), I(0));
          i++;
        } else slots.push(I(0xb7, 0, 0, 0, 1));
        break;
      default: slots.push(I(0xb7, next() % 10, 0, 0, i));
    }
  }
  slots.push(I(0x95));
  // No jump may land inside an ld_imm64 (check_cfg refuses that).
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i];
    if (s.code === LD_IMM64) i++;
    else if ((s.code & 0x07) === 0x05 && s.code !== 0x95 && slots[i + s.off]?.code === LD_IMM64 && s.off !== 0) slots[i] = I(0xb7, 0, 0, 0, 1);
  }
  const starts = [0];
  for (let i = 1; i < slots.length; i++) if (slots[i - 1].code !== LD_IMM64 && next() % 23 === 0) starts.push(i);
  return { slots, starts };
}

/** Random `seen` flags that keep do_check's invariant: a reached jump's target is reached
 *  (hardWireDeadBranches has turned jumps into dead code into `goto +0` before), and an
 *  ld_imm64's second half goes with its first. */
function reachedSomehow(slots: readonly RawSlot[], bits: boolean[]): (i: number) => boolean {
  const isJump = (s: RawSlot): boolean => (s.code & 0x07) === 0x05 && s.code !== 0x95 && s.code !== 0x85;
  for (let changed = true; changed;) {
    changed = false;
    for (let i = 0; i < slots.length; i++) {
      if (!bits[i] || !isJump(slots[i])) continue;
      const t = i + slots[i].off + 1;
      if (!bits[t]) bits[t] = changed = true;
    }
  }
  return (i) => (i > 0 && slots[i - 1].code === LD_IMM64 ? bits[i - 1] : bits[i]);
}

t.test('removeNops and removeDeadCode delete at once exactly what one-at-a-time deletion does', async (tt) => {
  const next = xorshift32(0x5eed7);
  let nops = 0;
  for (let round = 0; round < 400; round++) {
    const { slots, starts } = randomSlots(next, 4 + (next() % 40));
    const seen = reachedSomehow(slots, slots.map(() => next() % 5 !== 0));
    const a = new XProg(slots.map((s) => ({ ...s })), aux(slots.length, seen), [...starts]);
    const b = new XProg(slots.map((s) => ({ ...s })), aux(slots.length, seen), [...starts]);
    removeDeadCode(a);
    removeDeadOneRunAtATime(b);
    tt.same([a.slots, a.aux.map((x) => x.orig), a.subprogStarts], [b.slots, b.aux.map((x) => x.orig), b.subprogStarts], `dead code, round ${round}`);
    const before = a.len;
    removeNops(a);
    removeNopsOneByOne(b);
    nops += before - a.len;
    tt.same([a.slots, a.aux.map((x) => x.orig), a.subprogStarts], [b.slots, b.aux.map((x) => x.orig), b.subprogStarts], `nops, round ${round}`);
  }
  tt.ok(nops > 400, `${nops} no-ops deleted`);
});
