// bpf_timer end to end on the engine: the verifier's timer argument rules and async
// callbacks (calls/timer.ts), the xlated program's hidden prog-aux argument, the
// interpreter's timer helpers and their firing after a run (runtime/timer.ts), and the same
// in native runs. Programs come from specs/timers.yaml (confirmed on the live 6.18 kernel)
// and from a small suite below whose callbacks leave their mark in the map value.

import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSuiteFile } from '../harness/spec/index.ts';
import { planSuites } from '../harness/run/plan.ts';
import type { RunItem } from '../harness/run/plan.ts';
import { verify } from '../engine/verifier/index.ts';
import { MapStore, runProgram } from '../engine/runtime/index.ts';
import { u32Key } from '../engine/runtime/maps.ts';
import { NativePool } from '../engine/jit/native/pool.ts';
import type { Program } from '../engine/program/types.ts';
import { imm64 } from '../engine/isa/insn.ts';

const itemsOf = (path: string): RunItem[] => planSuites([loadSuiteFile(path)], { backends: ['engine'] });
const specItems = itemsOf('specs/timers.yaml');
const find = (items: RunItem[], name: string): RunItem => {
  const it = items.find((i) => i.request.program.name === name && !i.request.unpriv);
  if (!it) throw new Error(`no test ${name}`);
  return it;
};
const verifyItem = (it: RunItem, logLevel = 1) =>
  verify(it.request.program, { logLevel, unpriv: false, series: 'none', ...(it.request.funcInfo !== undefined ? { funcInfo: it.request.funcInfo } : {}) });

t.test('the timer callback is its own state: frame 0, async_cb, r0 in [0, 0]', async (t) => {
  const v = verifyItem(find(specItems, 'log_async_cb'), 2);
  t.ok(v.accepted);
  t.match(v.log, /\nfrom 13 to 16: R1=map_ptr\(map=tmap,ks=4,vs=24\) R2=map_key\(map=tmap,ks=4,vs=24\) R3=map_value\(map=tmap,ks=4,vs=24\) R10=fp0 async_cb\n/);
  t.notMatch(v.log, /frame1/, 'no nested frame: the callback does not return to the call');
  // The callback's own r0 precision walk starts at its entry (no parent state).
  t.match(v.log, /mark_precise: frame0: last_idx 20 first_idx 0 subseq_idx -1/);
  for (const [name, re] of [
    ['callback_ret1', /At async callback return the register R0 has smin=1 smax=1 should have been in \[0, 0\]/],
    ['callback_ret_unknown', /At async callback return the register R0 has unknown scalar value should have been in \[0, 0\]/],
    ['callback_ret_ptr', /At async callback return the register R0 is not a known value \(map_value\)/],
    ['callback_r4', /R4 !read_ok/],
  ] as const) {
    const r = verifyItem(find(specItems, name));
    t.notOk(r.accepted, name);
    t.match(r.log, re, name);
  }
});

