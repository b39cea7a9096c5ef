// Bad input: every kind of error names file:line:col and the YAML path, and all errors of a
// file are reported together.
import t from 'tap';
import { InputError } from '../engine/errors.ts';
import { loadSuiteText, SpecErrors } from '../harness/spec/index.ts';

/** Load `text` and return every error as "line:col path: message". */
function errorsOf(text: string): string[] {
  try {
    loadSuiteText(text, 'f.yaml');
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    const all = e instanceof SpecErrors ? e.errors : [e];
    return all.map((x) => {
      if (x.loc.file !== 'f.yaml') throw new Error(`wrong file in ${x.format()}`);
      return `${x.loc.line}:${x.loc.col} ${x.loc.path ?? ''}: ${x.message}`;
    });
  }
  return [];
}

const test = (body: string): string => `suite: s\ntests:\n  - name: t0\n    section: socket\n${body}`;
const OK_INSNS = '    insns: ["9500000000000000"]\n';

t.test('a valid baseline has no errors', async (t) => {
  t.same(errorsOf(test(OK_INSNS)), []);
});

t.test('YAML syntax errors carry their position', async (t) => {
  const e = errorsOf('suite: s\ntests: [\n');
  t.equal(e.length, 1);
  t.match(e[0], /^3:1 : YAML: /);
  t.match(errorsOf('a: 1\na: 2\n')[0], /^2:1 : YAML: Map keys must be unique/);
  t.match(errorsOf('suite: s\n\ttests: []\n')[0], /^2:1 : YAML: /, 'tabs');
  t.same(errorsOf(''), ['1:1 : expected a suite mapping, found nothing']);
  t.same(errorsOf('- 1\n'), ['1:1 : expected a suite mapping, found a sequence']);
});

t.test('unknown keys, wrong types, bad enum values, missing keys', async (t) => {
  t.same(errorsOf(test(`${OK_INSNS}    bogus: 1\n`)), [
    '6:5 tests[0].bogus: unknown key "bogus"; expected one of name, description, section, asm, insns, from, imm, log_level, flags, series, arch, auxiliary, auxiliary_unpriv, caps_unpriv, btf_path, raw_map_fds, linear_size, func_tags, expect, unpriv, xfail',
  ]);
  t.same(errorsOf(test(`${OK_INSNS}    log_level: two\n`)), ['6:16 tests[0].log_level: expected an integer, found the string "two"']);
  t.same(errorsOf(test(`${OK_INSNS}    log_level: 99\n`)), ['6:16 tests[0].log_level: 99 is out of range [0, 15]']);
  t.same(errorsOf(test(`${OK_INSNS}    expect: {result: maybe}\n`)), ['6:22 tests[0].expect.result: bad value "maybe": expected one of success, failure']);
  t.same(errorsOf(test(`${OK_INSNS}    series: v5\n`)), ['6:13 tests[0].series: bad value "v5": expected one of none, v4, merged']);
  t.same(errorsOf(test(`${OK_INSNS}    expect:\n      msgs:\n        - ok\n        - {nott: x}\n`)), [
    '9:11 tests[0].expect.msgs[1]: missing required key "not"',
    '9:12 tests[0].expect.msgs[1].nott: unknown key "nott"; expected one of not',
  ]);
  t.same(errorsOf(test(`${OK_INSNS}    expect: {msgs: [7]}\n`)), ['6:21 tests[0].expect.msgs[0]: expected a pattern string or {not: pattern}, found the number 7']);
  t.same(errorsOf('suite: s\ntests:\n  - section: socket\n    insns: ["9500000000000000"]\n'), ['3:5 tests[0]: missing required key "name"']);
  t.same(errorsOf('suite: s\n'), ['1:1 : missing required key "tests"']);
  t.same(errorsOf(test(`${OK_INSNS}    xfail: {}\n`)), ['6:12 tests[0].xfail: missing required key "reason"']);
  t.same(errorsOf('suite: "bad name"\ntests: []\n'), ['1:8 suite: bad value "bad name": expected a suite name ([A-Za-z0-9_.-])']);
});

