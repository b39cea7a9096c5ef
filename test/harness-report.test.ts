import t from 'tap';
// tap-parser comes with tap; it checks that our output really is TAP a consumer reads.
import { Parser, type FinalResults, type Result } from 'tap-parser';
import { parse as parseYaml } from 'yaml';
import { countResults, exitStatus, summaryLine } from '../harness/report/counts.ts';
import { progressBar } from '../harness/report/progress.ts';
import { SummaryReporter } from '../harness/report/summary.ts';
import { tapEscape, TapReporter, yamlBlock } from '../harness/report/tap.ts';
import type { RunResult, Status } from '../harness/run/judge.ts';
import { planSuites } from '../harness/run/plan.ts';
import { expect, suite, test } from './fixtures/harness/suites.ts';

function results(statuses: Status[]): RunResult[] {
  return statuses.map((status, id) => ({
    id,
    status,
    ...(status === 'skip' ? { reason: 'no bpf()' } : status === 'xfail' ? { reason: 'known: #12' } : status === 'fail' ? { reason: 'boom' } : {}),
    failures: status === 'fail' || status === 'xfail' ? [{ kind: 'verdict', message: 'expected the load to fail, but it succeeded' }] : [],
    outcome: { loaded: true, errno: 0, log: 'line 1\n  indented: "x" # not a comment\n' },
    durationMs: 1,
  }));
}

function render(statuses: Status[]): string {
  const items = planSuites(
    [
      suite('dir/a.yaml', [test('a1', { description: 'has # hash \\ and slash' }), test('a2', { unpriv: expect() })]),
      suite('dir/b.yaml', [test('b1'), test('b2')]),
    ],
    { backends: ['engine'] },
  );
  let out = '';
  const rep = new TapReporter((s) => void (out += s));
  const rs = results(statuses);
  rep.begin(items);
  items.forEach((it, i) => rep.result(it, rs[i]));
  rep.end(countResults(rs));
  return out;
}

function parseTap(text: string): Promise<{ final: FinalResults; children: { ok: boolean; name: string; todo: string | boolean; skip: string | boolean; diag: unknown }[][] }> {
  return new Promise((resolve) => {
    const children: { ok: boolean; name: string; todo: string | boolean; skip: string | boolean; diag: unknown }[][] = [];
    const p = new Parser();
    p.on('child', (c: Parser) => {
      const list: (typeof children)[number] = [];
      children.push(list);
      c.on('assert', (a: Result) => list.push({ ok: a.ok, name: a.name, todo: a.todo, skip: a.skip, diag: a.diag }));
    });
    p.on('complete', (final: FinalResults) => resolve({ final, children }));
    p.end(text);
  });
}

t.test('TAP 14 shape: version, plan, one subtest per file, escapes, directives', async (t) => {
  const out = render(['pass', 'fail', 'skip', 'xfail', 'pass']);
  const lines = out.split('\n');
  t.equal(lines[0], 'TAP version 14');
  t.equal(lines[1], '1..2');
  t.equal(lines[2], '# Subtest: dir/a.yaml');
  t.equal(lines[3], '    1..3');
  t.equal(lines[4], '    ok 1 - has \\# hash \\\\ and slash');
  t.equal(lines[5], '    not ok 2 - a2');
  t.equal(lines[6], '      ---');
  t.match(out, /\n    ok 3 - a2 @unpriv # SKIP no bpf\(\)\nnot ok 1 - dir\/a\.yaml\n/);
  t.match(out, /\n    not ok 1 - b1 # TODO known: #12\n/);
  t.match(out, /\nok 2 - dir\/b\.yaml\nconformance: 2 passed, 1 failed, 1 skipped, 1 xfail\n$/, 'an xfail does not fail its file');

  const { final, children } = await parseTap(out);
  t.equal(final.count, 2);
  t.equal(final.fail, 1);
  t.same(children.map((c) => c.map((a) => a.ok)), [[true, false, true], [false, true]]);
  t.equal(children[0][0].name, 'has # hash \\ and slash', 'escapes round-trip through a TAP parser');
  t.equal(children[0][2].skip, 'no bpf()');
  t.equal(children[1][0].todo, 'known: #12');
  const diag = children[0][1].diag as Record<string, unknown>;
  t.equal(diag.at, 'dir/a.yaml:1:1');
  t.same(diag.failures, ['verdict: expected the load to fail, but it succeeded']);
  t.equal(diag.log, 'line 1\n  indented: "x" # not a comment\n', 'the log survives YAML quoting');
});

t.test('all passing: every line ok', async (t) => {
  const { final } = await parseTap(render(['pass', 'pass', 'pass', 'pass', 'pass']));
  t.equal(final.ok, true);
  t.equal(final.count, 2);
});

t.test('yamlBlock round-trips awkward strings', async (t) => {
  const obj = { a: 'x: y', b: '- list?', c: 'multi\nline\n  with indent\n', d: '...', e: '---', f: "quote's \"both\"", g: '' };
  const block = yamlBlock(obj, '  ');
  const lines = block.trimEnd().split('\n');
  t.equal(lines[0], '  ---');
  t.equal(lines.at(-1), '  ...');
  t.ok(lines.slice(1, -1).every((l) => l === '' || l.startsWith('  ')), 'every body line is indented');
  t.same(parseYaml(lines.slice(1, -1).map((l) => l.slice(2)).join('\n')), obj);
});

t.test('tapEscape', async (t) => {
  t.equal(tapEscape('a#b\\c\nd'), 'a\\#b\\\\c d');
});

t.test('counts, summary line, exit status', async (t) => {
  const c = countResults(results(['pass', 'pass', 'fail', 'skip', 'xfail', 'xfail']));
  t.same(c, { passed: 2, failed: 1, skipped: 1, xfail: 2 });
  t.equal(summaryLine(c), 'conformance: 2 passed, 1 failed, 1 skipped, 2 xfail');
  t.match(summaryLine(c), /^conformance: \d+ passed, \d+ failed, \d+ skipped/, 'keeps the required prefix');
  t.equal(exitStatus(c), 1);
  t.equal(exitStatus(countResults(results(['pass', 'skip', 'xfail']))), 0);
});

t.test('summary reporter: one line per failure', async (t) => {
  const items = planSuites([suite('s.yaml', [test('x'), test('y'), test('z')])], { backends: ['kernel'] });
  let out = '';
  const rep = new SummaryReporter((s) => void (out += s));
  const rs = results(['fail', 'pass', 'xfail']);
  rep.begin();
  items.forEach((it, i) => rep.result(it, rs[i]));
  rep.end(countResults(rs));
  t.equal(out, 'FAIL s.yaml:1 s/x [kernel]: boom\nconformance: 1 passed, 1 failed, 0 skipped, 1 xfail\n');
});

t.test('progress bar only on a TTY', async (t) => {
  let written = '';
  const pipe = progressBar({ isTTY: false, write: (s: string) => (written += s) });
  pipe.update(1, 2);
  pipe.finish();
  t.equal(written, '');
  const tty = progressBar({ isTTY: true, columns: 80, write: (s: string) => (written += s) });
  tty.update(1, 2);
  tty.clear();
  tty.update(2, 2);
  tty.finish();
  t.match(written, /^\r\[#+ +\] 1\/2\r\x1b\[2K\r\[#+\] 2\/2\r\x1b\[2K$/);
  const before = written;
  tty.finish();
  t.equal(written, before, 'finish after clear writes nothing');
});
