// Maps and helpers in the interpreter: lookup/update/delete over hash/array/percpu/lru,
// array-of-maps, map-value ld_imm64, tail calls (PROG_ARRAY, the 33-call limit), bpf_loop
// and bpf_for_each_map_elem callbacks, prandom determinism, trace_printk capture.

import t from 'tap';
import { assemble } from '../engine/isa/asm/index.ts';
import type { Insn } from '../engine/isa/insn.ts';
import type { MapDef, Program } from '../engine/program/types.ts';
import { MapStore, MAX_TAIL_CALL_CNT, runProgram, type RunEnv } from '../engine/runtime/index.ts';

const u32 = (v: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); return b; };
const u64 = (v: bigint): Uint8Array => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, v, true); return b; };
const map = (name: string, type: MapDef['type'], extra: Partial<MapDef> = {}): MapDef =>
  ({ name, type, keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, ...extra });
const prog = (text: string, maps: MapDef[] = [], name = 't'): Program => ({
  name, progType: 'SOCKET_FILTER', insns: assemble(text) as Insn[], maps,
  funcs: [{ start: 0, name: 'main', linkage: 'static' }], license: 'GPL', flags: 0,
});
const run = (p: Program, env: RunEnv = {}): bigint => {
  const r = runProgram(p, env);
  if (!r.ok) throw new Error(r.fault);
  return r.retval;
};

// key at fp-4, value at fp-16; map #0 in r1.
const LOOKUP = (key: number) => `*(u32 *)(r10 - 4) = ${key}; r2 = r10; r2 += -4; r1 = 0 ll; call 1;`;
const mapRef = (insns: Insn[]): Insn[] => insns.map((i) => (i.code === 0x18 && i.dst === 1 ? { ...i, src: 1 } : i));
const mprog = (text: string, maps: MapDef[], name = 't'): Program => ({ ...prog(text, maps, name), insns: mapRef(prog(text, maps).insns as Insn[]) });

t.test('array map: lookup gives a pointer into the value, out of range gives NULL', async (t) => {
  const m = map('arr', 'ARRAY', { init: [{ key: u32(2), value: u64(42n) }] });
  t.equal(run(mprog(`${LOOKUP(2)} if r0 == 0 goto +1; r0 = *(u64 *)(r0 + 0); exit`, [m])), 42n);
  t.equal(run(mprog(`${LOOKUP(4)} exit`, [m])), 0n, 'key == max_entries -> NULL');
  const store = MapStore.fromDefs([m]);
  run(mprog(`${LOOKUP(1)} if r0 == 0 goto +2; r1 = 7; *(u64 *)(r0 + 0) = r1; r0 = 0; exit`, [m]), { maps: store });
  t.same(store.get('arr')?.read(u32(1)), u64(7n), 'writes through the pointer land in the map');
  t.equal(run(mprog(`*(u32 *)(r10 - 4) = 0; r2 = r10; r2 += -4; r1 = 0 ll; call 3; exit`, [m])), BigInt.asUintN(64, -22n), 'array delete -> -EINVAL');
});

t.test('hash map: update flags, delete, E2BIG when full', async (t) => {
  const h = map('h', 'HASH', { maxEntries: 2 });
  const store = MapStore.fromDefs([h]);
  const upd = (key: number, val: number, flags: number): bigint => run(mprog(`
    *(u32 *)(r10 - 4) = ${key}; *(u64 *)(r10 - 16) = ${val};
    r2 = r10; r2 += -4; r3 = r10; r3 += -16; r4 = ${flags}; r1 = 0 ll; call 2; exit`, [h]), { maps: store });
  const neg = (e: number): bigint => BigInt.asUintN(64, BigInt(-e));
  t.equal(upd(1, 10, 2), neg(2), 'BPF_EXIST on a missing key -> -ENOENT');
  t.equal(upd(1, 10, 1), 0n, 'BPF_NOEXIST inserts');
  t.equal(upd(1, 11, 1), neg(17), 'BPF_NOEXIST on a present key -> -EEXIST');
  t.equal(upd(1, 12, 0), 0n);
  t.equal(upd(2, 20, 0), 0n);
  t.equal(upd(3, 30, 0), neg(7), 'full -> -E2BIG');
  t.same(store.get('h')?.read(u32(1)), u64(12n));
  t.equal(run(mprog(`${LOOKUP(2)} if r0 == 0 goto +1; r0 = *(u64 *)(r0 + 0); exit`, [h]), { maps: store }), 20n);
  t.equal(run(mprog(`*(u32 *)(r10 - 4) = 2; r2 = r10; r2 += -4; r1 = 0 ll; call 3; exit`, [h]), { maps: store }), 0n);
  t.equal(run(mprog(`${LOOKUP(2)} exit`, [h]), { maps: store }), 0n, 'deleted key -> NULL');
  const lru = map('l', 'LRU_HASH', { maxEntries: 1, init: [{ key: u32(1), value: u64(1n) }] });
  const ls = MapStore.fromDefs([lru]);
  t.equal(ls.get('l')?.update(u32(2), u64(2n), 0), 0, 'LRU evicts instead of failing');
  t.equal(ls.get('l')?.count, 1);
});

