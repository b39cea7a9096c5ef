// harness/diff/report.ts and `check --backend both`: pairing, per-kind counts, the summary on
// stderr (TAP and its last line untouched), --diff-report JSON + table, the diff in --report.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseCheckArgs, runCheck } from '../harness/commands/check.ts';
import { UsageError } from '../harness/commands/io.ts';
import { formatDiffSummary, formatDiffTable, tablePath, type DiffReport } from '../harness/diff/report.ts';
import { captureIo, expect, options, suite, test } from './fixtures/harness/suites.ts';

const FAKE = new URL('./lib/diff-fake-backend.ts', import.meta.url).href;
const dir = mkdtempSync(join(tmpdir(), 'bpfconform-diff-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const withRetval = expect({ retval: { kind: 'value', value: 0 } });
const SUITES = [
  suite('d.yaml', [
    test('same', { priv: withRetval, unpriv: withRetval }),
    test('verdict'),
    test('retval', { priv: withRetval }),
    test('jited'),
    test('skipk'),
  ]),
];

async function both(extra: Partial<Parameters<typeof options>[0]> = {}) {
  const io = captureIo();
  const run = await runCheck(SUITES, options({ backends: ['engine', 'kernel'], source: { kind: 'module', url: FAKE }, ...extra }), io);
  return { io, run };
}

t.test('check --backend both: summary on stderr, TAP last line intact', async (t) => {
  const { io } = await both();
  const lines = io.out().trimEnd().split('\n');
  t.match(lines[lines.length - 1], /^conformance: \d+ passed, \d+ failed, \d+ skipped, \d+ xfail$/, 'stdout still ends with the summary line');
  t.notMatch(io.out(), /backend diff/, 'the diff table is not in the TAP stream');
  const err = io.err();
  t.match(err, /^backend diff \(engine vs kernel\): 6 pairs, 5 compared, 3 identical, 2 differ, 1 not compared\n/);
  t.match(err, /^verdict\s+5\s+1\s+80\.0%$/m);
  t.match(err, /^retval\s+3\s+1\s+66\.7%\s+0\s+0$/m, 'retval compared where both ran the program');
  t.match(err, /^jited\s+0\s+0\s+-\s+1\s+0$/m, 'engine JIT absent once, not a difference');
});

t.test('--diff-report writes JSON and a table; --report carries the diff', async (t) => {
  const file = join(dir, 'diff.json');
  const runFile = join(dir, 'run.json');
  await both({ diffReport: file, report: runFile });
  const r = JSON.parse(readFileSync(file, 'utf8')) as DiffReport;
  t.equal(r.format, 'bpfconform-diff');
  t.same(r.totals, { pairs: 6, compared: 5, identical: 3, differing: 2, notCompared: 1 });
  t.same(r.kinds.verdict, { compared: 5, differ: 1 });
  t.same(r.kinds.errno, { compared: 5, differ: 1 });
  t.same(r.kinds.first_error_line, { compared: 1, differ: 1 });
  t.same(r.kinds.log, { compared: 5, differ: 1 });
  t.same(r.kinds.retval, { compared: 3, differ: 1 });
  t.same(r.kinds.jited, { compared: 0, differ: 0 });
  t.same(r.absent.jited, { engine: 1, kernel: 0 });
  t.same(r.pairs.map((p) => [p.test, p.mode, p.differences.map((d) => d.kind)]), [
    ['verdict', 'priv', ['verdict', 'errno', 'first_error_line', 'log']],
    ['retval', 'priv', ['retval']],
    ['jited', 'priv', []],
  ]);
  t.same(r.notCompared.map((n) => [n.name, n.reason]), [['skipk', 'kernel skipped: not on this machine']]);
  t.equal(readFileSync(join(dir, 'diff.txt'), 'utf8'), formatDiffTable(r));
  const run = JSON.parse(readFileSync(runFile, 'utf8')) as { diff?: DiffReport; summary: string };
  t.same(run.diff, r, 'the run report holds the same diff');
  t.match(run.summary, /^conformance: /);
});

t.test('one backend: no diff anywhere', async (t) => {
  const io = captureIo();
  const runFile = join(dir, 'single.json');
  await runCheck(SUITES, options({ backends: ['kernel'], source: { kind: 'module', url: FAKE }, report: runFile }), io);
  t.equal(io.err(), '');
  t.notOk('diff' in JSON.parse(readFileSync(runFile, 'utf8')));
});

t.test('table text', async (t) => {
  const { io } = await both({ diffReport: join(dir, 'x') });
  const table = readFileSync(join(dir, 'x.txt'), 'utf8');
  t.ok(table.startsWith(io.err()), 'the table starts with the stderr summary');
  t.match(table, /d\.yaml:1 d\/verdict \[priv\]  engine pass, kernel fail\n  verdict\n    engine: loaded\n    kernel: rejected\n/);
  t.match(table, /  first_error_line\n    engine: \(none\)\n    kernel: R2 !read_ok\n/);
  t.match(table, /\nnot compared:\n  d\.yaml:1 skipk \[priv\]: kernel skipped: not on this machine\n/);
  t.notMatch(table, /d\/jited/, 'pairs with only absences are not listed as differences');
  t.equal(tablePath('a/b.json'), 'a/b.txt');
  t.equal(tablePath('a/b'), 'a/b.txt');
  t.equal(tablePath('b.report'), 'b.report.txt');
});

t.test('empty run', async (t) => {
  const io = captureIo();
  await runCheck([], options({ backends: ['engine', 'kernel'], source: { kind: 'module', url: FAKE } }), io);
  t.match(io.err(), /0 pairs, 0 compared/);
  t.match(formatDiffSummary({ format: 'bpfconform-diff', version: 1, meta: {}, totals: { pairs: 0, compared: 0, identical: 0, differing: 0, notCompared: 0 },
    kinds: { verdict: { compared: 0, differ: 0 }, errno: { compared: 0, differ: 0 }, first_error_line: { compared: 0, differ: 0 }, log: { compared: 0, differ: 0 }, xlated: { compared: 0, differ: 0 }, jited: { compared: 0, differ: 0 }, retval: { compared: 0, differ: 0 }, processed_insns: { compared: 0, differ: 0 }, states: { compared: 0, differ: 0 } },
    absent: { xlated: { engine: 0, kernel: 0 }, jited: { engine: 0, kernel: 0 }, retval: { engine: 0, kernel: 0 }, processed_insns: { engine: 0, kernel: 0 }, states: { engine: 0, kernel: 0 } }, pairs: [], notCompared: [] }), /^verdict\s+0\s+0\s+-$/m);
});

t.test('CLI options', async (t) => {
  const o = parseCheckArgs(['--backend', 'both', '--diff-report', 'd.json']);
  t.ok(o !== 'help' && o.diffReport === 'd.json' && o.backends.length === 2);
  t.throws(() => parseCheckArgs(['--diff-report', 'd.json']), UsageError, '--diff-report needs --backend both');
  t.throws(() => parseCheckArgs(['--backend', 'kernel', '--diff-report', 'd.json']), UsageError);
});
