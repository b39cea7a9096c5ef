// The built-in kfuncs: declarations (engine/program/kfuncs.ts) and implementations
// (engine/runtime/kfuncs/) stay in step, the specs declare them with the same prototypes and
// BTF ids, and each implementation computes what bpf_testmod's does (direct calls, no specs).

import t from 'tap';
import { BUILTIN_KFUNCS, KF, builtinKfunc, builtinKfuncById, kfuncsYaml } from '../engine/program/kfuncs.ts';
import { KFUNC_IMPLS, builtinKfuncImpls } from '../engine/runtime/kfuncs/index.ts';
import { KF_FLAGS, paramSuffix } from '../harness/spec/values.ts';
import { findSpecFiles, loadSuiteFile, loadSuiteText } from '../harness/spec/index.ts';
import { assemble } from '../engine/isa/asm/index.ts';
import { runProgram } from '../engine/runtime/index.ts';
import type { Program, Series } from '../engine/program/types.ts';

t.test('declarations', async (t) => {
  const ids = new Set(BUILTIN_KFUNCS.map((k) => k.btfId));
  t.equal(ids.size, BUILTIN_KFUNCS.length, 'BTF ids are unique');
  t.equal(new Set(BUILTIN_KFUNCS.map((k) => k.name)).size, BUILTIN_KFUNCS.length, 'names are unique');
  for (const k of BUILTIN_KFUNCS) {
    t.ok(k.btfId > 0 && k.btfId < 2 ** 31, `${k.name}: id fits a call imm`);
    t.ok(k.params.length <= 13);
    t.equal(builtinKfunc(k.name), k);
    t.equal(builtinKfuncById(k.btfId), k);
    for (const p of k.params) t.equal(p.suffix, paramSuffix(p.name), `${k.name}.${p.name}: suffix as the spec loader reads it`);
    t.equal(k.flagBits, k.flags.reduce((b, f) => b | KF_FLAGS[f], 0), `${k.name}: flag bits as the spec loader reads them`);
  }
  for (const [name, bit] of Object.entries(KF)) t.equal(KF_FLAGS[name], bit, `${name} bit`);
  const names = ['bpf_kfunc_call_stack_arg', 'bpf_kfunc_call_stack_arg_ptr', 'bpf_kfunc_call_stack_arg_mix', 'bpf_kfunc_call_stack_arg_dynptr',
    'bpf_kfunc_call_stack_arg_mem', 'bpf_kfunc_call_stack_arg_iter', 'bpf_kfunc_call_stack_arg_const_str', 'bpf_kfunc_call_stack_arg_timer', 'bpf_kfunc_call_stack_arg_big'];
  for (const n of names) t.equal(builtinKfunc(n)?.origin, 'bpf_testmod', `${n} mirrors bpf_testmod`);
  t.same(builtinKfunc('bpf_kfunc_call_stack_arg_mem')?.params.map((p) => p.suffix ?? ''), ['', '', '', '', '', '', '__sz']);
  t.equal(builtinKfunc('bpf_kfunc_call_stack_arg_iter')?.params[9].suffix, '__iter');
  t.equal(builtinKfunc('bpf_kfunc_call_stack_arg_const_str')?.params[9].suffix, '__str');
  t.equal(builtinKfunc('bpf_kfunc_call_stack_arg_const')?.params[5].suffix, '__k');
  t.equal(builtinKfunc('bpf_kfunc_call_test_acquire')?.flagBits, KF.KF_ACQUIRE | KF.KF_RET_NULL);
});

t.test('every declared kfunc has an implementation and back', async (t) => {
  for (const k of BUILTIN_KFUNCS) t.ok(Object.hasOwn(KFUNC_IMPLS, k.name), `${k.name} implemented`);
  for (const n of Object.keys(KFUNC_IMPLS)) t.ok(builtinKfunc(n), `${n} declared`);
  t.equal(builtinKfuncImpls().size, BUILTIN_KFUNCS.length);
});

t.test('kfuncsYaml round-trips through the spec loader', async (t) => {
  const names = BUILTIN_KFUNCS.map((k) => k.name);
  const suite = loadSuiteText(`suite: k\nkfuncs:\n${kfuncsYaml(names)}tests:\n  - {name: a, section: tc, asm: "r0 = 0; exit;"}\n`, 'k.yaml');
  for (const k of suite.kfuncs ?? []) {
    const b = builtinKfunc(k.name);
    t.equal(k.btfId, b?.btfId, `${k.name} id`);
    t.same(k.params.map((p) => [p.name, p.type, p.suffix]), b?.params.map((p) => [p.name, p.type, p.suffix]), `${k.name} params`);
    t.equal(k.flagBits, b?.flagBits, `${k.name} flags`);
  }
  t.equal(suite.kfuncs?.length, names.length);
});

t.test('specs declare built-in kfuncs exactly as the table does', async (t) => {
  let n = 0;
  for (const file of findSpecFiles(['specs/stack_arg'])) {
    for (const k of loadSuiteFile(file).kfuncs ?? []) {
      const b = builtinKfunc(k.name);
      if (!b) continue;
      n++;
      t.equal(k.btfId, b.btfId, `${file}: ${k.name} btf_id`);
      t.same(k.params.map((p) => `${p.name}: ${p.type}`), b.params.map((p) => `${p.name}: ${p.type}`), `${file}: ${k.name} params`);
      t.equal(k.ret, b.ret, `${file}: ${k.name} ret`);
      t.equal(k.flagBits, b.flagBits, `${file}: ${k.name} flags`);
    }
  }
  t.ok(n >= 40, `declarations checked (${n})`);
});

