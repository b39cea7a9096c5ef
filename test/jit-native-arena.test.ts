// Native arena semantics: only allocated arena pages are accessible, and the JIT's exception
// table (engine/jit/native/fault.ts) fixes faults up as the kernel's ex_handler_bpf does: a
// load reads 0 into its destination, a store or an atomic is skipped, leaving every
// register as it was. The expected values are what the live 6.18 kernel returns; as root the
// same programs are test-run on the kernel too, so they cannot drift from it.

import { kfuncsYaml } from './lib/kfunc-yaml.ts';
import { runProgram } from '../engine/runtime/index.ts';
import { testRunEnv } from '../engine/runtime/test-run.ts';
import t from 'tap';
import { checkKernelRetvals, liveKernelSkip } from './lib/live-kernel.ts';
import { loadSuiteText } from '../harness/spec/load.ts';
import { planSuites } from '../harness/run/plan.ts';
import { NativePool } from '../engine/jit/native/pool.ts';
import { runNativeInProcess, type NativeEnv } from '../engine/jit/native/run.ts';
import { gregOffset, handlerCode, nativeExtable } from '../engine/jit/native/fault.ts';
import { jitProgram } from '../engine/jit/x86_64/compile.ts';
import { arenaRewrite } from '../engine/jit/native/arena.ts';
import { nativeFunctions } from '../engine/jit/native/run.ts';
import { X86 } from '../engine/jit/x86_64/regs.ts';
import type { Program } from '../engine/program/types.ts';

/** The part of the WebAssembly global this test uses (the project's TS lib has no DOM types). */
interface Wasm {
  instantiate(bytes: Uint8Array): Promise<{ instance: { exports: Record<string, unknown> } }>;
  RuntimeError: new () => Error;
}
const WebAssembly = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

const noNative = process.arch !== 'x64' || process.platform !== 'linux' ? 'native x86-64 execution needs linux/x64' : false;
const KFUNCS = ['bpf_arena_alloc_pages', 'bpf_arena_free_pages'];

/** Allocate page 0 of the 4-page arena; r6 = its 32-bit (kernel-space) form. Pages 1..3
 *  stay unallocated. */
const ALLOC = `
  r1 = %[arena] ll; r2 = 0; w3 = 1; w4 = -1; r5 = 0;
  call %[bpf_arena_alloc_pages];
  if r0 == 0 goto l_fail;
  r6 = addr_space_cast(r0, 0, 1);`;
const FAIL = `
  l_fail:
  r0 = -1;
  exit;`;

/** Every x86 register a BPF load can target (r0..r9: rax rdi rsi rdx rcx r8 rbx r13 r14 r15):
 *  preset to -1, loaded from page 1, must be 0. r9 is loaded through r8, the rest through r9. */
const EACH_REG = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((k) => `
  r${k} = -1;
  r${k} = *(u64 *)(r9 + 4096);
  if r${k} != 0 goto l_fail;`).join('') + `
  r8 = r9;
  r9 = -1;
  r9 = *(u64 *)(r8 + 4096);
  if r9 != 0 goto l_fail;`;

