// End to end through runCheck with the scripted fake backend (test/fixtures/harness).
import t from 'tap';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCheck } from '../harness/commands/check.ts';
import { hostArch } from '../harness/run/plan.ts';
import { captureIo, expect, options, pats, suite, test } from './fixtures/harness/suites.ts';

const lastLine = (s: string) => s.trimEnd().split('\n').at(-1);

t.test('all passing: exit 0, summary line last', async (t) => {
  const io = captureIo();
  const r = await runCheck([suite('a.yaml', [test('accept_1'), test('reject', { priv: expect({ result: 'failure', msgs: pats('R2 !read_ok') }) })])], options(), io);
  t.equal(r.exitCode, 0);
  t.equal(lastLine(io.out()), 'conformance: 2 passed, 0 failed, 0 skipped, 0 xfail');
  t.equal(io.out().split('\n').filter((l) => l.startsWith('conformance:')).length, 1, 'exactly one summary line');
});

t.test('any failure: exit 1', async (t) => {
  const io = captureIo();
  const r = await runCheck([suite('a.yaml', [test('accept_1'), test('reject')])], options(), io);
  t.equal(r.exitCode, 1);
  t.equal(lastLine(io.out()), 'conformance: 1 passed, 1 failed, 0 skipped, 0 xfail');
});