t.test('program source errors', async (t) => {
  t.same(errorsOf('suite: s\ntests:\n  - name: t0\n    section: socket\n'), ['3:5 tests[0]: missing program source: give "asm" or "insns"']);
  t.same(errorsOf(test('    from: progs/x.c:f\n')), ['3:5 tests[0]: "from" needs "insns" (filled in by the clang step, make progs)']);
  t.same(errorsOf(test(`${OK_INSNS}    asm: "exit;"\n`)), ['5:5 tests[0]: give one program source: "asm" or "insns" (with or without "from"), not both']);
  t.same(errorsOf(test('    from: x.c\n    insns: ["9500000000000000"]\n')), ['5:11 tests[0].from: bad value "x.c": expected progs/<file>.c:<function>']);
  const hex = errorsOf(test('    insns: ["b70000000700000", "9500000000000000"]\n'));
  t.equal(hex.length, 1);
  t.match(hex[0], /^5:13 tests\[0\]\.insns\[0\]: insns entry 0: "b70000000700000" is not an instruction/);
  t.match(errorsOf(test('    insns: ["1800000000000000"]\n'))[0], /^5:13 tests\[0\]\.insns\[0\]: insns entry 0: /, 'a truncated ld_imm64');
});

t.test('asm errors map back to the file', async (t) => {
  const e = errorsOf(test('    asm: |\n      r0 = 0;\n      r16 = 1;\n      exit;\n'));
  t.equal(e.length, 1);
  t.match(e[0], /^7:7 tests\[0\]\.asm: unknown register 'r16'/);
  const q = errorsOf(test('    asm: "r0 = %[nope]; exit;"\n'));
  t.match(q[0], /^5:\d+ tests\[0\]\.asm: .*nope/);
  const call = errorsOf(test('    asm: |\n      call missing_fn;\n      exit;\n'));
  t.equal(call.length, 1);
  t.match(call[0], /^6:\d+ tests\[0\]\.asm: .*missing_fn/);
  const sub = errorsOf('suite: s\nsubprogs:\n  f:\n    asm: |\n      r0 = r99;\n      exit;\ntests: []\n');
  t.match(sub[0], /^5:\d+ subprogs\.f\.asm: /);
});

t.test('names: sections, flags, map types, caps, retvals, kfunc flags', async (t) => {
  t.same(errorsOf(test(OK_INSNS).replace('section: socket', 'section: sockett')), ['4:14 tests[0].section: unknown section "sockett" (not in libbpf\'s SEC() table)']);
  t.same(errorsOf(test(`${OK_INSNS}    flags: [BPF_F_NOPE]\n`)), [
    '6:13 tests[0].flags[0]: unknown prog flag "BPF_F_NOPE": expected BPF_F_STRICT_ALIGNMENT, BPF_F_ANY_ALIGNMENT, BPF_F_TEST_RND_HI32, BPF_F_TEST_STATE_FREQ, BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, BPF_F_XDP_DEV_BOUND_ONLY, BPF_F_TEST_REG_INVARIANTS or a number, optionally with a leading "!"',
  ]);
  t.match(errorsOf(test(`${OK_INSNS}    caps_unpriv: [CAP_NOPE]\n`))[0], /^6:19 tests\[0\]\.caps_unpriv\[0\]: unknown capability "CAP_NOPE"/);
  t.same(errorsOf(test(`${OK_INSNS}    caps_unpriv: [0]\n`)), ['6:19 tests[0].caps_unpriv[0]: capability 0 is out of range [1, 40]']);
  t.match(errorsOf(test(`${OK_INSNS}    expect: {retval: "12x"}\n`))[0], /^6:22 tests\[0\]\.expect\.retval: bad retval "12x"/);
  t.same(errorsOf(test(`${OK_INSNS}    expect: {retval: 0x100000000}\n`)), ['6:22 tests[0].expect.retval: 4294967296 is out of range [-2147483648, 4294967295]']);
  const map = 'suite: s\nmaps:\n  m: {type: hashh, key_size: 4, value_size: 4, max_entries: 1}\ntests: []\n';
  t.match(errorsOf(map)[0], /^3:13 maps\.m\.type: unknown map type "hashh": expected one of hash, array, /);
  t.same(errorsOf('suite: s\nmaps:\n  m: {type: hash, value_size: 4, max_entries: 1}\ntests: []\n'), ['3:6 maps.m: missing required key "key_size" (only ringbuf maps may omit it)']);
  t.same(errorsOf('suite: s\nmaps:\n  m: {type: array_of_maps, key_size: 4, value_size: 4, max_entries: 1}\ntests: []\n'), ['3:6 maps.m: a array_of_maps map needs "inner" (the inner map\'s definition)']);
  t.same(errorsOf('suite: s\nmaps:\n  m: {type: array, key_size: 4, value_size: 4, max_entries: 1, init: [{key: 0, value: "0102"}]}\ntests: []\n'), [
    '3:87 maps.m.init[0].value: 2 bytes given, expected 4',
  ]);
  t.same(errorsOf('suite: s\nmaps:\n  m: {type: array, key_size: 4, value_size: 4, max_entries: 1, flags: [BPF_F_X]}\ntests: []\n'), [
    '3:72 maps.m.flags[0]: unknown map flag "BPF_F_X": expected a BPF_F_* map flag name or a number',
  ]);
  t.match(errorsOf('suite: s\nkfuncs:\n  k: {flags: [KF_NOPE]}\ntests: []\n')[0], /^3:15 kfuncs\.k\.flags\[0\]: unknown kfunc flag "KF_NOPE"/);
  t.same(errorsOf('suite: s\nkfuncs:\n  k: {params: [{a: int, b: int}]}\ntests: []\n'), ['3:16 kfuncs.k.params[0]: a parameter is one "name: type" pair, found 2']);
});

