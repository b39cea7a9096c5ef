import t from 'tap';
import { PROG_FLAGS } from '../engine/program/types.ts';
import { applyFlagOps, BASE_FLAGS, hostArch, parseShard, planSuites } from '../harness/run/plan.ts';
import { expect, suite, test } from './fixtures/harness/suites.ts';

const F = PROG_FLAGS;

t.test('subtest names and modes follow test_loader', async (t) => {
  const s = suite('a.yaml', [
    test('p1', { description: 'priv only' }),
    test('p2', { description: 'both', unpriv: expect({ result: 'failure' }) }),
    test('p3', { priv: undefined, unpriv: expect() }),
  ]);
  const items = planSuites([s], { backends: ['engine'] });
  t.same(items.map((i) => [i.name, i.mode]), [
    ['priv only', 'priv'],
    ['both', 'priv'],
    ['both @unpriv', 'unpriv'],
    ['p3 @unpriv', 'unpriv'],
  ]);
  t.same(items.map((i) => i.id), [0, 1, 2, 3]);
  t.equal(items[2].request.unpriv, true);
  t.equal(items[1].request.unpriv, false);
});

t.test('flags: base flags, then __flag edits in order', async (t) => {
  t.equal(BASE_FLAGS, F.BPF_F_TEST_RND_HI32 | F.BPF_F_TEST_REG_INVARIANTS);
  const set = (name: keyof typeof F) => ({ op: 'set' as const, flag: F[name], name });
  const clear = (name: keyof typeof F) => ({ op: 'clear' as const, flag: F[name], name });
  t.equal(applyFlagOps(BASE_FLAGS, [set('BPF_F_TEST_STATE_FREQ')]), BASE_FLAGS | F.BPF_F_TEST_STATE_FREQ);
  t.equal(applyFlagOps(BASE_FLAGS, [clear('BPF_F_TEST_RND_HI32')]), F.BPF_F_TEST_REG_INVARIANTS);
  // order matters: clear then set leaves it set, set then clear leaves it clear
  t.equal(applyFlagOps(0, [clear('BPF_F_ANY_ALIGNMENT'), set('BPF_F_ANY_ALIGNMENT')]), F.BPF_F_ANY_ALIGNMENT);
  t.equal(applyFlagOps(0, [set('BPF_F_ANY_ALIGNMENT'), clear('BPF_F_ANY_ALIGNMENT')]), 0);
  const [item] = planSuites([suite('a.yaml', [test('x', { flagOps: [set('BPF_F_STRICT_ALIGNMENT')] })])], { backends: ['engine'] });
  t.equal(item.request.flags, BASE_FLAGS | F.BPF_F_STRICT_ALIGNMENT);
  t.equal(item.request.program.flags, item.request.flags, 'the program carries the final flags too');
});

t.test('series: test, else suite, else CLI, else none', async (t) => {
  const tests = [test('a', { series: 'v4' }), test('b')];
  const series = (suiteSeries: 'v4' | 'merged' | undefined, cli: 'v4' | 'merged' | undefined) =>
    planSuites([suite('s.yaml', tests, suiteSeries ? { series: suiteSeries } : {})], { backends: ['engine'], ...(cli ? { series: cli } : {}) }).map((i) => i.request.series);
  t.same(series(undefined, undefined), ['v4', 'none']);
  t.same(series('merged', undefined), ['v4', 'merged']);
  t.same(series(undefined, 'merged'), ['v4', 'merged']);
  t.same(series('v4', 'merged'), ['v4', 'v4']);
});

t.test('execute only with a retval and an expected success; xlated/jited wanted when given', async (t) => {
  const items = planSuites(
    [
      suite('s.yaml', [
        test('a', { priv: expect({ retval: { kind: 'value', value: 1 } }) }),
        test('b', { priv: expect({ result: 'failure', retval: { kind: 'value', value: 1 } }) }),
        test('c', { priv: expect({ xlated: [{ text: 'exit', negative: false, anyLine: false }] }) }),
      ]),
    ],
    { backends: ['engine'] },
  );
  t.same(items.map((i) => i.request.execute), [true, false, false]);
  t.same(items.map((i) => i.request.wantXlated), [false, false, true]);
  t.same(items.map((i) => i.request.wantJited), [false, false, false]);
});

t.test('auxiliary programs of the same mode go with every run and are not runs', async (t) => {
  const s = suite('s.yaml', [
    test('aux_priv', { auxiliary: true }),
    test('aux_unpriv', { auxiliary: true, priv: undefined, unpriv: expect() }),
    test('main', { unpriv: expect() }),
  ]);
  const items = planSuites([s], { backends: ['engine'] });
  t.same(items.map((i) => i.name), ['main', 'main @unpriv']);
  t.same(items[0].request.auxiliary.map((p) => p.name), ['aux_priv']);
  t.same(items[1].request.auxiliary.map((p) => p.name), ['aux_unpriv']);
});