t.test('timer argument rules (process_timer_func)', async (t) => {
  for (const [name, re] of [
    ['timer_wrong_off', /off 0 doesn't point to 'struct bpf_timer' that is at 8/],
    ['timer_var_off', /R1 doesn't have constant offset\. bpf_timer has to be at the constant offset/],
    ['timer_map_no_btf', /map 'nobtf' has to have BTF in order to use bpf_timer/],
    ['timer_map_no_timer', /map 'notimer' has no valid bpf_timer/],
    ['timer_map_mismatch', /timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0/],
    ['timer_on_stack', /R1 type=fp expected=map_value/],
  ] as const) {
    const r = verifyItem(find(specItems, name));
    t.notOk(r.accepted, name);
    t.match(r.log, re, name);
  }
});

t.test('a timer callback has its own stack: 512 in the program, 400 in the callback', async (t) => {
  const r = verifyItem(find(specItems, 'callback_stack_too_big'));
  t.ok(r.accepted, r.log.split('\n').slice(-3).join('\n'));
});

t.test('xlated: bpf_timer_set_callback gets r3 = prog aux', async (t) => {
  const v = verifyItem(find(specItems, 'arm_now'));
  t.ok(v.accepted);
  const x = v.xlated!;
  const calls = x.map((insn, i) => ({ insn, i })).filter(({ insn }) => insn.code === 0x85);
  t.equal(calls.length, 3, 'init, set_callback, start');
  const at = calls[1].i;
  t.same([x[at - 1].code, x[at - 1].dst, x[at - 1].src], [0x18, 3, 0], 'ld_imm64 r3 just before the call');
  t.ok(imm64(x[at - 1]) >> 48n === 0xffffn, 'a kernel direct-map address');
});

// Callbacks that record what they saw in the value's cnt field.
const SUITE = `
suite: timer_effects
func_info: true
maps:
  tmap:
    type: array
    key_size: 4
    value_size: 24
    max_entries: 2
    btf:
      key: int
      value:
        struct: elem
        size: 24
        members:
          - {name: cnt, type: u64, offset: 0}
          - name: t
            offset: 8
            type: {struct: bpf_timer, size: 16, members: [{name: __opaque, type: {array: u64, len: 2}, offset: 0}]}
subprogs:
  cb_key_plus_one:
    params: [map: void *, key: void *, value: void *]
    ret: int
    asm: |
      r1 = *(u32 *)(r2 + 0);
      r1 += 1;
      *(u64 *)(r3 + 0) = r1;
      r0 = 0;
      exit;
  cb_cancel_self:
    params: [map: void *, key: void *, value: void *]
    ret: int
    asm: |
      r6 = r3;
      r1 = r3;
      r1 += 8;
      call %[bpf_timer_cancel];
      *(u64 *)(r6 + 0) = r0;
      r0 = 0;
      exit;
tests:
${['cb_key_plus_one', 'cb_cancel_self'].map((cb) => `
  - name: arm_${cb}
    section: tc
    asm: |
      r1 = 1;
      *(u32 *)(r10 - 4) = r1;
      r2 = r10;
      r2 += -4;
      r1 = %[tmap] ll;
      call %[bpf_map_lookup_elem];
      if r0 == 0 goto l0_%=;
      r6 = r0;
      r1 = r6;
      r1 += 8;
      r2 = %[tmap] ll;
      r3 = 1;
      call %[bpf_timer_init];
      r1 = r6;
      r1 += 8;
      r2 = ${cb} ll;
      call %[bpf_timer_set_callback];
      r1 = r6;
      r1 += 8;
      r2 = 0;
      r3 = 0;
      call %[bpf_timer_start];
      r0 = *(u64 *)(r6 + 0);
      l0_%=:
      exit;
    expect: {result: success, retval: 0}
`).join('')}`;

const dir = mkdtempSync(join(tmpdir(), 'timers-'));
writeFileSync(join(dir, 'timer_effects.yaml'), SUITE);
const effects = itemsOf(join(dir, 'timer_effects.yaml'));
const prog = (name: string): Program => {
  const it = find(effects, name);
  t.ok(verifyItem(it).accepted, `${name} verifies`);
  return it.request.program;
};
const cnt = (maps: MapStore): bigint => {
  const v = maps.get('tmap')!.read(u32Key(1))!;
  return new DataView(v.buffer, v.byteOffset).getBigInt64(0, true);
};

t.test('interpreter: the run returns first, the callback runs after it', async (t) => {
  const p = prog('arm_cb_key_plus_one');
  const maps = MapStore.fromDefs(p.maps);
  const first = runProgram(p, { maps });
  t.ok(first.ok, first.fault ?? "first run");
  t.equal(first.retval, 0n, 'the retval does not see the callback');
  t.equal(cnt(maps), 2n, 'the callback ran after the run with key 1');
  const second = runProgram(p, { maps });
  t.ok(second.ok, second.fault ?? "second run");
  t.equal(BigInt.asIntN(64, second.retval), 2n, 'a later run sees what the callback did');
});

t.test('interpreter: bpf_timer_cancel from the timer\'s own callback is -EDEADLK', async (t) => {
  const p = prog('arm_cb_cancel_self');
  const maps = MapStore.fromDefs(p.maps);
  const r = runProgram(p, { maps });
  t.ok(r.ok, r.fault ?? 'run');
  t.equal(cnt(maps), -35n);
});

const noNative = process.arch !== 'x64' || process.platform !== 'linux' ? 'native x86-64 execution needs linux/x64' : false;
t.test('native runs: the same helpers, the callback fires after the run', { skip: noNative }, async (t) => {
  const pool = new NativePool({ size: 1 });
  t.teardown(() => pool.close());
  for (const [name, want] of [['arm_cb_key_plus_one', 2n], ['arm_cb_cancel_self', -35n]] as const) {
    const r = await pool.run(prog(name), { snapshot: true });
    t.ok(r.ok, r.error ?? name);
    t.equal(r.retval, 0n, `${name}: retval`);
    const entry = r.maps?.tmap?.find((e) => e.startsWith('01000000='));
    t.ok(entry, `${name}: key 1 present`);
    const val = Buffer.from(entry!.split('=')[1], 'hex');
    t.equal(val.readBigInt64LE(0), want, `${name}: what the callback stored`);
  }
});

t.test('specs/timers.yaml run results on the interpreter', async (t) => {
  let n = 0;
  for (const it of specItems) {
    const want = it.expect.retval;
    if (want?.kind !== 'value') continue;
    const p = it.request.program;
    const r = runProgram(p);
    t.ok(r.ok, `${p.name}: ${r.fault ?? ''}`);
    t.equal(Number(BigInt.asIntN(32, r.retval)), want.value, p.name);
    n++;
  }
  t.ok(n >= 20, `${n} programs with a retval`);
});
