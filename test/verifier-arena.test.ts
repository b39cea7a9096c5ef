// Arena programs in the verifier (checks/arena.ts, fixup/arena.ts): the verdicts, log lines
// and xlated rewrites of specs/arena.yaml (each confirmed on the live 6.18 kernel), the JIT
// input the verifier hands on (PROBE_MEM32 where the dump shows MEM), and the rewrite
// helpers on hand-made instructions.

import t from 'tap';
import { loadSuiteFile } from '../harness/spec/index.ts';
import { planSuites } from '../harness/run/plan.ts';
import type { RunItem } from '../harness/run/plan.ts';
import { verify } from '../engine/verifier/index.ts';
import type { RawSlot } from '../engine/isa/insn.ts';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ATOMIC, BPF_DW, BPF_FETCH, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MOV, BPF_OR,
  BPF_STX, BPF_W, BPF_X, BPF_XCHG, BPF_XOR, bpfMode,
} from '../engine/isa/opcodes.ts';
import { RegType } from '../engine/verifier/state/types.ts';
import { XProg, type XAux } from '../engine/verifier/fixup/xprog.ts';
import {
  BPF_PROBE_ATOMIC, BPF_PROBE_MEM32, BPF_PROBE_MEM32SX, arenaAluFixups, arenaDef32, convertArenaAccesses, dumpForm,
} from '../engine/verifier/fixup/arena.ts';
import { arenaAtomicSupported, arenaValueAddr } from '../engine/verifier/checks/arena.ts';
import type { MapDef } from '../engine/program/types.ts';

const items = planSuites(['specs/arena.yaml', 'specs/arena_maps.yaml'].map((f) => loadSuiteFile(f)), { backends: ['engine'] });
const find = (name: string): RunItem => {
  const it = items.find((i) => i.request.program.name === name && !i.request.unpriv);
  if (!it) throw new Error(`no test ${name}`);
  return it;
};
const verifyTest = (name: string, logLevel = 2) => verify(find(name).request.program, { logLevel, unpriv: false, series: 'none' });

t.test('casts, arena ALU and accesses: verdict, log and xlated', async (t) => {
  const cast = verifyTest('cast_both_ways');
  t.ok(cast.accepted);
  t.match(cast.log, /r2 = addr_space_cast\(r6, 0, 1\)\s+; R2=arena R6=4096\n/);
  t.match(cast.log, /r3 = addr_space_cast\(r2, 1, 0\)\s+; R2=arena R3=scalar\(\)\n/);
  const codes = cast.xlated!.map((i) => i.code);
  // r2 = addr_space_cast(r6, 0, 1) is now `w2 = w6`; the cast back is kept for the JIT.
  t.equal(codes[2], BPF_ALU | BPF_MOV | BPF_X);
  t.same([cast.xlated![2].off, cast.xlated![2].imm], [0, 0]);
  t.equal(codes[3], BPF_ALU64 | BPF_MOV | BPF_X);
  t.same([cast.xlated![3].off, cast.xlated![3].imm], [1, 1 << 16]);
  // The load through the arena pointer: MEM in the dump, PROBE_MEM32 for the JIT.
  t.equal(bpfMode(cast.xlated![4].code), BPF_MEM);
  t.equal(bpfMode(cast.jitInsns![4].code), BPF_PROBE_MEM32);
  t.ok(cast.hasArena);

  const alu = verifyTest('alu_on_arena');
  t.ok(alu.accepted);
  t.match(alu.log, /r3 \+= r2\s+; R2=arena R3=arena\n/, 'a scalar destination takes the arena pointer');
  const aluClasses = alu.xlated!.slice(4, 8).map((i) => i.code & 7);
  t.same(aluClasses, [BPF_ALU, BPF_ALU, BPF_ALU, BPF_ALU], '64-bit arena ALU runs in 32 bits');
});