const PROBES: readonly { name: string; retval: number; asm: string }[] = [
  {
    // Stores (STX and ST, each size) to pages 1..3 are dropped and read back 0; the one to
    // page 0 is kept.
    name: 'store_unallocated_then_load', retval: 5,
    asm: `${ALLOC}
      r1 = 7;
      *(u64 *)(r6 + 4096) = r1;
      *(u32 *)(r6 + 8192) = 9;
      *(u8 *)(r6 + 12288) = r1;
      *(u16 *)(r6 + 12290) = 3;
      *(u16 *)(r6 + 0) = 5;
      r0 = *(u64 *)(r6 + 4096);
      r1 = *(u32 *)(r6 + 8192);
      r0 += r1;
      r1 = *(u8 *)(r6 + 12288);
      r0 += r1;
      r1 = *(u16 *)(r6 + 12290);
      r0 += r1;
      r0 <<= 8;
      r1 = *(u16 *)(r6 + 0);
      r0 += r1;
      exit;${FAIL}`,
  },
  {
    name: 'load_into_each_register', retval: 1,
    asm: `${ALLOC}
      r9 = r6;${EACH_REG}
      r0 = 1;
      exit;${FAIL}`,
  },
  {
    // Sizes and sign extension: every form of load reads 0 from a page that is not there.
    name: 'load_sizes_and_sign_extension', retval: 1,
    asm: `${ALLOC}
      r1 = -1; r1 = *(u8 *)(r6 + 4097);
      r2 = -1; r2 = *(u16 *)(r6 + 4098);
      r3 = -1; r3 = *(u32 *)(r6 + 4100);
      r4 = -1; r4 = *(s8 *)(r6 + 8193);
      r5 = -1; r5 = *(s16 *)(r6 + 8194);
      r7 = -1; r7 = *(s32 *)(r6 + 8196);
      r0 = 0;
      r1 |= r2; r1 |= r3; r1 |= r4; r1 |= r5; r1 |= r7;
      if r1 != 0 goto l_out;
      r0 = 1;
    l_out:
      exit;${FAIL}`,
  },
  {
    // Atomics on page 1 are skipped whole: fetch results keep the register's old value
    // (the kernel's DONT_CLEAR), the memory stays unmapped and reads 0. The 32-bit
    // cmpxchg's zero extension (a separate instruction) still runs: 0x1_0000_0006 -> 6.
    name: 'atomics_unallocated', retval: 0x0604_0306,
    asm: `${ALLOC}
      r1 = 5;
      lock *(u64 *)(r6 + 4096) += r1;
      lock *(u32 *)(r6 + 4096) |= w1;
      r2 = 3;
      r2 = atomic_fetch_add((u64 *)(r6 + 4096), r2);
      r3 = 4;
      r3 = atomic_xchg((u64 *)(r6 + 8192), r3);
      r0 = 6; r4 = 8;
      r0 = atomic_cmpxchg((u64 *)(r6 + 8192), r0, r4);
      r7 = r0;
      r0 = 1; r0 <<= 32; r0 |= 6;
      w0 = atomic_cmpxchg((u32 *)(r6 + 8192), w0, w4);
      r8 = r0;
      r1 = *(u64 *)(r6 + 4096);
      r5 = *(u64 *)(r6 + 8192);
      r1 |= r5;
      if r1 != 0 goto l_fail;
      r0 = r8; r0 <<= 8; r0 |= r3; r0 <<= 8; r0 |= r2; r0 <<= 8; r0 |= r7;
      exit;${FAIL}`,
  },
  {
    // load_acquire / store_release are PROBE_ATOMIC (class STX) too.
    name: 'acquire_release_unallocated', retval: 0x207,
    asm: `${ALLOC}
      r1 = 9;
      store_release((u64 *)(r6 + 4096), r1);
      r2 = 7;
      r2 = load_acquire((u64 *)(r6 + 4096));
      r3 = *(u64 *)(r6 + 4096);
      r3 += 2;
      r0 = r3; r0 <<= 8; r0 |= r2;
      exit;${FAIL}`,
  },
  {
    // A freed page faults again: the value written before the free is gone, a store after
    // it is dropped; re-allocating it gives a zeroed page.
    name: 'freed_page_faults_again', retval: 0x10002,
    asm: `${ALLOC}
      r7 = r0;
      r1 = 11;
      *(u64 *)(r6 + 0) = r1;
      r1 = %[arena] ll; r2 = r7; w3 = 1;
      call %[bpf_arena_free_pages];
      r1 = 12;
      *(u64 *)(r6 + 0) = r1;
      r8 = *(u64 *)(r6 + 0);
      r1 = %[arena] ll; r2 = r7; w3 = 1; w4 = -1; r5 = 0;
      call %[bpf_arena_alloc_pages];
      if r0 != r7 goto l_fail;
      r1 = *(u64 *)(r6 + 0);
      r1 += 2;
      r8 <<= 16;
      r0 = r8;
      r0 += r1;
      r0 += 0x10000;
      exit;${FAIL}`,
  },
];

const SUITE = `suite: jit_native_arena
license: GPL
base_flags: 0
func_info: true
maps:
  arena: {type: arena, key_size: 0, value_size: 0, max_entries: 4, flags: 1024}
kfuncs:
${kfuncsYaml(KFUNCS)}tests:
${PROBES.map((p) => `  - name: ${p.name}\n    section: syscall\n    asm: |${p.asm.split('\n').map((l) => `\n      ${l.trim()}`).join('')}\n    expect:\n      result: success\n      retval: ${p.retval}\n`).join('')}`;

const suite = loadSuiteText(SUITE, 'jit-native-arena.yaml');
const kfuncIds = (suite.kfuncs ?? []).map((k) => [k.btfId, k.name] as const);
const items = planSuites([suite], { backends: ['kernel'] }).filter((i) => i.mode === 'priv');
const programOf = (name: string): Program => items.find((i) => i.test === name)!.request.program;
const envOf = (): NativeEnv => ({ seed: 1, kfuncIds, data: new Uint8Array(0) });
const want = (name: string): number => PROBES.find((p) => p.name === name)!.retval;

t.test('the handler is the documented table walk (llvm-mc checked at development time)', async (t) => {
  const code = handlerCode(0x1122334455667788n, 64);
  t.same([...code.subarray(0, 2)], [0x49, 0xbb], 'movabs r11, data');
  t.equal(new DataView(code.buffer).getBigUint64(2, true), 0x1122334455667788n, 'the data page address');
  t.same([...code.subarray(-2)], [0xff, 0xe0], 'ends with jmp rax (the previous handler)');
  t.equal(gregOffset(X86.rax), 40 + 8 * 13, 'REG_RAX');
  t.equal(gregOffset(X86.r15), 40 + 8 * 7, 'REG_R15');
  t.equal(gregOffset(X86.rdi), 40 + 8 * 8, 'REG_RDI');
});