// ---- implementations, called directly ---------------------------------------------------

const id = (name: string): number => builtinKfunc(name)?.btfId ?? -1;
function call(text: string, series: Series = 'merged'): number | string {
  const p: Program = { name: 't', progType: 'SCHED_CLS', insns: assemble(text), maps: [], funcs: [{ start: 0, name: 't', linkage: 'global' }], license: 'GPL', flags: 0 };
  const r = runProgram(p, { series, kfuncs: builtinKfuncImpls() });
  return r.ok ? Number(BigInt.asIntN(32, r.retval)) : (r.fault ?? '?');
}
const kcall = (name: string): string => `call kernel-function#${id(name)};`;

t.test('testmod iterator: new, next until the count runs out, destroy', async (t) => {
  // value 7, count 2: two nexts give &value, the third NULL.
  const text = `r1 = r10; r1 += -16; r2 = 7; r3 = 2; ${kcall('bpf_iter_testmod_seq_new')}
    r6 = 0;
    r1 = r10; r1 += -16; ${kcall('bpf_iter_testmod_seq_next')} if r0 == 0 goto +2; r1 = *(u64 *)(r0 + 0); r6 += r1;
    r1 = r10; r1 += -16; ${kcall('bpf_iter_testmod_seq_next')} if r0 == 0 goto +2; r1 = *(u64 *)(r0 + 0); r6 += r1;
    r1 = r10; r1 += -16; ${kcall('bpf_iter_testmod_seq_next')} if r0 != 0 goto +1; r6 += 100;
    r1 = r10; r1 += -16; ${kcall('bpf_iter_testmod_seq_destroy')}
    r0 = r6; exit;`;
  t.equal(call(text), 114);
  t.equal(call(`r1 = r10; r1 += -16; r2 = 7; r3 = -1; ${kcall('bpf_iter_testmod_seq_new')} exit;`), -22, 'negative count: -EINVAL');
});

t.test('dynptr: from_skb covers the packet, adjust narrows it, size reads it', async (t) => {
  const base = `r6 = r1; r1 = r6; r2 = 0; r3 = r10; r3 += -16; ${kcall('bpf_dynptr_from_skb')}`;
  t.equal(call(`${base} r1 = r10; r1 += -16; ${kcall('bpf_dynptr_size')} exit;`), 64, 'tc test packet: 64 bytes');
  t.equal(call(`${base} r1 = r10; r1 += -16; r2 = 4; r3 = 20; ${kcall('bpf_dynptr_adjust')} r1 = r10; r1 += -16; ${kcall('bpf_dynptr_size')} exit;`), 16);
  t.equal(call(`${base} r1 = r10; r1 += -16; r2 = 0; r3 = 65; ${kcall('bpf_dynptr_adjust')} exit;`), -34, 'end past the size: -ERANGE');
  t.equal(call(`${base} r1 = r10; r1 += -16; r2 = 9; r3 = 8; ${kcall('bpf_dynptr_adjust')} exit;`), -22, 'start after end: -EINVAL');
  t.equal(call(`r6 = r1; r1 = r6; r2 = 1; r3 = r10; r3 += -16; ${kcall('bpf_dynptr_from_skb')} exit;`), -22, 'flags: -EINVAL');
});

t.test('acquire/release keep the refcount; the object is bpf_testmod\'s', async (t) => {
  const text = `*(u64 *)(r10 - 8) = 0; r1 = r10; r1 += -8; ${kcall('bpf_kfunc_call_test_acquire')}
    r6 = r0; r7 = *(u32 *)(r6 + 0); r8 = *(u32 *)(r6 + 4); r1 = r6; ${kcall('bpf_kfunc_call_test_release')}
    r0 = r7; r0 *= 1000; r0 += r8; exit;`;
  t.equal(call(text), 42108);
});

t.test('many-arg kfuncs read their stack args by series', async (t) => {
  const regs = 'r1 = 1; r2 = 2; r3 = 3; r4 = 4; r5 = 5;';
  const m = `*(u64 *)(r11 - 8) = 6; *(u64 *)(r11 - 16) = 7; *(u64 *)(r11 - 24) = 8; *(u64 *)(r11 - 32) = 9; *(u64 *)(r11 - 40) = 100; ${regs} ${kcall('bpf_kfunc_call_stack_arg')} exit;`;
  t.equal(call(m), 145, 'merged: arg 10 at r11-40');
  const v4 = `*(u64 *)(r12 - 40) = 6; *(u64 *)(r12 - 32) = 7; *(u64 *)(r12 - 24) = 8; *(u64 *)(r12 - 16) = 9; *(u64 *)(r12 - 8) = 100; ${regs} ${kcall('bpf_kfunc_call_stack_arg')} exit;`;
  t.equal(call(v4, 'v4'), 145, 'v4: arg 10 (the last) at r12-8');
  t.match(call(`${regs} ${kcall('bpf_kfunc_call_stack_arg')} exit;`, 'none'), /needs a stack-argument series/);
  t.match(call(`${regs} ${kcall('bpf_kfunc_call_stack_arg_big')} exit;`), /by-value struct/);
  t.match(call(`${regs} ${kcall('bpf_kfunc_call_test_release')} r0 = 7; exit;`), /invalid write/, 'release of a scalar faults');
});
