// What the interpreter gained for corpus retval parity, each checked on a small program of
// ours whose retval depends on the modelled behaviour (the corpus programs mostly discard
// what these helpers return): arenas, the bits iterator, dynptr slices, struct bpf_map
// fields, cgroup storage, skb helpers, the netfilter ctx and the may_goto-sized instruction
// bound. The expected values are what the live 6.18 kernel returns; as root the same
// programs are test-run on the kernel too, so the expectations cannot drift from it.

import { kfuncsYaml } from './lib/kfunc-yaml.ts';
import t from 'tap';
import { checkKernelRetvals, liveKernelSkip } from './lib/live-kernel.ts';
import { loadSuiteText } from '../harness/spec/load.ts';
import { planSuites } from '../harness/run/plan.ts';
import { runProgram, MapStore } from '../engine/runtime/index.ts';
import { testRun, testRunEnv } from '../engine/runtime/test-run.ts';
import { BPF_MAP_STRUCT } from '../engine/runtime/maps.ts';
import { DEFAULT_USER_VM_START, PAGE_SIZE, userVmStartOf } from '../engine/runtime/arena.ts';
import { RECALC_HASH } from '../engine/runtime/skb-helpers.ts';
import type { Program } from '../engine/program/types.ts';

const KFUNCS = ['bpf_arena_alloc_pages', 'bpf_arena_free_pages', 'bpf_iter_bits_new', 'bpf_iter_bits_next', 'bpf_iter_bits_destroy', 'bpf_dynptr_from_skb', 'bpf_dynptr_slice'];