t.test('duplicates, clashes and bad patterns', async (t) => {
  const dup = `${test(OK_INSNS)}  - name: t0\n    section: tc\n${OK_INSNS}`;
  t.same(errorsOf(dup), ['6:11 tests[1].name: duplicate test name "t0" (first used at line 3)']);
  t.same(errorsOf('suite: s\nmaps:\n  x: {type: ringbuf, max_entries: 4096}\nsubprogs:\n  x: {asm: "exit;"}\ntests: []\n'), ['5:3 subprogs.x: "x" is already defined in maps']);
  t.same(errorsOf(test(`${OK_INSNS}    expect: {msgs: ["R{{[0-9]"]}\n`)), ["6:21 tests[0].expect.msgs[0]: bad pattern: regexp has open '{{' but no closing '}}'"]);
  t.match(errorsOf(test(`${OK_INSNS}    expect: {xlated: ["{{(}}"]}\n`))[0], /^6:23 tests\[0\]\.expect\.xlated\[0\]: bad pattern: unmatched \(/);
  const ASM = '    asm: "r0 = 0; exit;"\n';
  t.same(errorsOf(test(`${ASM}    imm: {bpf_map_lookup_elem: 1}\n`)), [], 'imm may shadow a helper name');
  t.same(errorsOf(`suite: s\nmaps:\n  m: {type: ringbuf, max_entries: 4096}\n${test(`${ASM}    imm: {m: 1}\n`).slice('suite: s\n'.length)}`), [
    '8:11 tests[0].imm.m: imm "m" clashes with the map of that name',
  ]);
  t.same(errorsOf(test(`${OK_INSNS}    imm: {k: 1}\n`)), ['6:5 tests[0].imm: "imm" binds %[name] operands of asm text; this test has insns']);
});

t.test('all errors of a file are reported, in file order', async (t) => {
  const text = `suite: s
maps:
  m: {type: nope, key_size: 4, value_size: 4, max_entries: 1}
tests:
  - name: a
    section: nope
    insns: ["9500000000000000"]
  - name: b
    section: socket
    insns: ["9500000000000000"]
    flags: [BAD]
    expect: {result: x}
`;
  const e = errorsOf(text);
  t.same(
    e.map((x) => /^\d+:\d+/.exec(x)?.[0]),
    ['3:13', '6:14', '12:22'],
    'map type, section and result (flags of the test with a shape error are not checked)',
  );
  try {
    loadSuiteText(text, 'f.yaml');
  } catch (err) {
    t.ok(err instanceof SpecErrors);
    t.match((err as Error).message, /\(and 2 more errors\)$/);
    t.equal((err as SpecErrors).format().split('\n').length, 3);
    t.match((err as SpecErrors).format(), /^f\.yaml:3:13: unknown map type "nope"/);
  }
});

t.test('hostile YAML: aliases cannot blow up, recursion is bounded', async (t) => {
  let bomb = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 9; i++) bomb += `a${i}: &a${i} [*a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}, *a${i - 1}]\n`;
  const start = Date.now();
  const e = errorsOf(`suite: s\n${bomb}tests: *a8\n`);
  t.ok(e.length > 0);
  t.ok(Date.now() - start < 3000, 'bounded time');
  t.ok(e.some((x) => /too large|unknown key/.test(x)));
});
