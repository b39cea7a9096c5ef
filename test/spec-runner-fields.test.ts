// The spec fields that say how a runner loads a suite (base_flags, sys_admin, func_info), map
// BTF / slots / freezing / map_extra, parameter tags, and the per-test btf_path, linear_size,
// raw_map_fds and stream patterns: what each becomes, how the plan carries it into a request,
// and the errors bad values give.
import t from 'tap';
import { InputError } from '../engine/errors.ts';
import { PROG_FLAGS } from '../engine/program/types.ts';
import { loadSuiteText } from '../harness/spec/index.ts';
import { parseBtfType } from '../harness/spec/btf-type.ts';
import { btfTypeYaml } from '../engine/port/btf-yaml.ts';
import { buildRequest, BASE_FLAGS, resolveProgSlots } from '../harness/run/plan.ts';

const SUITE = `
suite: runner_fields
base_flags: [BPF_F_TEST_REG_INVARIANTS]
sys_admin: keep
func_info: true
maps:
  storage:
    type: sk_storage
    key_size: 4
    value_size: 8
    max_entries: 0
    flags: 1
    btf:
      key: int
      value: {struct: val, size: 8, members: [{name: cnt, type: int, offset: 0}, {name: l, type: {struct: bpf_spin_lock, size: 4}, offset: 4}]}
  kptrs:
    type: array
    key_size: 4
    value_size: 8
    max_entries: 1
    btf: {key: int, value: {struct: v, size: 8, members: [{name: task, type: {ptr: struct task_struct, tags: [kptr]}, offset: 0}]}}
  rodata: {type: array, key_size: 4, value_size: 4, max_entries: 1, flags: 128, frozen: true, init: [{key: 0, value: "01000000"}]}
  arena: {type: arena, key_size: 0, value_size: 0, max_entries: 2, flags: 1024, map_extra: 17596481003520}
  jmp: {type: prog_array, key_size: 4, value_size: 4, max_entries: 4, init: [{key: 0, value: {prog: helper}}, {key: 1, value: {prog: main}}, {key: 2, value: {prog: nowhere}}]}
  inner: {type: array, key_size: 4, value_size: 4, max_entries: 1}
  outer: {type: array_of_maps, key_size: 4, value_size: 4, max_entries: 1, inner: {type: array, key_size: 4, value_size: 4, max_entries: 1}, init: [{key: 0, value: {map: inner}}]}
subprogs:
  tagged:
    global: true
    params: [ctx: void *, t: struct task_struct *]
    param_tags: {ctx: ["arg:ctx"], t: ["arg:trusted", "arg:nullable"]}
    ret: int
    asm: |
      r0 = 0;
      exit;
tests:
  - name: helper
    section: tc
    auxiliary: true
    asm: |
      r0 = 42;
      exit;
  - name: main
    section: syscall
    btf_path: btf__core_reloc_x.bpf.o
    linear_size: 20
    raw_map_fds: [0]
    flags: [BPF_F_TEST_STATE_FREQ]
    asm: |
      .8byte 0x0000000100001118;
      .8byte 0;
      call tagged;
      exit;
    expect:
      retval: 0
      stderr: ["line one", "...", "line two"]
`;

t.test('suite and test fields load into the SuiteSpec', async (t) => {
  const s = loadSuiteText(SUITE, 'runner.yaml');
  t.equal(s.baseFlags, PROG_FLAGS.BPF_F_TEST_REG_INVARIANTS);
  t.equal(s.keepSysAdmin, true);
  t.equal(s.funcInfo, true);
  const byName = new Map(s.maps.map((m) => [m.name, m]));
  const storage = byName.get('storage')!;
  t.same(storage.btf?.key, { kind: 'int', name: 'int', size: 4, signed: true });
  t.match(storage.btf?.value, { kind: 'struct', name: 'val', size: 8, members: [{ name: 'cnt', offset: 0 }, { name: 'l', offset: 4, type: { kind: 'struct', name: 'bpf_spin_lock', size: 4 } }] });
  t.match(byName.get('kptrs')!.btf?.value, { members: [{ type: { kind: 'ptr', tags: ['kptr'], type: { kind: 'struct', name: 'task_struct', size: 0 } } }] });
  t.equal(byName.get('rodata')!.frozen, true);
  t.equal(byName.get('arena')!.mapExtra, 17596481003520n);
  // {map: inner} is the map's index (5) now; {prog: ...} waits for the plan.
  t.same([...byName.get('outer')!.init![0].value], [5, 0, 0, 0]);
  t.same(byName.get('jmp')!.init!.map((e) => e.progRef), ['helper', 'main', 'nowhere']);
  const main = s.tests.find((x) => x.name === 'main')!;
  t.equal(main.btfPath, 'btf__core_reloc_x.bpf.o');
  t.equal(main.linearSize, 20);
  t.same(main.program.rawMapFds, [0]);
  t.same(main.priv?.stderr?.map((p) => [p.text, p.anyLine]), [['line one', false], ['line two', true]]);
  const tagged = main.program.funcs.find((f) => f.name === 'tagged');
  t.same(tagged?.params, [{ name: 'ctx', type: 'void *', tags: ['arg:ctx'] }, { name: 't', type: 'struct task_struct *', tags: ['arg:trusted', 'arg:nullable'] }]);
});