/** One test per behaviour: name, section, body, and the retval the 6.18 kernel returns. */
const PROBES: readonly { name: string; section: string; retval: number; asm: string }[] = [
  {
    // alloc 2 pages; write page 1; free page 0: page 0 reads 0, page 1 keeps 7, page 2 (never
    // allocated) reads 0; no run of 2 free pages is left; the last page can be taken by address.
    name: 'arena_alloc_free', section: 'syscall', retval: 7 + 3 * PAGE_SIZE,
    asm: `
      r1 = %[arena] ll; r2 = 0; w3 = 2; w4 = -1; r5 = 0;
      call %[bpf_arena_alloc_pages];
      if r0 == 0 goto l_fail;
      r6 = r0;
      r7 = addr_space_cast(r6, 0, 1);
      w1 = 7;
      *(u32 *)(r7 + 4096) = r1;
      r1 = %[arena] ll; r2 = r6; w3 = 1;
      call %[bpf_arena_free_pages];
      r8 = *(u32 *)(r7 + 0);
      r1 = *(u32 *)(r7 + 4096);
      r8 += r1;
      r1 = *(u32 *)(r7 + 8192);
      r8 += r1;
      r1 = %[arena] ll; r2 = r6; r2 += 12288; w3 = 1; w4 = -1; r5 = 0;
      call %[bpf_arena_alloc_pages];
      if r0 == 0 goto l_fail;
      r0 -= r6;
      r8 += r0;
      r1 = %[arena] ll; r2 = 0; w3 = 2; w4 = -1; r5 = 0;
      call %[bpf_arena_alloc_pages];
      if r0 != 0 goto l_fail;
      r0 = r8;
      exit;
    l_fail:
      r0 = -1;
      exit;`,
  },
  {
    // A page offset cast to the arena's space and back is the address alloc returned; NULL stays NULL.
    name: 'arena_cast_round_trip', section: 'syscall', retval: 1,
    asm: `
      r1 = %[arena] ll; r2 = 0; w3 = 1; w4 = -1; r5 = 0;
      call %[bpf_arena_alloc_pages];
      r6 = r0;
      r7 = addr_space_cast(r6, 0, 1);
      r8 = addr_space_cast(r7, 1, 0);
      r0 = 0;
      if r8 != r6 goto l_out;
      r1 = 0;
      r1 = addr_space_cast(r1, 1, 0);
      if r1 != 0 goto l_out;
      r0 = 1;
    l_out:
      exit;`,
  },
  {
    // Bits 0, 1, 4, 63 of one word: sum of indices 68, 4 bits -> 684.
    name: 'bits_one_word', section: 'syscall', retval: 684,
    asm: `
      r1 = 0x8000000000000013 ll;
      *(u64 *)(r10 - 24) = r1;
      r1 = r10; r1 += -16; r2 = r10; r2 += -24; w3 = 1;
      call %[bpf_iter_bits_new];
      r6 = 0; r7 = 0;
    l_loop:
      r1 = r10; r1 += -16;
      call %[bpf_iter_bits_next];
      if r0 == 0 goto l_done;
      r1 = *(u32 *)(r0 + 0);
      r6 += r1;
      r7 += 1;
      goto l_loop;
    l_done:
      r1 = r10; r1 += -16;
      call %[bpf_iter_bits_destroy];
      r0 = r6; r0 *= 10; r0 += r7;
      exit;`,
  },
  {
    // Two words (the allocated copy): bits 5 and 64 + 2 -> 71.
    name: 'bits_two_words', section: 'syscall', retval: 71,
    asm: `
      r1 = 32; *(u64 *)(r10 - 32) = r1;
      r1 = 4; *(u64 *)(r10 - 24) = r1;
      r1 = r10; r1 += -16; r2 = r10; r2 += -32; w3 = 2;
      call %[bpf_iter_bits_new];
      r6 = 0;
    l_loop:
      r1 = r10; r1 += -16;
      call %[bpf_iter_bits_next];
      if r0 == 0 goto l_done;
      r1 = *(u32 *)(r0 + 0);
      r6 += r1;
      goto l_loop;
    l_done:
      r1 = r10; r1 += -16;
      call %[bpf_iter_bits_destroy];
      r0 = r6;
      exit;`,
  },
  {
    // new's errors: 0 words -EINVAL (22), 512 words -E2BIG (7), NULL -EINVAL: 22 + 7*100 + 22*10000.
    name: 'bits_errors', section: 'syscall', retval: 22 + 700 + 220000,
    asm: `
      r1 = 1; *(u64 *)(r10 - 24) = r1;
      r1 = r10; r1 += -16; r2 = r10; r2 += -24; w3 = 0;
      call %[bpf_iter_bits_new];
      r6 = 0; r6 -= r0;
      r1 = r10; r1 += -16;
      call %[bpf_iter_bits_destroy];
      r1 = r10; r1 += -16; r2 = r10; r2 += -24; w3 = 512;
      call %[bpf_iter_bits_new];
      r0 *= -100; r6 += r0;
      r1 = r10; r1 += -16;
      call %[bpf_iter_bits_destroy];
      r1 = r10; r1 += -16; r2 = 0; w3 = 1;
      call %[bpf_iter_bits_new];
      r0 *= -10000; r6 += r0;
      r1 = r10; r1 += -16;
      call %[bpf_iter_bits_destroy];
      r0 = r6;
      exit;`,
  },
  {
    // struct bpf_map fields through the map pointer: max_entries 7, value_size 48, key_size 4.
    name: 'map_struct_fields', section: 'socket', retval: 74804,
    asm: `
      r1 = %[array_48b] ll;
      r0 = *(u32 *)(r1 + ${BPF_MAP_STRUCT.max_entries});
      r2 = *(u32 *)(r1 + ${BPF_MAP_STRUCT.value_size});
      r3 = *(u32 *)(r1 + ${BPF_MAP_STRUCT.key_size});
      r0 *= 100; r0 += r2; r0 *= 100; r0 += r3;
      exit;`,
  },
  {
    // cgroup storage starts zeroed and keeps what the program wrote (cgroup_skb returns 0/1).
    name: 'cgroup_storage_rw', section: 'cgroup/skb', retval: 1,
    asm: `
      r1 = %[cgroup_storage] ll; r2 = 0;
      call bpf_get_local_storage#81;
      r1 = *(u32 *)(r0 + 0);
      r1 += 5;
      *(u32 *)(r0 + 0) = r1;
      r1 = %[cgroup_storage] ll; r2 = 0;
      call bpf_get_local_storage#81;
      r1 = *(u32 *)(r0 + 0);
      r0 = 0;
      if r1 != 5 goto l_out;
      r0 = 1;
    l_out:
      exit;`,
  },
  {
    // A test run's skb has no CHECKSUM_COMPLETE csum: -ENOTSUPP.
    name: 'csum_update_no_csum', section: 'tc', retval: -524,
    asm: `
      r2 = 0;
      call bpf_csum_update#40;
      exit;`,
  },
  {
    // change_head(34) on lwt_xmit: len 50 -> 84 and data_end - data follows; flags -> -EINVAL.
    name: 'skb_change_head_len', section: 'lwt_xmit', retval: (84 << 16) | (84 << 8) | 22,
    asm: `
      r6 = r1;
      r2 = 34; r3 = 0;
      call bpf_skb_change_head#43;
      if r0 != 0 goto l_out;
      r1 = r6; r2 = 2; r3 = 1;
      call bpf_skb_change_head#43;
      r7 = 0; r7 -= r0;
      r0 = *(u32 *)(r6 + 0);
      r2 = *(u32 *)(r6 + 76);
      r3 = *(u32 *)(r6 + 80);
      r3 -= r2;
      r0 <<= 8; r0 += r3; r0 <<= 8; r0 += r7;
    l_out:
      exit;`,
  },
  {
    // The recomputed hash is what __sk_buff.hash then reads, and never 0.
    name: 'hash_recalc_visible', section: 'tc', retval: 1,
    asm: `
      r6 = r1;
      call bpf_get_hash_recalc#34;
      r1 = *(u32 *)(r6 + 68);
      r2 = r0;
      r0 = 0;
      if w2 == 0 goto l_out;
      if w1 != w2 goto l_out;
      r0 = 1;
    l_out:
      exit;`,
  },
  {
    // bpf_nf_ctx: state->hook 3 (LOCAL_OUT), state->pf 2 (IPv4), skb->len 64 (netfilter
    // programs return a verdict, 0 or 1: 1 when all three hold).
    name: 'netfilter_ctx', section: 'netfilter', retval: 1,
    asm: `
      r2 = *(u64 *)(r1 + 0);
      r3 = *(u64 *)(r1 + 8);
      r0 = 0;
      r4 = *(u8 *)(r2 + 0);
      if r4 != 3 goto l_out;
      r4 = *(u8 *)(r2 + 1);
      if r4 != 2 goto l_out;
      r4 = *(u32 *)(r3 + 112);
      if r4 != 64 goto l_out;
      r0 = 1;
    l_out:
      exit;`,
  },
  {
    // Slices of the skb dynptr: [56, 64) is there, [60, 68) is not (1 only then).
    name: 'dynptr_slice_bounds', section: 'netfilter', retval: 1,
    asm: `
      r1 = *(u64 *)(r1 + 8);
      r2 = 0; r3 = r10; r3 += -16;
      call %[bpf_dynptr_from_skb];
      r1 = r10; r1 += -16; w2 = 56; r3 = r10; r3 += -32; w4 = 8;
      call %[bpf_dynptr_slice];
      r6 = 0;
      if r0 == 0 goto l_second;
      r6 = 1;
    l_second:
      r1 = r10; r1 += -16; w2 = 60; r3 = r10; r3 += -32; w4 = 8;
      call %[bpf_dynptr_slice];
      if r0 == 0 goto l_out;
      r6 = 0;
    l_out:
      r0 = r6;
      exit;`,
  },
];