t.test('per-CPU maps hold one copy; lookup_percpu_elem only for cpu 0', async (t) => {
  const pa = map('pa', 'PERCPU_ARRAY', { init: [{ key: u32(0), value: u64(5n) }] });
  t.equal(run(mprog(`${LOOKUP(0)} if r0 == 0 goto +1; r0 = *(u64 *)(r0 + 0); exit`, [pa])), 5n);
  t.equal(run(mprog(`*(u32 *)(r10 - 4) = 0; r2 = r10; r2 += -4; r3 = 1; r1 = 0 ll; call 195; exit`, [pa])), 0n);
});

t.test('map value ld_imm64 points into an array value', async (t) => {
  const a = map('g', 'ARRAY', { maxEntries: 1, valueSize: 16, init: [{ key: u32(0), value: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]) }] });
  const insns: Insn[] = [
    { code: 0x18, dst: 1, src: 2, off: 0, imm: 0, next: { code: 0, dst: 0, src: 0, off: 0, imm: 8 } },
    { code: 0x71, dst: 0, src: 1, off: 0, imm: 0 },
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
  ];
  t.equal(run({ ...prog('exit', [a]), insns }), 9n);
});

t.test('array of maps: lookup returns the inner map, usable by helpers', async (t) => {
  const inner = map('inner', 'ARRAY', { init: [{ key: u32(0), value: u64(77n) }] });
  const outer = map('outer', 'ARRAY_OF_MAPS', { inner, init: [{ key: u32(0), value: u32(1) }] });
  const text = `${LOOKUP(0)} if r0 == 0 goto out; r1 = r0; *(u32 *)(r10 - 4) = 0; r2 = r10; r2 += -4; call 1;
    if r0 == 0 goto out; r0 = *(u64 *)(r0 + 0); out: exit`;
  t.equal(run(mprog(text, [outer, inner])), 77n);
});

t.test('tail calls: PROG_ARRAY targets, fall-through on a miss, the 33-call limit', async (t) => {
  const pa = map('jmp', 'PROG_ARRAY', { init: [{ key: u32(0), value: u32(0) }, { key: u32(1), value: u32(1) }] });
  const cnt = map('cnt', 'ARRAY', { maxEntries: 1 });
  const target = mprog('r0 = 42; exit', [pa], 'target');
  // Self-recursive: count in cnt[0], tail call slot 1 (itself) until the kernel's limit stops it.
  const selfText = `r6 = r1; *(u32 *)(r10 - 4) = 0; r2 = r10; r2 += -4; r1 = 0 ll; call 1; if r0 == 0 goto out;
    r1 = *(u64 *)(r0 + 0); r1 += 1; *(u64 *)(r0 + 0) = r1;
    r1 = r6; r2 = 0 ll; r3 = 1; call 12;
    out: r0 = 0; exit`;
  const selfInsns = prog(selfText, [cnt, pa]).insns.map((i) => (i.code === 0x18 ? { ...i, src: 1, imm: i.dst === 1 ? 0 : 1 } : i));
  const self: Program = { ...prog(selfText, [cnt, pa], 'self'), insns: selfInsns };
  const progs = [target, self];
  const main = prog(`r2 = 0 ll; r0 = 0; r3 = 0; call 12; r0 = 1; exit`, [pa], 'main');
  const mainInsns = main.insns.map((i) => (i.code === 0x18 ? { ...i, src: 1 } : i));
  t.equal(run({ ...main, insns: mainInsns }, { progs }), 42n, 'tail call replaces the program');
  const miss = mprog(`r0 = 5; r3 = 3; r2 = 0 ll; call 12; exit`, [pa]);
  t.equal(run({ ...miss, insns: miss.insns.map((i) => (i.code === 0x18 ? { ...i, dst: 2, src: 1 } : i)) }, { progs }), 5n, 'empty slot: falls through');
  const store = MapStore.fromDefs([cnt, pa], progs);
  run(self, { progs, maps: store });
  const count = new DataView((store.get('cnt')?.read(u32(0)) as Uint8Array).buffer).getBigUint64(0, true);
  t.equal(count, BigInt(MAX_TAIL_CALL_CNT + 1), 'the first run plus 33 tail calls');
});

