// The xfail inventory: parsing (with located errors), writing `xfail` per run into a ported
// suite, the YAML the harness then loads (modes honoured by the plan), evidence drafting, and
// the committed corpus/xfail-6.18.yaml itself.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../engine/errors.ts';
import { applyInventory, errorLine, evidenceLine, knownFailure, parseInventory, unknownEntries } from '../engine/port/xfail.ts';
import type { PortedSuite } from '../engine/port/port-object.ts';
import { suiteYaml } from '../engine/port/yaml-out.ts';
import { loadSuiteText } from '../harness/spec/index.ts';
import { planSuites } from '../harness/run/plan.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..');

const INV = `
kernel: "6.18"
xfail:
  - id: s/a
    kind: reg-marks
    reason: no _w marks
    expected: "R0_w=1"
    evidence: "R0=1"
  - id: s/a
    mode: unpriv
    kind: log-wording
    reason: no indirect
    evidence: "invalid read from stack"
  - id: s/b
    mode: unpriv
    kind: verdict
    reason: barrier
    evidence: loaded
    backends: [engine]
known:
  - id: s/c
    kind: environment
    reason: no IBT
    evidence: nopl
`;

function suite(): PortedSuite {
  const test = (name: string, unpriv: boolean) => ({
    name,
    auxiliary: false,
    insns: [],
    notes: [],
    yaml: { name, section: 'socket', asm: 'r0 = 0;\nexit;\n', expect: { result: 'success' }, ...(unpriv ? { unpriv: { result: 'success' } } : {}) },
  });
  return { suite: 's', encoding: 'B', header: { suite: 's' }, tests: [test('a', true), test('b', true), test('c', false)], failures: [], notes: [] } as unknown as PortedSuite;
}

t.test('parse: entries, defaults and known failures', async (t) => {
  const inv = parseInventory(INV, 'inv.yaml');
  t.equal(inv.xfail.length, 3);
  t.same(inv.xfail[0], { suite: 's', test: 'a', mode: 'priv', kind: 'reg-marks', reason: 'no _w marks', expected: 'R0_w=1', evidence: 'R0=1', backends: ['engine', 'kernel'] });
  t.equal(inv.xfail[1].mode, 'unpriv');
  t.same(inv.xfail[2].backends, ['engine']);
  t.equal(knownFailure(inv, 's', 'c', 'priv')?.reason, 'no IBT');
  t.equal(knownFailure(inv, 's', 'c', 'unpriv'), undefined);
});

t.test('parse: bad input is an InputError with a location', async (t) => {
  const bad: [string, RegExp][] = [
    ['xfail: [1]', /an entry must be a mapping/],
    ['xfail:\n  - id: nope\n    kind: k\n    reason: r\n    evidence: e\n', /'id' must be suite\/test/],
    ['xfail:\n  - id: s/a\n    kind: k\n    evidence: e\n', /missing 'reason'/],
    ['xfail:\n  - id: s/a\n    mode: root\n    kind: k\n    reason: r\n    evidence: e\n', /'mode' must be priv or unpriv/],
    ['xfail:\n  - id: s/a\n    kind: k\n    reason: r\n    evidence: e\n    colour: red\n', /unknown key 'colour'/],
    ['xfail:\n  - id: s/a\n    kind: k\n    reason: r\n    evidence: e\n    backends: [qemu]\n', /'backends'/],
    ['xfail:\n  - {id: s/a, kind: k, reason: r, evidence: e}\n  - {id: s/a, kind: k, reason: r, evidence: e}\n', /listed twice/],
    ['surprise: 1', /unknown key 'surprise'/],
    ['- just a list', /must be a mapping/],
    ['xfail: [\n', /./],
  ];
  for (const [text, re] of bad) {
    try {
      parseInventory(text, 'inv.yaml');
      t.fail(`accepted: ${text}`);
    } catch (e) {
      t.ok(e instanceof InputError, `InputError for ${JSON.stringify(text)}`);
      t.match((e as InputError).message, re);
      t.equal((e as InputError).loc.file, 'inv.yaml');
    }
  }
});