const SUITE = `suite: runtime_corpus_fixes
license: GPL
base_flags: 0
func_info: true
maps:
  arena: {type: arena, key_size: 0, value_size: 0, max_entries: 4, flags: 1024}
  array_48b: {type: array, key_size: 4, value_size: 48, max_entries: 7}
  cgroup_storage: {type: cgroup_storage, key_size: 16, value_size: 64, max_entries: 0}
kfuncs:
${kfuncsYaml(KFUNCS)}tests:
${PROBES.map((p) => `  - name: ${p.name}\n    section: ${p.section}\n    asm: |${p.asm.split('\n').map((l) => `\n      ${l.trim()}`).join('')}\n    expect:\n      result: success\n      retval: ${p.retval}\n`).join('')}`;

const suite = loadSuiteText(SUITE, 'runtime-corpus-fixes.yaml');
const kfuncNames = new Map((suite.kfuncs ?? []).map((k) => [k.btfId, k.name]));
const items = planSuites([suite], { backends: ['kernel'] }).filter((i) => i.mode === 'priv');

t.test('each probe returns the kernel value in the interpreter', async (t) => {
  t.equal(items.length, PROBES.length);
  for (const it of items) {
    const r = runProgram(it.request.program, testRunEnv(it.request.program, { kfuncs: kfuncNames }));
    t.ok(r.ok, `${it.test} runs${r.ok ? '' : `: ${r.fault}`}`);
    t.equal(Number(BigInt.asIntN(32, r.retval)), it.expect.retval?.kind === 'value' ? it.expect.retval.value : NaN, `${it.test} retval`);
  }
});

