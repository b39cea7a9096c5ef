// loadProgram and the 'kernel' harness backend: test_loader's way of loading (libbpf's log
// retry, maps by index, one test run), checked on the kernel-oracle programs; plus the pure
// parts (map-reference patching, libbpf's poison message) without a kernel.

import t from 'tap';
import { decodeHex } from '../engine/isa/decode.ts';
import type { Insn } from '../engine/isa/insn.ts';
import type { MapDef, Program } from '../engine/program/types.ts';
import { environmentSkip, explainPoison, loadProgram, patchMapRefs } from '../engine/kernel/load.ts';
import { createKernelBackend, toOutcome, xlatedText } from '../harness/backends/kernel.ts';
import type { RunRequest } from '../harness/backend.ts';
import { funcBtfFor, subprogStarts } from '../engine/kernel/func-btf.ts';
import { parseBtf } from '../engine/btf/index.ts';

const skip = environmentSkip({}) ?? false;

const prog = (insns: string[], extra: Partial<Program> = {}): Program => ({
  name: 'test_prog', progType: 'SOCKET_FILTER', insns: decodeHex(insns), maps: [], funcs: [],
  license: 'GPL', flags: 0, ...extra,
});

const RET7 = prog(['b700000007000000', '9500000000000000']);
const BPF2BPF = prog(['b701000005000000', '8510000002000000', '0700000001000000', '9500000000000000',
  'bf10000000000000', '2700000003000000', '9500000000000000']);
const UNINIT_R2 = prog(['bf20000000000000', '9500000000000000']);
const R11 = prog(['b701000001000000', '7b1bf8ff00000000', 'b700000000000000', '9500000000000000']);
const oracleMap: MapDef = {
  name: 'oracle_map', type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 16, flags: 0,
  init: [{ key: new Uint8Array(4), value: Uint8Array.from([42, 0, 0, 0, 0, 0, 0, 0]) }],
};
// Map #0 by index (imm 0), as the spec loader writes it.
const HASH_LOOKUP = prog(['620afcff00000000', 'bfa2000000000000', '07020000fcffffff', '1811000000000000',
  '0000000000000000', '8500000001000000', '1500010000000000', '7900000000000000', '9500000000000000'],
{ maps: [oracleMap] });

const request = (program: Program, over: Partial<RunRequest> = {}): RunRequest => ({
  program, auxiliary: [], logLevel: 0, flags: 0, unpriv: false, series: 'none', execute: false,
  wantXlated: false, wantJited: false, ...over,
});

t.test('patchMapRefs: index -> fd, uncreated -> libbpf poison', async (t) => {
  const insns = decodeHex(['1811000001000000', '0000000000000000', '1821000000000000', '0800000000000000',
    '1801000000000000', '0000000000000000', '9500000000000000']);
  const out = patchMapRefs(insns, [-1, 77]);
  t.equal(out[0].imm, 77, 'MAP_FD index 1 -> fd 77');
  t.equal(out[0].next?.imm, 0);
  t.same(out[1], { code: 0x85, dst: 0, src: 0, off: 0, imm: 2001000000, next: { code: 0x85, dst: 0, src: 0, off: 0, imm: 2001000000 } },
    'MAP_VALUE of an uncreated map: two calls to 2001000000 + index');
  t.same(out[2], insns[2], 'a plain ld_imm64 is left alone');
  t.same(out[3], insns[3]);
  const bad: Insn[] = patchMapRefs(decodeHex(['1811000009000000', '0000000000000000']), [5]);
  t.equal(bad[0].imm, 9, 'an out-of-range index stays for the kernel to judge');
});