t.test('rejections carry the kernel messages', async (t) => {
  for (const [name, re, errno] of [
    ['cast_without_arena', /addr_space_cast insn can only be used in a program that has an associated arena\n/, 22],
    ['cast_bad_address_space', /addr_space_cast insn can only convert between address space 1 and 0\n/, 22],
    ['two_arenas', /Only one arena per program\n/, 16],
    ['map_arg_stack_pointer', /pointer in R1 isn't map pointer\n/, 22],
    ['map_arg_map_value', /R1 must be referenced or trusted\n/, 22],
    ['alloc_result_is_scalar', /R0 invalid mem access 'scalar'\n/, 13],
    ['atomic_fetch_or_refused', /BPF_ATOMIC stores into R2 arena is not allowed\n/, 13],
    ['mixed_pointer_types', /same insn cannot be used with different pointers\n/, 22],
    ['alloc_not_sleepable', /program must be sleepable to call sleepable kfunc bpf_arena_alloc_pages\n/, 13],
  ] as const) {
    const r = verifyTest(name, 1);
    t.notOk(r.accepted, name);
    t.equal(r.errno, errno, `${name} errno`);
    t.match(r.log, re, name);
  }
});

t.test('arena pointers prune against each other; kfunc map arguments pass', async (t) => {
  const p = verifyTest('prune_any_arena');
  t.ok(p.accepted);
  t.match(p.log, /\n10: safe\n/);
  const nuc = verifyTest('no_user_conv', 1);
  t.ok(nuc.xlated!.slice(2, 4).every((i) => i.code === (BPF_ALU | BPF_MOV | BPF_X)), 'BPF_F_NO_USER_CONV: both casts are 32-bit moves');
  for (const name of ['alloc_store_load_free', 'array_map_as_arena', 'atomics', 'ldsx', 'spill_fill']) t.ok(verifyTest(name, 1).accepted, name);
});

t.test('direct values into an arena are user addresses', async (t) => {
  const r = verifyTest('direct_value');
  t.ok(r.accepted);
  t.match(r.log, /0: \(18\) r1 = 0x1000ffffe008\s+; R1=scalar\(\)\n/);
  t.same([r.xlated![0].src, r.xlated![0].imm, r.xlated![0].next?.imm], [0, 0xffffe008 | 0, 0x1000]);
  const def = { type: 'ARENA', mapExtra: 0x1000ffffe000n } as unknown as MapDef; // only mapExtra is read
  t.equal(arenaValueAddr(def, 8), 0x1000ffffe008n);
  t.equal(arenaValueAddr({ ...def, mapExtra: undefined } as unknown as MapDef, 8), undefined);
});

// ---- the rewrite helpers on plain instructions ----------------------------------------

const slot = (code: number, dst = 1, src = 2, off = 0, imm = 0): RawSlot => ({ code, dst, src, off, imm });
const xprog = (slots: RawSlot[], aux: Partial<XAux>[]): XProg =>
  new XProg(slots, slots.map((_, i) => ({ seen: true, zextDst: false, orig: i, ...aux[i] })), [0]);

t.test('convertArenaAccesses: probe modes by the pointer type do_check saw', async (t) => {
  const arena = { ptrType: RegType.PTR_TO_ARENA };
  const x = xprog(
    [
      slot(BPF_LDX | BPF_MEM | BPF_W), slot(BPF_LDX | BPF_MEMSX | BPF_W), slot(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 2, 0, BPF_ADD),
      slot(BPF_STX | BPF_MEM | BPF_DW), slot(BPF_LDX | BPF_MEM | BPF_W),
    ],
    [arena, arena, arena, arena, { ptrType: RegType.PTR_TO_STACK }],
  );
  convertArenaAccesses(x);
  t.same(x.slots.map((s) => bpfMode(s.code)), [BPF_PROBE_MEM32, BPF_PROBE_MEM32SX, BPF_PROBE_ATOMIC, BPF_PROBE_MEM32, BPF_MEM]);
  // The dump shows PROBE_MEM32 as MEM, the other probe modes as they are.
  t.same(x.slots.map((s) => bpfMode(dumpForm(s).code)), [BPF_MEM, BPF_PROBE_MEM32SX, BPF_PROBE_ATOMIC, BPF_MEM, BPF_MEM]);
});

t.test('arenaAluFixups and arenaDef32', async (t) => {
  const toKern = slot(BPF_ALU64 | BPF_MOV | BPF_X, 3, 4, 1, 1);
  const toUser = slot(BPF_ALU64 | BPF_MOV | BPF_X, 3, 4, 1, 1 << 16);
  const add = slot(BPF_ALU64 | BPF_ADD | BPF_X, 3, 4);
  const plain = slot(BPF_ALU64 | BPF_ADD | BPF_X, 5, 6);
  const x = xprog([toKern, toUser, add, plain], [{}, {}, { arenaZext: true }, {}]);
  t.ok(arenaDef32(toKern, x.aux[0]));
  t.notOk(arenaDef32(toUser, x.aux[1]), 'the cast back is a 64-bit def');
  t.ok(arenaDef32(add, x.aux[2]));
  t.notOk(arenaDef32(plain, x.aux[3]));
  arenaAluFixups(x, false);
  t.same(x.slots[0], slot(BPF_ALU | BPF_MOV | BPF_X, 3, 4, 0, 0));
  t.same(x.slots[1], toUser);
  t.equal(x.slots[2].code, BPF_ALU | BPF_ADD | BPF_X);
  t.same(x.slots[3], plain);
  const y = xprog([toUser], [{}]);
  arenaAluFixups(y, true);
  t.same(y.slots[0], slot(BPF_ALU | BPF_MOV | BPF_X, 3, 4, 0, 0), 'BPF_F_NO_USER_CONV');
});

t.test('x86-64 arena atomics: all but the fetching and/or/xor', async (t) => {
  for (const imm of [BPF_ADD, BPF_ADD | BPF_FETCH, BPF_AND, BPF_OR, BPF_XOR, BPF_XCHG]) t.ok(arenaAtomicSupported(imm), `imm ${imm}`);
  for (const imm of [BPF_AND | BPF_FETCH, BPF_OR | BPF_FETCH, BPF_XOR | BPF_FETCH]) t.notOk(arenaAtomicSupported(imm), `imm ${imm}`);
});
