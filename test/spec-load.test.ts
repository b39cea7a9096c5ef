// Loading valid suites: what each field becomes in the SuiteSpec.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyFlagOps, BASE_PROG_FLAGS, findSpecFiles, loadSuiteFile, loadSuiteText } from '../harness/spec/index.ts';
import { resolveSection } from '../engine/program/sections.ts';
import { PROG_FLAGS } from '../engine/program/types.ts';

const SUITE = `
suite: demo
series: merged
maps:
  map_hash_8b: {type: hash, key_size: 8, value_size: 8, max_entries: 1}
  map_array: {type: BPF_MAP_TYPE_ARRAY, key_size: 4, value_size: 8, max_entries: 2, flags: [BPF_F_RDONLY_PROG],
              init: [{key: 1, value: "efcdab8967452301"}]}
  outer: {type: array_of_maps, key_size: 4, value_size: 4, max_entries: 1,
          inner: {type: array, key_size: 4, value_size: 4, max_entries: 1}}
kfuncs:
  bpf_kfunc_call_stack_arg_mem:
    params: [a: u64, b: u64, c: u64, d: u64, e: u64, mem: void *, mem__sz: int]
    ret: u64
    flags: [KF_RET_NULL]
  bpf_iter_testmod_seq_next:
    params: [it__iter: struct bpf_iter_testmod_seq *]
    ret: s64 *
    flags: [KF_ITER_NEXT, KF_RET_NULL]
subprogs:
  add7:
    global: true
    params: [{a: int}]
    ret: int
    asm: |
      r0 = r1;
      r0 += 7;
      exit;
tests:
  - name: plain
    insns: [b700000007000000, "95 00 00 00 00 00 00 00"]
    section: socket
  - name: calls_add7
    description: "calls a global subprog"
    section: tc
    asm: |
      r1 = 1;
      call add7;
      exit;
    expect: {result: success, retval: 8}
  - name: map_and_imm
    section: "?raw_tp"
    series: v4
    imm: {k: -8, raw: {insn: "b700000001000000"}}
    log_level: 2
    flags: [BPF_F_TEST_STATE_FREQ, "!BPF_F_TEST_RND_HI32", "0x1"]
    asm: |
      r1 = %[map_hash_8b] ll;
      r2 = r10;
      r2 += %[k];
      *(u64 *)(r10 - 8) = 0;
      call %[bpf_map_lookup_elem];
      .8byte %[raw];
      exit;
    expect:
      result: failure
      msgs:
        - "R0 !read_ok"
        - not: "processed"
        - "R{{[0-9]}} pointer"
      xlated: ["0: r1 = map[id:{{[0-9]+}}]", "...", "exit"]
      jited: {x86_64: ["endbr64"], arm64: ["paciasp"]}
      retval: _INT_MIN
    unpriv:
      msgs: ["unpriv only"]
      retval: POINTER_VALUE
    caps_unpriv: [CAP_BPF, 38]
    xfail: {reason: "not yet"}
  - name: only_unpriv
    section: xdp.frags
    insns: ["b700000000000000", "9500000000000000"]
    unpriv: {result: failure}
  - name: aux
    section: tc
    insns: ["b700000000000000", "9500000000000000"]
    auxiliary: true
  - name: from_c
    section: syscall
    from: progs/stack_arg.c:many_args_main
    insns: ["18010000ffffffff", "00000000ffffffff", "9500000000000000"]
    expect: {retval: "0xffffffff"}
`;

t.test('a full suite loads into the documented shape', async (t) => {
  const s = loadSuiteText(SUITE, 'demo.yaml');
  t.equal(s.suite, 'demo');
  t.equal(s.series, 'merged');
  t.same(s.maps.map((m) => [m.name, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags]), [
    ['map_hash_8b', 'HASH', 8, 8, 1, 0],
    ['map_array', 'ARRAY', 4, 8, 2, 128],
    ['outer', 'ARRAY_OF_MAPS', 4, 4, 1, 0],
  ]);
  t.same([...s.maps[1].init![0].key], [1, 0, 0, 0], 'integer key stored little-endian');
  t.same([...s.maps[1].init![0].value], [0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01], 'hex value in memory order');
  t.equal(s.maps[2].inner?.type, 'ARRAY');
  t.same(
    s.kfuncs?.[0].params.map((p) => [p.name, p.type, p.suffix]),
    [['a', 'u64', undefined], ['b', 'u64', undefined], ['c', 'u64', undefined], ['d', 'u64', undefined], ['e', 'u64', undefined], ['mem', 'void *', undefined], ['mem__sz', 'int', '__sz']],
  );
  t.equal(s.kfuncs?.[1].params[0].suffix, '__iter');
  t.equal(s.kfuncs?.[1].flagBits, (1 << 9) | (1 << 2));
  t.same(s.tests.map((x) => x.name), ['plain', 'calls_add7', 'map_and_imm', 'only_unpriv', 'aux', 'from_c']);
});