t.test('skips and unsupported', async (t) => {
  const io = captureIo();
  const r = await runCheck([suite('a.yaml', [test('skip'), test('unsupported')])], options(), io);
  t.equal(r.exitCode, 1, 'unsupported is a failure');
  t.same(r.results.map((x) => x.status), ['skip', 'fail']);
  t.match(io.out(), /ok 1 - skip # SKIP not on this machine/);
  t.match(io.out(), /unsupported by this backend: verifier not implemented/);
});

t.test('xfail both ways', async (t) => {
  const io = captureIo();
  const failing = test('reject', { xfail: { reason: 'engine lacks X', backends: ['engine'] } });
  const r1 = await runCheck([suite('a.yaml', [test('accept_1'), failing])], options(), io);
  t.equal(r1.exitCode, 0, 'a failing xfail does not fail the run');
  t.same(r1.results.map((x) => x.status), ['pass', 'xfail']);
  t.match(io.out(), /not ok 2 - reject # TODO engine lacks X/);
  t.equal(lastLine(io.out()), 'conformance: 1 passed, 0 failed, 0 skipped, 1 xfail');

  const io2 = captureIo();
  const r2 = await runCheck([suite('a.yaml', [test('accept_1', { xfail: { reason: 'old', backends: ['engine'] } })])], options(), io2);
  t.equal(r2.exitCode, 1, 'an xfail that passes fails the run');
  t.match(io2.out(), /not ok 1 - accept_1\n/);
  t.match(io2.out(), /xfail passed: remove the xfail/);
  t.equal(lastLine(io2.out()), 'conformance: 0 passed, 1 failed, 0 skipped, 0 xfail');
});

t.test('a crashing test fails alone and the run goes on (in process)', async (t) => {
  const io = captureIo();
  const r = await runCheck([suite('a.yaml', [test('throw'), test('accept_2')])], options(), io);
  t.same(r.results.map((x) => x.status), ['fail', 'pass']);
  t.match(r.results[0].reason ?? '', /the test crashed: Error: fake backend exploded/);
});

t.test('worker death and a hung test fail alone under --jobs 2', async (t) => {
  const io = captureIo();
  const s = suite('a.yaml', [test('accept_1'), test('die'), test('accept_2'), test('hang'), test('accept_3')]);
  const r = await runCheck([s], options({ jobs: 2, timeoutMs: 1000, reporter: 'summary' }), io);
  t.same(r.results.map((x) => x.status), ['pass', 'fail', 'pass', 'fail', 'pass']);
  t.match(r.results[1].reason ?? '', /worker thread exited \(code 3\)/);
  t.match(r.results[3].reason ?? '', /timed out after 1000 ms/);
  t.equal(r.exitCode, 1);
  t.equal(io.out().split('\n').filter((l) => l.startsWith('FAIL ')).length, 2, 'summary: one line per failure');
});

t.test('output is identical with --jobs 1 and --jobs 2', async (t) => {
  // Early runs are slow and later ones fast, so completion order differs from plan order.
  const mk = () => [
    suite('a.yaml', [test('slow_120'), test('accept_5', { unpriv: expect({ retval: { kind: 'value', value: 6 } }), priv: expect({ retval: { kind: 'value', value: 5 } }) }), test('slow_60'), test('reject')]),
    suite('b.yaml', [test('slow_0'), test('skip'), test('accept_3', { xfail: { reason: 'r', backends: ['engine'] } }), test('unsupported', { xfail: { reason: 'u', backends: ['engine'] } })]),
  ];
  const outs: string[] = [];
  for (const jobs of [1, 2]) {
    for (const reporter of ['tap', 'summary'] as const) {
      const io = captureIo();
      await runCheck(mk(), options({ jobs, reporter }), io);
      outs.push(io.out());
    }
  }
  t.equal(outs[2], outs[0], 'tap');
  t.equal(outs[3], outs[1], 'summary');
  t.equal(lastLine(outs[0]), 'conformance: 4 passed, 3 failed, 1 skipped, 1 xfail');
});

t.test('--backend both runs each file once per backend', async (t) => {
  const io = captureIo();
  const r = await runCheck([suite('a.yaml', [test('accept_1')])], options({ backends: ['engine', 'kernel'] }), io);
  t.equal(r.results.length, 2);
  t.match(io.out(), /# Subtest: a\.yaml \[engine\][^]*# Subtest: a\.yaml \[kernel\]/);
});

t.test('--report FILE writes the JSON report; json reporter on stdout', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bpfconform-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'r.json');
  const io = captureIo();
  await runCheck([suite('a.yaml', [test('accept_1'), test('reject'), test('skip')])], options({ reporter: 'json', report: file }), io);
  const fromFile = JSON.parse(readFileSync(file, 'utf8'));
  const out = io.out();
  const lines = out.trimEnd().split('\n');
  t.equal(lines.at(-1), 'conformance: 1 passed, 1 failed, 1 skipped, 0 xfail');
  const fromStdout = JSON.parse(lines.slice(0, -1).join('\n'));
  for (const rep of [fromFile, fromStdout]) {
    t.equal(rep.format, 'bpfconform-report');
    t.same(rep.counts, { passed: 1, failed: 1, skipped: 1, xfail: 0, total: 3 });
    t.same(rep.results.map((x: { name: string; status: string }) => [x.name, x.status]), [['accept_1', 'pass'], ['reject', 'fail'], ['skip', 'skip']]);
    t.match(rep.results[1].log, /R2 !read_ok/, 'the log of a failure is kept whole');
    t.notOk('log' in rep.results[0], 'no log for passes');
    t.equal(rep.results[1].errno, 13);
  }
});

t.test('no tests selected: plan 1..0, exit 0, a note on stderr', async (t) => {
  const io = captureIo();
  const r = await runCheck([suite('a.yaml', [test('accept_1')])], options({ filter: /nothing/ }), io);
  t.equal(r.exitCode, 0);
  t.match(io.out(), /^TAP version 14\n1\.\.0 # no tests selected\nconformance: 0 passed, 0 failed, 0 skipped, 0 xfail\n$/);
  t.match(io.err(), /no tests selected/);
});

t.test('an arch skip never reaches the backend', async (t) => {
  const io = captureIo();
  // 'throw' would crash if it were run.
  const r = await runCheck([suite('a.yaml', [test('throw', { arch: ['no_such_arch'] })])], options(), io);
  t.same(r.results.map((x) => [x.status, x.reason]), [['skip', `only for no_such_arch (host is ${hostArch()})`]]);
  t.equal(r.exitCode, 0);
});

t.test('progress bar on a TTY stderr, never in stdout', async (t) => {
  const io = captureIo();
  let bar = '';
  const tty = { isTTY: true, columns: 80, write: (s: string) => (bar += s) };
  await runCheck([suite('a.yaml', [test('accept_1'), test('accept_2'), test('accept_3')])], options(), { ...io, stderrStream: tty });
  t.match(bar, /\] 3\/3/);
  t.notMatch(io.out(), /\x1b|\r/);
});