t.test('explainPoison rewrites the last lines like libbpf', async (t) => {
  const p = prog(['9500000000000000'], { maps: [oracleMap, { ...oracleMap, name: 'map_b' }] });
  const log = '0: R1=ctx() R10=fp0\n3: (85) call unknown#2001000001\ninvalid func unknown#2001000001\nprocessed 4 insns\n';
  t.equal(explainPoison(log, p),
    "0: R1=ctx() R10=fp0\n3: <invalid BPF map reference>\nBPF map 'map_b' is referenced but wasn't created\nprocessed 4 insns\n");
  t.equal(explainPoison('R2 !read_ok\n', p), 'R2 !read_ok\n', 'other logs are untouched');
  const far = `3: (85) call unknown#2001000000\ninvalid func unknown#2001000000\n${'x\n'.repeat(12)}`;
  t.equal(explainPoison(far, p), far, 'only the last 10 lines are searched');
});

t.test('(1) ret 7: loaded, empty log at level 0, retval 7, xlated text', { skip }, async (t) => {
  const r = loadProgram(RET7, { logLevel: 0, flags: 0, execute: true, wantXlated: true, wantJited: true });
  t.equal(r.skip, undefined);
  t.match(r, { loaded: true, errno: 0, log: '', retried: false, run: { errno: 0, retval: 7 }, verifiedInsns: 2 });
  t.same(r.jitedFuncLens, [r.jited?.length]);
  t.equal(xlatedText(r.xlated!), '0: r0 = 7\n1: exit\n');
  // Stats at level 4 on a good load.
  const s = loadProgram(RET7, { logLevel: 4, flags: 0 });
  t.match(s.log, /^verification time \d+ usec\nstack depth 0\nprocessed 2 insns/);
});

t.test('(2) bpf2bpf: retval 16, two functions, call pc+2 in xlated', { skip }, async (t) => {
  const r = loadProgram(BPF2BPF, { logLevel: 0, flags: 0, execute: true, wantXlated: true, wantJited: true });
  t.equal(r.run?.retval, 16);
  t.equal(r.jitedFuncLens?.length, 2);
  t.equal(xlatedText(r.xlated!), '0: r1 = 5\n1: call pc+2\n2: r0 += 1\n3: exit\n4: r0 = r1\n5: r0 *= 3\n6: exit\n');
});

t.test('(3) failure at level 0 is retried at level 1', { skip }, async (t) => {
  const r = loadProgram(UNINIT_R2, { logLevel: 0, flags: 0, execute: true });
  t.match(r, { loaded: false, errno: 13, retried: true });
  t.match(r.log, /^0: R1=ctx\(\) R10=fp0\n0: \(bf\) r0 = r2\nR2 !read_ok\n/);
  t.equal(r.run, undefined, 'no test run after a failed load');
  const l2 = loadProgram(UNINIT_R2, { logLevel: 2, flags: 0 });
  t.equal(l2.retried, false, 'an explicit level is not retried');
  t.match(l2.log, /Live regs before insn:/);
});

t.test('(4) maps: created, filled from init, patched by index', { skip }, async (t) => {
  const r = loadProgram(HASH_LOOKUP, { logLevel: 0, flags: 0, execute: true, wantXlated: true });
  t.match(r, { loaded: true, run: { retval: 42 } });
  t.equal(r.mapIds.length, 1);
  t.ok(r.mapIds[0] > 0, 'a kernel map id');
  const text = xlatedText(r.xlated!);
  t.match(text, new RegExp(`^3: r1 = 0x${r.mapIds[0].toString(16)}$`, 'm'), 'xlated shows the map id raw, as test_loader prints it');
  // Per-CPU init is replicated to every CPU: the program reads CPU-local 42.
  const percpu = loadProgram({ ...HASH_LOOKUP, maps: [{ ...oracleMap, type: 'PERCPU_HASH' }] }, { logLevel: 0, flags: 0, execute: true });
  t.equal(percpu.run?.retval, 42);
  // Bad map shape: a skip naming the map, not a verdict.
  const bad = loadProgram({ ...HASH_LOOKUP, maps: [{ ...oracleMap, keySize: 0 }] }, { logLevel: 0, flags: 0 });
  t.match(bad.skip, /map 'oracle_map' \(HASH, type 1\) could not be created here: EINVAL/);
  // Array of maps: the inner shape comes from `inner`.
  const outer: MapDef = { name: 'outer', type: 'ARRAY_OF_MAPS', keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, inner: { ...oracleMap, init: undefined, name: 'inner' } };
  const aom = loadProgram({ ...RET7, maps: [outer] }, { logLevel: 0, flags: 0 });
  t.match(aom, { loaded: true, skip: undefined });
});