t.test('live: the 6.18 kernel returns the same values', { skip: liveKernelSkip() }, (t) =>
  checkKernelRetvals(t, items, (it) => it.expect.retval?.kind === 'value' ? it.expect.retval.value : NaN));

t.test('arena: the __arena globals (arena_data) hold the first pages, with their bytes', async (t) => {
  const prog = items.find((i) => i.test === 'arena_cast_round_trip')!.request.program;
  const probe: Program = { ...prog, insns: prog.insns.slice(0, 7).concat([{ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]) };
  const data = Uint8Array.from({ length: PAGE_SIZE + 8 }, (_, i) => i & 0xff);
  const withData: Program = { ...probe, maps: probe.maps.map((m) => (m.type === 'ARENA' ? { ...m, arenaData: data } : m)) };
  const first = DEFAULT_USER_VM_START + 0x100000000n - 4n * BigInt(PAGE_SIZE);
  const r = runProgram(withData, testRunEnv(withData, { kfuncs: kfuncNames }));
  t.equal(r.retval, first + 2n * BigInt(PAGE_SIZE), 'alloc(NULL) gets the page after the two the globals take');
  const store = MapStore.fromDefs(withData.maps);
  const arena = store.maps.find((m) => m.arena)!.arena!;
  t.equal(arena.alloc(first, 1, -1, 0n), 0n, 'page 0 is taken');
  // Read through the 32-bit arena form, as PROBE_MEM32 code reaches the pages.
  const loadsAt = (off: number): number => store.space.resolve(0, Number(first & 0xffffffffn) + off, 1, false).view.getUint8(store.space.off);
  t.same([loadsAt(0), loadsAt(255), loadsAt(PAGE_SIZE + 7)], [0, 255, (PAGE_SIZE + 7) & 0xff], 'the globals\' bytes are in place');
});

t.test('arena: user addresses start at user_vm_start (map_extra when given, else the top of a 4 GB window)', async (t) => {
  const prog = items.find((i) => i.test === 'arena_cast_round_trip')!.request.program;
  const probe: Program = { ...prog, insns: prog.insns.slice(0, 7).concat([{ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]) };
  const r = runProgram(probe, testRunEnv(probe, { kfuncs: kfuncNames }));
  t.equal(r.retval, DEFAULT_USER_VM_START + 0x100000000n - 4n * BigInt(PAGE_SIZE), 'the first page of the default 4-page arena');
  const big = { name: 'a', type: 'ARENA' as const, keySize: 0, valueSize: 0, maxEntries: 1 << 20, flags: 1024 };
  t.equal(userVmStartOf(big, 0) & 0xffffffffn, 0n, 'a 4 GB arena fills its window');
  const extra = 0x100000000000n;
  const withExtra: Program = { ...probe, maps: probe.maps.map((m) => (m.type === 'ARENA' ? { ...m, mapExtra: extra } : m)) };
  t.equal(runProgram(withExtra, testRunEnv(withExtra, { kfuncs: kfuncNames })).retval, extra, 'map_extra');
});

t.test('arena: a map-value ld_imm64 is the arena user address plus the offset', async (t) => {
  const arena = suite.maps.find((m) => m.type === 'ARENA')!;
  const prog: Program = {
    name: 'p', progType: 'SYSCALL', maps: [arena], funcs: [{ start: 0, name: 'p', linkage: 'global' }], license: 'GPL', flags: 0,
    insns: [
      { code: 0x18, dst: 0, src: 2, off: 0, imm: 0, next: { code: 0, dst: 0, src: 0, off: 0, imm: 0x40 } },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ],
  };
  t.equal(runProgram(prog, testRunEnv(prog)).retval, userVmStartOf(arena, 0) + 0x40n);
});

t.test('maps are read-only struct bpf_map regions and helpers still find them', async (t) => {
  const store = MapStore.fromDefs(suite.maps);
  const arr = store.get('array_48b')!;
  t.equal(store.byHandle(arr.handle.hi, arr.handle.lo), arr);
  t.equal(store.byHandle(arr.handle.hi, arr.handle.lo + 8), undefined, 'only the start is the map');
  t.equal(arr.struct.view.getUint32(BPF_MAP_STRUCT.map_type, true), 2, 'BPF_MAP_TYPE_ARRAY');
  t.notOk(arr.struct.writable);
});

t.test('get_hash_recalc returns its fixed stand-in for the per-boot flow hash', async (t) => {
  const it = items.find((i) => i.test === 'hash_recalc_visible')!;
  const prog: Program = { ...it.request.program, insns: it.request.program.insns.slice(0, 2).concat([{ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]) };
  t.equal(runProgram(prog, testRunEnv(prog)).retval, BigInt(RECALC_HASH));
});

t.test('the default instruction bound lets a frame spend its whole may_goto budget', async (t) => {
  const loop = loadSuiteText('suite: l\ntests:\n  - name: l\n    section: socket\n    asm: |\n      l0:\n      may_goto l1;\n      goto l0;\n      l1:\n      r0 = 3;\n      exit;\n', 'l.yaml');
  const prog = loop.tests[0].program;
  const r = runProgram(prog, testRunEnv(prog));
  t.ok(r.ok, r.fault ?? 'completes');
  t.equal(r.retval, 3n);
  t.ok(r.insnsExecuted > 16_000_000, `${r.insnsExecuted} instructions`);
});

t.test('TRACING test runs report the kernel test functions, not the (unattached) program', async (t) => {
  const base: Program = {
    name: 'f', progType: 'TRACING', maps: [], funcs: [{ start: 0, name: 'f', linkage: 'global' }], license: 'GPL', flags: 0,
    // Would fault on the NULL ctx if it ran.
    insns: [{ code: 0x79, dst: 0, src: 1, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }],
  };
  const run = (attach: string) => testRun({ ...base, expectedAttachType: attach });
  t.same([run('TRACE_FENTRY').ok, run('TRACE_FENTRY').retval], [true, 0n], 'fentry: 0');
  t.same([run('TRACE_FEXIT').ok, run('TRACE_FEXIT').retval], [true, 0n], 'fexit: 0');
  // bpf_modify_return_test(1, &b=2) = 4 and _test2(1, &b=2, 3, 4, 5, 6, 7) = 29, b changed twice.
  t.equal(run('MODIFY_RETURN').retval, (2n << 16n) | 33n, 'fmod_ret: side effects and sum');
  t.notOk(run('TRACE_ITER').ok, 'other attach types fail');
  t.notOk(testRun({ ...base, progType: 'SYSCALL' }).ok, 'any other type runs the program (here: a NULL read)');
});
