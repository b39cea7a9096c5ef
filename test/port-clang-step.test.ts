// The clang step: `from: progs/x.c:fn` tests get the relocated bytecode as insns (map indices
// renumbered to the suite's maps), kfunc prototypes land in kfuncs:, the rest of the file is
// kept, a second run changes nothing, and bad input is an InputError.
import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../engine/errors.ts';
import { applyClangStep, Compiler } from '../scripts/clang-step.ts';
import { loadSuiteText } from '../harness/spec/load.ts';
import { haveClang } from './fixtures/elf/build.ts';

const clang = haveClang();

const SRC = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int); __type(value, long); } vals SEC(".maps");
extern void bpf_rcu_read_lock(void) __ksym;
static __attribute__((noinline)) int twice(int x) { return x * 2; }
SEC("tc") int sum(void *ctx) { int k = 0; long *v; bpf_rcu_read_lock(); v = bpf_map_lookup_elem(&vals, &k); return twice(v ? (int)*v : 3); }
char _license[] SEC("license") = "GPL";
`;

const SPEC = `# kept comment
suite: cs
maps:
  other: {type: hash, key_size: 4, value_size: 4, max_entries: 1}
  vals: {type: array, key_size: 4, value_size: 8, max_entries: 1}
tests:
  - name: sum
    section: tc
    from: progs/sample.c:sum
    insns: []
    expect: {result: success, retval: 6}
`;

t.test('from: tests get their bytecode', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'clang-step-'));
  mkdirSync(join(root, 'progs'));
  writeFileSync(join(root, 'progs', 'sample.c'), SRC);
  const c = new Compiler('clang-19', root);
  const r = applyClangStep('s.yaml', SPEC, c);
  t.ok(r.changed);
  t.match(r.text, /^# kept comment\n/);
  const suite = loadSuiteText(r.text, 's.yaml');
  const insns = suite.tests[0].program.insns;
  const mapLoad = insns.find((i) => i.code === 0x18 && i.src === 1)!;
  t.equal(mapLoad.imm, 1, 'map index renumbered to the suite (vals is its second map)');
  t.ok(insns.some((i) => i.code === 0x85 && i.src === 1), 'static subprogram linked in');
  t.ok(insns.some((i) => i.code === 0x85 && i.src === 2), 'kfunc call');
  t.same(suite.kfuncs?.map((k) => [k.name, k.ret, k.params.length]), [['bpf_rcu_read_lock', 'void', 0]]);
  const again = applyClangStep('s.yaml', r.text, c);
  t.notOk(again.changed, 'second run: nothing to do (what --check relies on)');
  t.equal(again.text, r.text);
  const stale = r.text.replace(/insns: \[[^\]]*\]/, 'insns: ["9500000000000000"]');
  t.ok(applyClangStep('s.yaml', stale, c).changed, 'stale bytecode is noticed');
});

t.test('bad input', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'clang-step-'));
  mkdirSync(join(root, 'progs'));
  writeFileSync(join(root, 'progs', 'sample.c'), SRC);
  writeFileSync(join(root, 'progs', 'broken.c'), 'int x = ;\n');
  const c = new Compiler('clang-19', root);
  const errOf = (text: string): string => {
    try {
      applyClangStep('s.yaml', text, c);
    } catch (e) {
      return e instanceof InputError ? e.format() : `not an InputError: ${String(e)}`;
    }
    return 'no error';
  };
  t.match(errOf(SPEC.replace('sample.c:sum', 'broken.c:sum')), /s\.yaml:9:\d+: clang-19 failed to compile progs\/broken\.c/);
  t.match(errOf(SPEC.replace('sample.c:sum', 'sample.c:nope')), /has no program nope/);
  t.match(errOf(SPEC.replace(/  vals:.*\n/, '')), /uses map vals, which the suite's maps: does not define/);
});