t.test('bpf_loop and bpf_for_each_map_elem call back into BPF', async (t) => {
  // Sum 0..9 into the stack slot passed as ctx.
  const loop = `*(u64 *)(r10 - 8) = 0; r1 = 10; r2 = cb ll; r3 = r10; r3 += -8; r4 = 0; call 181;
    r6 = r0; r0 = *(u64 *)(r10 - 8); r0 <<= 8; r0 |= r6; exit;
    cb: r3 = *(u64 *)(r2 + 0); r3 += r1; *(u64 *)(r2 + 0) = r3; r0 = 0; exit`;
  t.equal(run(prog(loop)), (45n << 8n) | 10n, 'sum 45, 10 iterations');
  const early = `r1 = 10; r2 = cb ll; r3 = 0; r4 = 0; call 181; exit; cb: r0 = 0; if r1 != 3 goto +1; r0 = 1; exit`;
  t.equal(run(prog(early)), 4n, 'a callback returning 1 stops the loop (i + 1)');
  t.equal(run(prog(`r1 = 1; r2 = cb ll; r3 = 0; r4 = 1; call 181; exit; cb: r0 = 0; exit`)), BigInt.asUintN(64, -22n), 'flags -> -EINVAL');
  const arr = map('a', 'ARRAY', { maxEntries: 3, init: [0, 1, 2].map((k) => ({ key: u32(k), value: u64(BigInt(k + 1) * 10n) })) });
  const each = `*(u64 *)(r10 - 8) = 0; r1 = 0 ll; r2 = cb ll; r3 = r10; r3 += -8; r4 = 0; call 164;
    r6 = r0; r0 = *(u64 *)(r10 - 8); r0 <<= 8; r0 |= r6; exit;
    cb: r5 = *(u64 *)(r3 + 0); r0 = *(u64 *)(r4 + 0); r5 += r0; *(u64 *)(r4 + 0) = r5; r0 = 0; exit`;
  t.equal(run(mprog(each, [arr])), (60n << 8n) | 3n, 'values 10+20+30 over 3 elements');
});

t.test('prandom is seeded and deterministic; ktime is monotonic; trace_printk is captured', async (t) => {
  const p = prog('call 7; r6 = r0; call 7; r0 <<= 32; r0 |= r6; exit');
  t.equal(run(p, { seed: 1 }), run(p, { seed: 1 }));
  t.not(run(p, { seed: 1 }), run(p, { seed: 2 }));
  t.equal(run(prog('call 5; r6 = r0; call 5; if r0 > r6 goto +2; r0 = 0; exit; r0 = 1; exit')), 1n);
  const fmt = 'v=%d x=%x\n';
  const bytes = [...new TextEncoder().encode(fmt), 0];
  let text = '';
  bytes.forEach((b, i) => { text += `*(u8 *)(r10 - ${32 - i}) = ${b}; `; });
  const r = runProgram(prog(`${text} r1 = r10; r1 += -32; r2 = ${bytes.length}; r3 = -5; r4 = 255; call 6; exit`));
  t.same(r.trace, ['v=-5 x=ff\n']);
  t.equal(r.retval, BigInt('v=-5 x=ff\n'.length));
});

t.test('skb helpers: load_bytes in and out of range', async (t) => {
  const data = new Uint8Array(64).map((_, i) => i);
  const p = prog('r2 = 1; r3 = r10; r3 += -8; r4 = 4; call 26; r6 = r0; r0 = *(u32 *)(r10 - 8); if r6 == 0 goto +1; r0 = r6; exit');
  t.equal(run(p, { data }), BigInt(new DataView(data.buffer).getUint32(14 + 1, true)), 'offset is from skb->data (after the Ethernet header)');
  const far = prog('r2 = 48; r3 = r10; r3 += -8; r4 = 4; call 26; exit');
  t.equal(run(far, { data }), BigInt.asUintN(64, -14n), 'past skb->len -> -EFAULT');
});
