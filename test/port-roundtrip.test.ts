// The porter's two promises: each ported program's bytecode (as the spec loader builds it
// from the YAML) equals the object's after relocation, and porting is deterministic.
// Runs on the fixture object always, and on a sample of real 6.12 selftests when a kernel
// tree is at $KERNEL_SRC or .cache/linux-source-6.12 (make kernel-selftests unpacks it).
import t from 'tap';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBpfObject } from '../engine/elf/index.ts';
import { encodeHex } from '../engine/isa/encode.ts';
import { portObject, suiteYaml, portFile, collectInputs } from '../engine/port/index.ts';
import { loadSuiteText } from '../harness/spec/load.ts';
import { mismatchedTests } from '../harness/commands/port.ts';
import { buildFixture, haveClang } from './fixtures/elf/build.ts';

const clang = haveClang();
const resolveKsym = (name: string) => (name === 'bpf_kfunc_does_not_exist' ? 77 : undefined);

t.test('fixture: YAML program == relocated object program', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  const obj = readBpfObject(buildFixture('objects'), 'objects.o');
  const suite = portObject(obj, { suite: 'objects', resolveKsym });
  const yaml = suiteYaml(suite, { source: 'objects.c' });
  const loaded = loadSuiteText(yaml, 'objects.yaml');
  t.equal(loaded.tests.length, 3);
  for (const p of suite.tests) {
    const got = loaded.tests.find((x) => x.name === p.name)!;
    t.same(encodeHex(got.program.insns), encodeHex(p.insns), `${p.name}: same bytecode`);
    t.same(got.program.funcs.map((f) => f.start), [...new Set(got.program.funcs.map((f) => f.start))], `${p.name}: function starts`);
  }
  const target = loaded.tests.find((x) => x.name === 'prog_target')!;
  t.equal(target.section, '?tc');
  t.equal(target.priv?.result, 'failure');
  t.same(target.priv?.retval, { kind: 'pointer' });
  const maps = loaded.tests.find((x) => x.name === 'prog_maps')!;
  t.same(maps.priv?.msgs.map((m) => m.text), ['first', 'second']);
  t.ok(loaded.tests.find((x) => x.name === 'prog_naked')!.auxiliary);
  t.equal(mismatchedTests(yaml, 'objects.yaml', suite).size, 0);
  // Determinism: a second port of a freshly read object gives the same text.
  const again = suiteYaml(portObject(readBpfObject(buildFixture('objects'), 'objects.o'), { suite: 'objects', resolveKsym }), { source: 'objects.c' });
  t.equal(again, yaml, 'byte-identical');
});

t.test('raw insns fallback still loads to the same bytecode', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  const obj = readBpfObject(buildFixture('objects'), 'objects.o');
  const suite = portObject(obj, { suite: 'objects', resolveKsym, rawInsns: new Set(['prog_maps']) });
  const yaml = suiteYaml(suite, { source: 'objects.c' });
  t.match(yaml, /insns:/);
  t.equal(mismatchedTests(yaml, 'objects.yaml', suite).size, 0);
});

const tree = [process.env.KERNEL_SRC, join(import.meta.dirname, '..', '.cache', 'linux-source-6.12')].find(
  (p) => p && existsSync(join(p, 'tools/testing/selftests/bpf/progs/bpf_misc.h')),
);
// Files that exercise recursion, callbacks + global data, kfuncs + prog arrays, map-in-map,
// jited patterns and C code with CO-RE relocations.
const SAMPLE = ['verifier_loops1', 'verifier_iterating_callbacks', 'verifier_ref_tracking', 'verifier_map_in_map', 'verifier_tailcall_jit', 'verifier_const'];

t.test('6.12 selftests sample', { skip: !clang ? 'clang-19 not installed' : !tree ? 'no kernel tree ($KERNEL_SRC or .cache/linux-source-6.12)' : false }, async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'port-rt-'));
  const inputs = collectInputs([tree!]).filter((i) => SAMPLE.includes(i.suite));
  t.equal(inputs.length, SAMPLE.length);
  for (const input of inputs) {
    const r = portFile(input, { cache });
    const bad = mismatchedTests(r.yaml, `${input.suite}.yaml`, r.suite);
    t.same([...bad], [], `${input.suite}: every program's bytecode matches (${r.suite.tests.length} programs)`);
    t.same(r.suite.failures, [], `${input.suite}: nothing left unported`);
    t.equal(portFile(input, { cache }).yaml, r.yaml, `${input.suite}: deterministic`);
  }
});