t.test('(5) r11: a normal EINVAL rejection on 6.18; v4/merged runs skip when the probe finds no series', { skip }, async (t) => {
  const backend = createKernelBackend();
  const o = await backend.run(request(R11, { series: 'none' }));
  t.match(o, { loaded: false, errno: 22, skip: undefined }, 'none');
  t.match(o.log, /R11 is invalid\n/);
  for (const series of ['v4', 'merged'] as const) {
    const r = await backend.run(request(R11, { series }));
    // This kernel (6.18) has neither series: the one-time probe turns the run into a skip.
    if (r.skip) t.match(r.skip, new RegExp(`kernel lacks the ${series} stack-argument series`), series);
    else t.match(r, { loaded: false, errno: 22 }, `${series}: the kernel has the series and judges the program`);
  }
});

t.test('skips: no test runner, trampolines, unpriv disabled', { skip }, async (t) => {
  const kp = loadProgram({ ...RET7, progType: 'KPROBE' }, { logLevel: 0, flags: 0, execute: true });
  t.equal(kp.loaded, true);
  t.match(kp.skip, /KPROBE programs have no test runner.*ENOTSUPP/);
  const fentry = loadProgram({ ...RET7, progType: 'TRACING', expectedAttachType: 'TRACE_FENTRY', attachTo: 'bpf_fentry_test1' },
    { logLevel: 0, flags: 0 });
  if (fentry.loaded) t.pass('fentry loads on this kernel');
  else if (fentry.errno === 1 && fentry.log === '') t.match(fentry.skip, /TRACING programs with EPERM and no log/);
  else t.ok(fentry.log.length > 0 && fentry.skip === undefined, 'any other refusal is a verdict with a log');
  const tp = loadProgram({ ...RET7, progType: 'TRACING', expectedAttachType: 'TRACE_RAW_TP', attachTo: 'sys_enter' }, { logLevel: 0, flags: 0 });
  t.equal(tp.loaded, true, 'tp_btf resolves btf_trace_sys_enter in vmlinux BTF');
  const unpriv = loadProgram(RET7, { logLevel: 0, flags: 0, unpriv: true });
  const why = environmentSkip({ unpriv: true });
  if (why) t.equal(unpriv.skip, why);
  else t.equal(unpriv.loaded, true);
});

t.test('SYSCALL programs run with no data at all', { skip }, async (t) => {
  const r = loadProgram({ ...RET7, progType: 'SYSCALL' }, { logLevel: 0, flags: 1 << 4 /* sleepable */, execute: true });
  t.match(r, { loaded: true, run: { errno: 0, retval: 7 } });
});

t.test('auxiliary programs share maps by name; main maps are closed afterwards', { skip }, async (t) => {
  const aux = { ...HASH_LOOKUP, name: 'aux' };
  const r = loadProgram(HASH_LOOKUP, { logLevel: 0, flags: 0, execute: true, auxiliary: [aux] });
  t.match(r, { loaded: true, run: { retval: 42 } });
  const failing = loadProgram(RET7, { logLevel: 0, flags: 0, auxiliary: [{ ...UNINIT_R2, name: 'aux_bad' }] });
  t.match(failing, { loaded: false, errno: 13, log: '' }, 'an auxiliary failure fails the load, with the test log empty');
});