t.test('the plan: base flags, section flags, runner fields, prog slots', async (t) => {
  const s = loadSuiteText(SUITE, 'runner.yaml');
  const main = s.tests.find((x) => x.name === 'main')!;
  const req = buildRequest(s, main, 'priv', 'none');
  // base_flags replaces the default; `syscall` adds BPF_F_SLEEPABLE whatever the edits say.
  t.equal(req.flags, PROG_FLAGS.BPF_F_TEST_REG_INVARIANTS | PROG_FLAGS.BPF_F_TEST_STATE_FREQ | PROG_FLAGS.BPF_F_SLEEPABLE);
  t.not(req.flags & PROG_FLAGS.BPF_F_TEST_RND_HI32, PROG_FLAGS.BPF_F_TEST_RND_HI32, 'not the default base');
  t.match(req, { keepSysAdmin: true, funcInfo: true, linearSize: 20, btfPath: 'btf__core_reloc_x.bpf.o', wantStreams: true });
  // Slots: auxiliaries first (helper = 0), then the program under test (main = 1); a program
  // that is not loaded leaves its slot out.
  const jmp = req.program.maps.find((m) => m.name === 'jmp')!;
  t.same(jmp.init!.map((e) => [e.key[0], e.value[0]]), [[0, 0], [1, 1]]);
  t.equal(req.auxiliary[0].maps.find((m) => m.name === 'jmp')!.init!.length, 2, 'auxiliaries see the same slots');
  // A suite without base_flags starts from the default.
  const plain = loadSuiteText('suite: p\ntests: [{name: a, section: socket, asm: "r0 = 0; exit;"}]\n', 'p.yaml');
  t.equal(buildRequest(plain, plain.tests[0], 'priv', 'none').flags, BASE_FLAGS);
  const untouched = [{ name: 'm', type: 'ARRAY' as const, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 }];
  t.equal(resolveProgSlots(untouched, ['x'])[0], untouched[0], 'maps without prog slots are shared, not copied');
});

t.test('bad runner fields are InputErrors with positions', async (t) => {
  const bad = (yaml: string, re: RegExp) => {
    try {
      loadSuiteText(yaml, 'bad.yaml');
      t.fail(`no error for ${yaml}`);
    } catch (e) {
      t.ok(e instanceof InputError);
      t.match((e as InputError).format(), re);
    }
  };
  const head = 'suite: b\n';
  const test = 'tests: [{name: a, section: socket, asm: "r0 = 0; exit;"}]\n';
  bad(`${head}sys_admin: maybe\n${test}`, /bad\.yaml:2:\d+: .*keep, drop/);
  bad(`${head}base_flags: [BPF_F_NOPE]\n${test}`, /unknown prog flag "BPF_F_NOPE"/);
  bad(`${head}base_flags: ["!BPF_F_TEST_RND_HI32"]\n${test}`, /base_flags lists flags to set/);
  bad(`${head}maps:\n  m: {type: array, key_size: 4, value_size: 4, max_entries: 1, init: [{key: 0, value: {prog: x}}]}\n${test}`, /\{prog: name\} slots are for prog_array maps/);
  bad(`${head}maps:\n  m: {type: prog_array, key_size: 4, value_size: 4, max_entries: 1, init: [{key: 0, value: {prog: x, map: y}}]}\n${test}`, /one program .* or one map/);
  bad(`${head}maps:\n  o: {type: array_of_maps, key_size: 4, value_size: 4, max_entries: 1, inner: {type: array, key_size: 4, value_size: 4, max_entries: 1}, init: [{key: 0, value: {map: ghost}}]}\n${test}`, /no map named "ghost"/);
  bad(`${head}maps:\n  m: {type: array, key_size: 4, value_size: 4, max_entries: 1, btf: {value: "float128"}}\n${test}`, /unknown type "float128"/);
  bad(`${head}maps:\n  m: {type: array, key_size: 4, value_size: 4, max_entries: 1, btf: {value: {struct: s, size: 4, members: [{name: x, type: int, offset: 8}]}}}\n${test}`, /past the struct's size/);
  bad(`${head}maps:\n  m: {type: array, key_size: 4, value_size: 4, max_entries: 1, map_extra: "0xzz"}\n${test}`, /map_extra/);
  bad(`${head}subprogs:\n  f: {params: [a: int], param_tags: {b: ["arg:ctx"]}, asm: "r0 = 0; exit;"}\n${test}`, /param_tags: no parameter named "b"/);
});

t.test('map types: the porter\'s YAML form reads back as the same description', async (t) => {
  const descs = [
    { kind: 'int', name: 'unsigned int', size: 4, signed: false },
    { kind: 'struct', name: 'bpf_spin_lock', size: 4, members: [] },
    { kind: 'struct', name: 'task_struct', size: 0, members: [] },
    { kind: 'ptr', type: { kind: 'struct', name: 'task_struct', size: 0, members: [] }, tags: ['kptr_untrusted'] },
    { kind: 'array', type: { kind: 'int', name: 'char', size: 1, signed: true }, len: 16 },
    { kind: 'struct', name: 'val', size: 24, members: [
      { name: 'cnt', type: { kind: 'int', name: 'int', size: 4, signed: true }, offset: 0 },
      { name: 't', type: { kind: 'struct', name: 'bpf_timer', size: 16, members: [] }, offset: 8 },
    ] },
    { kind: 'union', name: 'u', size: 8, members: [{ name: 'p', type: { kind: 'ptr', type: { kind: 'void' } }, offset: 0 }] },
  ] as const;
  for (const d of descs) {
    // As the YAML loader gives it: integers as bigints.
    const yamlValue = JSON.parse(JSON.stringify(btfTypeYaml(d)), (_k, v: unknown) => (typeof v === 'number' ? BigInt(v) : v)) as Parameters<typeof parseBtfType>[0];
    const back = parseBtfType(yamlValue);
    t.same(back, { ok: true, value: d }, JSON.stringify(btfTypeYaml(d)));
  }
});