t.test('apply: one xfail per test, modes and backends merged; the harness honours modes', async (t) => {
  const inv = parseInventory(INV, 'inv.yaml');
  const s = applyInventory(suite(), inv);
  t.same(s.tests[0].yaml.xfail, { reason: 'priv: 6.18: no _w marks; unpriv: 6.18: no indirect', backends: ['engine', 'kernel'], modes: ['priv', 'unpriv'] });
  t.same(s.tests[1].yaml.xfail, { reason: '6.18: barrier', backends: ['engine'], modes: ['unpriv'] });
  t.equal(s.tests[2].yaml.xfail, undefined, 'known failures are not xfails');
  t.same(unknownEntries(s, inv), []);
  t.same(unknownEntries({ ...s, tests: s.tests.slice(1) }, inv).map((e) => e.test), ['a', 'a']);

  const spec = loadSuiteText(suiteYaml(s, { source: 'x.c' }), 's.yaml');
  const items = planSuites([spec], { backends: ['engine', 'kernel'] });
  const x = (test: string, mode: string, backend: string) => items.find((i) => i.test === test && i.mode === mode && i.backend === backend)?.xfail;
  t.ok(x('a', 'priv', 'kernel'));
  t.ok(x('a', 'unpriv', 'engine'));
  t.equal(x('b', 'priv', 'engine'), undefined, 'an unpriv-only xfail leaves the priv run alone');
  t.ok(x('b', 'unpriv', 'engine'));
  t.equal(x('b', 'unpriv', 'kernel'), undefined, 'backends honoured');
  t.equal(x('c', 'priv', 'engine'), undefined);
});

t.test('evidence: the same instruction line, else the closest line', async (t) => {
  const log = [
    '0: R1=ctx() R10=fp0',
    '5: (af) r0 ^= r6                      ; R0=scalar(smin=0) R6=scalar()',
    'invalid write to stack R1 off=-48 size=58',
    'processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0',
  ].join('\n');
  t.equal(evidenceLine(log, '5: (af) r0 ^= r6                      ; R0_w=scalar(smin=0)'), log.split('\n')[1]);
  t.equal(evidenceLine(log, 'invalid indirect access to stack R1 off=-48 size=58'), 'invalid write to stack R1 off=-48 size=58');
  t.match(evidenceLine(log, 'processed 26 insns') ?? '', /^processed 7 insns/);
  t.equal(evidenceLine('', 'x'), undefined);
  t.equal(errorLine(log), 'invalid write to stack R1 off=-48 size=58');
});

t.test('the committed inventory parses and is complete', async (t) => {
  const inv = parseInventory(readFileSync(join(REPO, 'corpus', 'xfail-6.18.yaml'), 'utf8'), 'corpus/xfail-6.18.yaml');
  t.ok(inv.xfail.length > 0);
  for (const e of [...inv.xfail, ...inv.known]) {
    t.ok(e.reason.length > 20 && !/TODO/.test(e.reason), `${e.suite}/${e.test} ${e.mode}: a reason`);
    t.ok(e.evidence.length > 0 && !/TODO/.test(e.evidence + e.kind), `${e.suite}/${e.test} ${e.mode}: evidence`);
    t.ok(/^verifier_/.test(e.suite), `${e.suite}: a corpus file`);
  }
  for (const e of inv.xfail) t.same([...e.backends].sort(), ['engine', 'kernel'], `${e.suite}/${e.test}: a 6.18 change fails on both backends`);
  const ids = new Set(inv.known.map((k) => `${k.suite}/${k.test}`));
  t.notOk(inv.xfail.some((e) => ids.has(`${e.suite}/${e.test}`) && e.mode === 'priv'), 'no run is both an xfail and a known failure');
});