t.test('backend outcome mapping', async (t) => {
  const base = { loaded: true, errno: 0, log: '', logTruncated: false, retried: false, mapIds: [], loadWallNs: 0 };
  t.same(toOutcome(request(RET7, { execute: true }), { ...base, run: { errno: 0, retval: -1, duration: 1 } }).retval, { ok: true, value: -1 });
  t.same(toOutcome(request(RET7, { execute: true }), { ...base, run: { errno: 22, retval: 0, duration: 0 } }).retval,
    { ok: false, reason: 'BPF_PROG_TEST_RUN failed: EINVAL (22)' });
  t.same(toOutcome(request(RET7), { ...base, loaded: false, errno: 13, log: 'x\n' }), { loaded: false, errno: 13, log: 'x\n' });
  t.equal(toOutcome(request(RET7), { ...base, skip: 'why' }).skip, 'why');
  const xl = toOutcome(request(RET7, { wantXlated: true, wantJited: true }),
    { ...base, xlated: Uint8Array.from([0xb7, 0, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]), jited: new Uint8Array(3) });
  t.equal(xl.xlated, '0: r0 = 7\n1: exit\n');
  t.equal(xl.jited, undefined, 'no JIT text without jited_func_lens');
  const jt = toOutcome(request(RET7, { wantJited: true }),
    { ...base, jited: Uint8Array.from([0x55, 0xc9, 0xc3]), jitedFuncLens: [3] });
  t.equal(jt.jited, 'func #0:\n0:\t55                                  \tpushq\t%rbp\n1:\tc9                                  \tleave\n2:\tc3                                  \tretq\n\n');
});

// r1 = 0; call sub; r0 = 0; exit; sub (slot 4): r0 = r1; exit — the oracle's func_info table.
const CALLER = ['b701000000000000', '8510000002000000', 'b700000000000000', '9500000000000000', 'bf10000000000000', '9500000000000000'];
const withSub = (params?: { name: string; type: string }[]): Program =>
  prog(CALLER, { funcs: params ? [{ start: 4, name: 'sub', linkage: 'global', params }] : [] });

t.test('func BTF: only for global subprograms, covering every subprogram', async (t) => {
  t.equal(funcBtfFor(withSub()), undefined, 'static only: no BTF, no func_info');
  t.same(subprogStarts(withSub()), [0, 4]);
  const fb = funcBtfFor(withSub([{ name: 'a', type: 'long' }]))!;
  t.equal(fb.funcInfoCnt, 2, 'main is described too');
  const dv = new DataView(fb.funcInfo.buffer);
  t.same([dv.getUint32(0, true), dv.getUint32(8, true)], [0, 4], 'insn_off of each subprogram');
  const btf = parseBtf(fb.btf);
  const funcs = btf.types.filter((x) => x.kind === 'FUNC');
  t.same(funcs.map((f) => f.name), ['main', 'sub']);
  t.equal(btf.types[dv.getUint32(12, true)].name, 'sub', 'func_info points at the FUNC');
});

t.test('global subprograms are verified against their prototype (oracle table)', { skip }, async (t) => {
  const run = (p: Program) => loadProgram(p, { logLevel: 0, flags: 0, execute: true });
  t.match(run(withSub()), { loaded: true, run: { retval: 0 } }, 'static: fine without BTF');
  const g0 = run(withSub([]));
  t.match(g0, { loaded: false, errno: 13, skip: undefined }, 'global:0');
  t.match(g0.log, /R1 !read_ok/);
  t.match(run(withSub([{ name: 'a', type: 'long' }])), { loaded: true }, 'global:1');
  const g2 = run(withSub([{ name: 'a', type: 'long' }, { name: 'b', type: 'int' }]));
  t.match(g2, { loaded: false, errno: 22 }, 'global:2');
  t.match(g2.log, /R2 is not a scalar\nCaller passes invalid args into func#1 \('sub'\)/);
  const ctx = run(withSub([{ name: 'ctx', type: 'struct __sk_buff *' }]));
  t.match(ctx.log, /arg#0 expects pointer to ctx/, 'a struct __sk_buff * parameter is a ctx argument');
});