t.test('the native JIT lists every arena access in its exception table', async (t) => {
  const prog = programOf('atomics_unallocated');
  const funcs = nativeFunctions({ ...prog, insns: arenaRewrite(prog.insns) }).map((f) => ({ ...f, arena: { kernVmStart: 1n << 40n, userVmStart: 0n } }));
  const img = jitProgram(funcs, { mode: 'native', config: { indirectJump: 'plain' }, callTarget: () => 0n, ldImm64Value: () => 0n });
  const ex = img.funcs[0].extable ?? [];
  // 6 atomics, then 2 loads (the ones before `if r1 != 0`).
  t.equal(ex.length, 8, `${ex.length} entries`);
  t.same(ex.slice(0, 6).map((e) => e.clear), new Array(6).fill(undefined), 'atomics clear nothing');
  t.same(ex.slice(6).map((e) => e.clear), [X86.rdi, X86.r8], 'loads clear their dst (r1 = rdi, r5 = r8)');
  const code = img.funcs[0].code;
  t.ok(ex.slice(0, 6).every((e) => code[e.at] === 0xf0), 'each atomic entry starts at its lock prefix');
  const table = nativeExtable(img.funcs, 0x1000n);
  t.same(table.map((e) => e.rip), ex.map((e) => 0x1000n + BigInt(e.at)), 'native addresses');
});

t.test('native runs give the kernel values', { skip: noNative }, async (t) => {
  const pool = new NativePool({ size: 1 });
  t.teardown(() => pool.close());
  t.equal(items.length, PROBES.length);
  for (const it of items) {
    const got = await pool.run(it.request.program, envOf());
    t.ok(got.ok, `${it.test} runs${got.ok ? '' : `: ${got.error}`}`);
    t.equal(Number(BigInt.asIntN(32, got.retval)), want(it.test), `${it.test} retval`);
  }
});

t.test('the interpreter gives the kernel values too (faulting atomics leave registers alone)', async (t) => {
  for (const it of items) {
    const prog = it.request.program;
    const r = runProgram(prog, { ...testRunEnv(prog, { kfuncs: new Map(kfuncIds) }), seed: 1 });
    t.ok(r.ok, `${it.test} runs${r.ok ? '' : `: ${r.fault}`}`);
    t.equal(Number(BigInt.asIntN(32, r.retval)), want(it.test), `${it.test} retval`);
  }
});

t.test('a fault outside the table still kills the worker with SIGSEGV; the pool goes on', { skip: noNative }, async (t) => {
  const pool = new NativePool({ size: 1 });
  t.teardown(() => pool.close());
  const good = programOf('store_unallocated_then_load');
  // Warm the worker: its handler is installed.
  t.equal((await pool.run(good, envOf())).retval, 5n, 'an arena run first');
  // An arena program (so its table is live) whose last load goes through scalar 16.
  const insns = good.insns.slice();
  const exitAt = insns.findIndex((i) => i.code === 0x95);
  insns.splice(exitAt, 0, { code: 0xb7, dst: 1, src: 0, off: 0, imm: 16 }, { code: 0x79, dst: 0, src: 1, off: 0, imm: 0 });
  const fixJumps = insns.map((i, k) => (k < exitAt && (i.code & 7) === 5 && i.code !== 0x85 && k + 1 + i.off > exitAt ? { ...i, off: i.off + 2 } : i));
  const bad: Program = { ...good, insns: fixJumps };
  const r = await pool.run(bad, envOf());
  t.equal(r.ok, false);
  t.equal(r.signal, 'SIGSEGV', r.error ?? 'no error text');
  const after = await pool.run(good, envOf());
  t.same({ ok: after.ok, retval: after.retval }, { ok: true, retval: 5n }, 'the next run works in a fresh worker');
});

t.test('in process: V8 still handles its own wasm traps after the handler is installed', { skip: noNative }, async (t) => {
  const r = runNativeInProcess(programOf('load_into_each_register'), envOf());
  t.same({ ok: r.ok, retval: r.retval }, { ok: true, retval: 1n }, 'an arena run installs the handler here');
  // (module (memory 1) (func (export "f") (param i32) (result i32) local.get 0 i32.load))
  const wasm = Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f,
    0x03, 0x02, 0x01, 0x00,
    0x05, 0x03, 0x01, 0x00, 0x01,
    0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00,
    0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x0b,
  ]);
  const inst = await WebAssembly.instantiate(wasm);
  const f = inst.instance.exports.f as (x: number) => number;
  t.equal(f(0), 0, 'an in-bounds load');
  t.throws(() => f(0x7ffffff0), WebAssembly.RuntimeError, 'an out-of-bounds load is a wasm trap, not a crash');
});

t.test('live: the 6.18 kernel returns the same values', { skip: liveKernelSkip() }, (t) =>
  checkKernelRetvals(t, items, (it) => want(it.test)));