t.test('programs: insns, asm with subprogs and bindings, from', async (t) => {
  const s = loadSuiteText(SUITE, 'demo.yaml');
  const [plain, calls, mapImm, , , fromC] = s.tests;
  t.same(plain.program.insns, [
    { code: 0xb7, dst: 0, src: 0, off: 0, imm: 7 },
    { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
  ]);
  t.equal(plain.program.progType, 'SOCKET_FILTER');
  t.equal(plain.program.license, 'GPL');
  t.same(plain.program.funcs, [{ start: 0, name: 'plain', linkage: 'global' }]);
  t.same(calls.program.funcs, [
    { start: 0, name: 'calls_add7', linkage: 'global' },
    { start: 3, name: 'add7', linkage: 'global', params: [{ name: 'a', type: 'int' }], ret: 'int' },
  ]);
  t.equal(calls.program.insns[1].code, 0x85);
  t.equal(calls.program.insns[1].src, 1, 'pseudo call');
  t.equal(calls.program.insns[1].imm, 1, 'to the subprog right after exit');
  t.equal(calls.program.expectedAttachType, undefined);
  const ld = mapImm.program.insns[0];
  t.same([ld.code, ld.src, ld.imm], [0x18, 1, 0], '%[map_hash_8b] is ld_imm64 BPF_PSEUDO_MAP_FD with the map index');
  t.equal(mapImm.program.insns[2].imm, -8, 'imm constant');
  t.same([mapImm.program.insns[4].code, mapImm.program.insns[4].imm], [0x85, 1], 'helper bound by name');
  t.same(mapImm.program.insns[5], { code: 0xb7, dst: 0, src: 0, off: 0, imm: 1 }, '{insn: hex} gives .8byte the raw instruction');
  t.equal(mapImm.program.progType, 'RAW_TRACEPOINT');
  t.equal(mapImm.section, '?raw_tp');
  t.equal(fromC.from, 'progs/stack_arg.c:many_args_main');
  t.equal(fromC.program.insns.length, 2, 'ld_imm64 folds its second slot');
  t.equal(fromC.program.flags, PROG_FLAGS.BPF_F_SLEEPABLE, 'syscall programs are sleepable');
});

t.test('mode resolution follows test_loader', async (t) => {
  const s = loadSuiteText(SUITE, 'demo.yaml');
  const [plain, calls, mapImm, onlyUnpriv, aux, fromC] = s.tests;
  t.same(plain.priv, { result: 'success', msgs: [], xlated: [], jited: [] }, 'no tags: priv, success');
  t.equal(plain.unpriv, undefined);
  t.same(calls.priv?.retval, { kind: 'value', value: 8 });
  t.equal(calls.description, 'calls a global subprog');
  t.equal(plain.description, 'plain', 'description defaults to the name');
  t.equal(onlyUnpriv.priv, undefined, 'only unpriv tags: no priv run');
  t.equal(onlyUnpriv.unpriv?.result, 'failure');
  t.equal(onlyUnpriv.program.flags, PROG_FLAGS.BPF_F_XDP_HAS_FRAGS);
  t.ok(aux.auxiliary);
  t.ok(aux.priv, '__auxiliary turns the priv run on');
  t.equal(fromC.priv?.retval?.kind, 'value');
  t.equal(fromC.priv?.retval?.kind === 'value' ? fromC.priv.retval.value : 0, -1, '0xffffffff is the int -1');

  const p = mapImm.priv!;
  const u = mapImm.unpriv!;
  t.equal(p.result, 'failure');
  t.same(p.msgs.map((m) => [m.text, m.negative]), [['R0 !read_ok', false], ['processed', true], ['R{{[0-9]}} pointer', false]]);
  t.same(p.xlated.map((m) => [m.text, m.anyLine]), [['0: r1 = map[id:{{[0-9]+}}]', false], ['exit', true]], '"..." marks the next entry');
  t.same(p.jited.map((m) => m.text), ['endbr64'], 'only the host arch list');
  t.same(p.retval, { kind: 'value', value: -0x80000000 });
  t.equal(u.result, 'failure', 'unpriv inherits the result');
  t.same(u.msgs.map((m) => m.text), ['unpriv only'], 'its own msgs list replaces the priv one');
  t.same(u.xlated, p.xlated, 'lists it does not give are inherited whole');
  t.same(u.retval, { kind: 'pointer' });
  t.same(mapImm.capsUnpriv, [39, 38]);
  t.same(mapImm.arch, ['x86_64', 'arm64'], 'jited keys act as __arch_* tags');
  t.same(mapImm.xfail, { reason: 'not yet', backends: ['engine'] }, 'xfail defaults to the engine backend');
  t.equal(mapImm.series, 'v4');
  t.equal(calls.series, 'merged', 'the suite series is inherited');
  t.equal(mapImm.logLevel, 2);
  t.equal(plain.logLevel, 0);
  t.same(mapImm.flagOps, [
    { op: 'set', flag: 8, name: 'BPF_F_TEST_STATE_FREQ' },
    { op: 'clear', flag: 4, name: 'BPF_F_TEST_RND_HI32' },
    { op: 'set', flag: 1, name: '0x1' },
  ]);
  t.equal(applyFlagOps(BASE_PROG_FLAGS, mapImm.flagOps), 0x80 | 8 | 1);
  t.same([mapImm.priv?.msgs[0].pos?.line, mapImm.priv?.msgs[0].pos?.col], [57, 11], 'patterns carry their source position');
});

t.test('unpriv inheritance details', async (t) => {
  const s = loadSuiteText(
    `suite: x
tests:
  - name: a
    section: socket
    insns: ["9500000000000000"]
    expect: {result: failure, msgs: [m1], retval: 3}
    unpriv: {result: success}
  - name: b
    section: socket
    insns: ["9500000000000000"]
    caps_unpriv: [CAP_BPF]
  - name: c
    section: socket
    insns: ["9500000000000000"]
    expect: {jited: {arm64: [x]}}
`,
    'x.yaml',
  );
  const [a, b, c] = s.tests;
  t.equal(a.unpriv?.result, 'success');
  t.same(a.unpriv?.msgs.map((m) => m.text), ['m1']);
  t.same(a.unpriv?.retval, { kind: 'value', value: 3 }, 'retval inherited');
  t.equal(b.priv, undefined, '__caps_unpriv alone makes an unpriv-only test');
  t.equal(b.unpriv?.result, 'success');
  t.ok(c.priv, 'no host-arch tags at all: default priv run');
  t.same(c.priv?.jited, []);
  t.same(c.arch, ['arm64'], 'and it only runs on arm64');
});

t.test('SEC names resolve like libbpf', async (t) => {
  const r = (s: string) => {
    const x = resolveSection(s);
    return x && [x.progType, x.expectedAttachType, x.attachTo, x.flags];
  };
  t.same(r('socket'), ['SOCKET_FILTER', undefined, undefined, 0]);
  t.same(r('?tc'), ['SCHED_CLS', undefined, undefined, 0]);
  t.same(r('tc/ingress'), ['SCHED_CLS', 'TCX_INGRESS', undefined, 0]);
  t.same(r('kprobe/do_sys_open'), ['KPROBE', undefined, undefined, 0]);
  t.equal(r('kprobex'), undefined, '"kprobe+" needs the exact name or a /');
  t.same(r('fentry/bpf_fentry_test1'), ['TRACING', 'TRACE_FENTRY', 'bpf_fentry_test1', 0]);
  t.same(r('lsm.s/bpf'), ['LSM', 'LSM_MAC', 'bpf', PROG_FLAGS.BPF_F_SLEEPABLE]);
  t.same(r('raw_tp.w/x'), ['RAW_TRACEPOINT_WRITABLE', undefined, undefined, 0]);
  t.same(r('cgroup/skb'), ['CGROUP_SKB', undefined, undefined, 0]);
  t.same(r('cgroup_skb/egress'), ['CGROUP_SKB', 'CGROUP_INET_EGRESS', undefined, 0]);
  t.same(r('cgroup/getsockopt'), ['CGROUP_SOCKOPT', 'CGROUP_GETSOCKOPT', undefined, 0]);
  t.same(r('xdp'), ['XDP', 'XDP', undefined, 0]);
  t.same(r('xdp/devmap'), ['XDP', 'XDP_DEVMAP', undefined, 0]);
  t.equal(r('xdp/other'), undefined);
  t.same(r('struct_ops.s/x'), ['STRUCT_OPS', undefined, undefined, PROG_FLAGS.BPF_F_SLEEPABLE]);
  t.same(r('tracepoint/syscalls/sys_enter_nanosleep'), ['TRACEPOINT', undefined, undefined, 0]);
  t.same(r('netfilter'), ['NETFILTER', 'NETFILTER', undefined, 0]);
  t.equal(r(''), undefined);
});

t.test('findSpecFiles: directories recursively, *.yaml, sorted', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'specs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'b', 'deep'), { recursive: true });
  for (const f of ['z.yaml', 'a.yaml', 'notes.md', 'b/deep/c.yaml', 'b/x.yml']) writeFileSync(join(dir, f), 'x');
  t.same(findSpecFiles([dir]), [join(dir, 'a.yaml'), join(dir, 'b/deep/c.yaml'), join(dir, 'z.yaml')]);
  t.same(findSpecFiles([join(dir, 'b/x.yml'), dir]).length, 4, 'a file named explicitly is taken whatever its name');
  t.throws(() => findSpecFiles([join(dir, 'missing')]), { name: 'InputError' });
  writeFileSync(join(dir, 'a.yaml'), SUITE);
  t.equal(loadSuiteFile(join(dir, 'a.yaml')).tests.length, 6);
  t.throws(() => loadSuiteFile(join(dir, 'nope.yaml')), { name: 'InputError' });
});