t.test('xfail reason is carried', async (t) => {
  const [i] = planSuites([suite('s.yaml', [test('a', { xfail: { reason: 'not yet', backends: ['engine'] } })])], { backends: ['engine'] });
  t.equal(i.xfail, 'not yet');
});

t.test('filter matches suite/name and suite/program, per mode', async (t) => {
  const s = suite('sfx.yaml', [test('prog_a', { description: 'alpha', unpriv: expect() }), test('prog_b', { description: 'beta' })]);
  const names = (re: RegExp) => planSuites([s], { backends: ['engine'], filter: re }).map((i) => i.name);
  t.same(names(/alpha/), ['alpha', 'alpha @unpriv']);
  t.same(names(/prog_b/), ['beta']);
  t.same(names(/@unpriv$/), ['alpha @unpriv']);
  t.same(names(/^sfx\/beta$/), ['beta']);
  t.same(names(/nothing/), []);
  t.same(names(/a/g), ['alpha', 'alpha @unpriv', 'beta'], 'a /g regex is not stateful across tests');
});

t.test('--backend both: each file once per backend, engine first', async (t) => {
  const items = planSuites([suite('a.yaml', [test('x'), test('y')]), suite('b.yaml', [test('z')])], { backends: ['engine', 'kernel'] });
  t.same(items.map((i) => `${i.file}:${i.backend}:${i.name}`), [
    'a.yaml:engine:x', 'a.yaml:engine:y', 'a.yaml:kernel:x', 'a.yaml:kernel:y', 'b.yaml:engine:z', 'b.yaml:kernel:z',
  ]);
});

t.test('shards partition the tests: disjoint, complete, deterministic, modes kept together', async (t) => {
  const tests = Array.from({ length: 23 }, (_, i) => test(`t${i}`, i % 3 === 0 ? { unpriv: expect() } : {}));
  const suites = [suite('a.yaml', tests.slice(0, 10)), suite('b.yaml', tests.slice(10))];
  const all = planSuites(suites, { backends: ['engine'] }).map((i) => `${i.file}/${i.name}`);
  for (const n of [1, 2, 3, 5, 30]) {
    const seen: string[] = [];
    for (let k = 1; k <= n; k++) {
      const part = planSuites(suites, { backends: ['engine'], shard: { index: k, count: n } });
      const again = planSuites(suites, { backends: ['engine'], shard: { index: k, count: n } });
      t.same(part.map((i) => i.name), again.map((i) => i.name), `shard ${k}/${n} is deterministic`);
      const tests = new Set(part.map((i) => i.test));
      for (const name of tests) {
        const runs = part.filter((i) => i.test === name).length;
        t.equal(runs, name.match(/^t(\d+)$/) && Number(name.slice(1)) % 3 === 0 ? 2 : 1, `${name} keeps its modes together`);
      }
      seen.push(...part.map((i) => `${i.file}/${i.name}`));
    }
    t.same([...seen].sort(), [...all].sort(), `${n} shards cover every run exactly once`);
  }
  const sizes = [1, 2, 3].map((k) => planSuites(suites, { backends: ['engine'], shard: { index: k, count: 3 } }).map((i) => i.test));
  t.same(sizes.map((s) => new Set(s).size), [8, 8, 7], 'round robin over tests balances the shards');
});

t.test('parseShard', async (t) => {
  t.same(parseShard('1/1'), { index: 1, count: 1 });
  t.same(parseShard('3/4'), { index: 3, count: 4 });
  for (const bad of ['0/4', '5/4', '1/0', '1', 'a/b', '1/2/3', '-1/2', '']) t.equal(parseShard(bad), undefined, bad);
});

t.test('__arch_*: tests for other arches are skips decided before running', async (t) => {
  const s = suite('s.yaml', [test('any'), test('x86', { arch: ['x86_64'] }), test('arm', { arch: ['arm64', 'riscv64'] })]);
  const items = planSuites([s], { backends: ['engine'], arch: 'x86_64' });
  t.same(items.map((i) => i.skip), [undefined, undefined, 'only for arm64, riscv64 (host is x86_64)']);
  t.equal(hostArch('x64'), 'x86_64');
  t.equal(hostArch('arm64'), 'arm64');
});

t.test('xfail applies only to the backends it lists (default: engine)', async (t) => {
  const s = suite('s.yaml', [test('a', { xfail: { reason: 'engine lacks X', backends: ['engine'] } })]);
  const items = planSuites([s], { backends: ['engine', 'kernel'] });
  t.same(items.map((i) => [i.backend, i.xfail]), [['engine', 'engine lacks X'], ['kernel', undefined]]);
});
