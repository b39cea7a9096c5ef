// harness/diff/stats.ts and the processed_insns / states kinds: reading the `processed` line,
// the level-4 re-run of accepted pairs (only when the run's own log lacks the line), and
// how the counts show in the diff report and its by-cause listing.

import t from 'tap';
import type { Backend, RunOutcome, RunRequest } from '../harness/backend.ts';
import { compareOutcomes } from '../harness/diff/compare.ts';
import { buildDiffReport, formatDiffSummary, formatDiffTable } from '../harness/diff/report.ts';
import { collectPairStats, pairKey, parseVerifierStats, statsRequest, type PairStats } from '../harness/diff/stats.ts';
import type { RunResult } from '../harness/run/judge.ts';
import { planSuites, type BackendName } from '../harness/run/plan.ts';
import { suite, test } from './fixtures/harness/suites.ts';

const line = (p: number, total: number, peak: number): string =>
  `processed ${p} insns (limit 1000000) max_states_per_insn 1 total_states ${total} peak_states ${peak} mark_read 0\n`;

t.test('parseVerifierStats reads the processed line, with or without mark_read', async (t) => {
  t.same(parseVerifierStats(`verification time 5 usec\nstack depth 0\n${line(12, 3, 2)}`), { processedInsns: 12, totalStates: 3, peakStates: 2 });
  t.same(parseVerifierStats('processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1\n'), { processedInsns: 7, totalStates: 1, peakStates: 1 });
  t.equal(parseVerifierStats(''), undefined);
  t.equal(parseVerifierStats('0: (b7) r0 = 0\nR2 !read_ok\n'), undefined);
});

t.test('statsRequest asks for level 4 only', async (t) => {
  const [item] = planSuites([suite('s.yaml', [test('a')])], { backends: ['engine'] });
  const r = statsRequest({ ...item.request, execute: true, wantXlated: true, wantJited: true, logLevel: 2 });
  t.equal(r.logLevel, 4);
  t.notOk(r.execute || r.wantXlated || r.wantJited || r.wantStreams);
  t.equal(r.program, item.request.program, 'same program');
});

const ok = { loaded: true, errno: 0, log: '' };

t.test('compareOutcomes: processed_insns and states kinds', async (t) => {
  const same: PairStats = { engine: { processedInsns: 5, totalStates: 1, peakStates: 1 }, kernel: { processedInsns: 5, totalStates: 1, peakStates: 1 } };
  const c0 = compareOutcomes(ok, ok, same);
  t.same(c0.differences, []);
  t.ok(c0.compared.includes('processed_insns') && c0.compared.includes('states'));

  const c1 = compareOutcomes(ok, ok, { engine: { processedInsns: 5, totalStates: 1, peakStates: 1 }, kernel: { processedInsns: 9, totalStates: 2, peakStates: 1 } });
  t.same(c1.differences.map((d) => d.kind), ['processed_insns', 'states']);
  t.equal(c1.differences[0].engine, 'processed 5 insns, total_states 1, peak_states 1', 'both numbers shown');
  t.equal(c1.differences[0].kernel, 'processed 9 insns, total_states 2, peak_states 1');

  const c2 = compareOutcomes(ok, ok, { kernel: { processedInsns: 9, totalStates: 2, peakStates: 1 } });
  t.same(c2.differences, [], 'a side without stats is absent, not a difference');
  t.same(c2.absent, [{ kind: 'processed_insns', backend: 'engine' }, { kind: 'states', backend: 'engine' }]);

  const rejected = { loaded: false, errno: 13, log: 'R2 !read_ok\n' };
  t.notOk(compareOutcomes(rejected, ok, same).compared.includes('processed_insns'), 'only pairs both accepted');
  t.notOk(compareOutcomes(ok, ok).compared.includes('processed_insns'), 'no stats given, kind not compared');
});

// Backends whose level-4 answer depends on the program: 'same' 4/4, 'differ' 4 (engine) vs
// 6 (kernel), 'logged' has the line in its own level-1 log (no re-run), 'rejected' fails.
function fakeBackend(name: BackendName, calls: string[]): Backend {
  return {
    name,
    run: async (req: RunRequest): Promise<RunOutcome> => {
      calls.push(`${name}:${req.program.name}:${req.logLevel}`);
      const n = req.program.name === 'differ' && name === 'kernel' ? 6 : 4;
      return { loaded: true, errno: 0, log: req.logLevel & 4 ? `verification time 1 usec\nstack depth 0\n${line(n, 1, 1)}` : '' };
    },
  };
}

t.test('collectPairStats and the report', async (t) => {
  const suites = [suite('s.yaml', [test('same'), test('differ'), test('logged', { logLevel: 1 }), test('rejected')])];
  const items = planSuites(suites, { backends: ['engine', 'kernel'] });
  const results: RunResult[] = items.map((i) => {
    const log = i.test === 'logged' ? `0: (b7) r0 = 0\n${line(i.backend === 'engine' ? 2 : 3, 0, 0)}` : '';
    const outcome = i.test === 'rejected' && i.backend === 'kernel' ? { loaded: false, errno: 13, log: 'R2 !read_ok\n' } : { ...ok, log };
    return { id: i.id, status: 'pass', failures: [], outcome, durationMs: 0 };
  });
  const calls: string[] = [];
  const backends = { engine: fakeBackend('engine', calls), kernel: fakeBackend('kernel', calls) };
  const stats = await collectPairStats(items, results, async (n) => backends[n]);

  t.notOk(calls.some((c) => c.includes(':logged:')), 'a log that has the line is not re-run');
  t.notOk(calls.some((c) => c.includes(':rejected:')), 'pairs not both accepted are not re-run');
  t.ok(calls.every((c) => c.endsWith(':4')), 're-runs are at level 4');
  const key = (test: string): string => pairKey({ file: 's.yaml', test, mode: 'priv' });
  t.same(stats.get(key('logged')), { engine: { processedInsns: 2, totalStates: 0, peakStates: 0 }, kernel: { processedInsns: 3, totalStates: 0, peakStates: 0 } });
  t.equal(stats.get(key('differ'))?.kernel?.processedInsns, 6);

  const report = buildDiffReport(items, results, {}, stats);
  const pairsAccepted = stats.size;
  t.same(report.kinds.processed_insns, { compared: pairsAccepted, differ: 2 }, 'differ and logged differ');
  t.same(report.kinds.states, { compared: pairsAccepted, differ: 0 });
  const summary = formatDiffSummary(report);
  const agree = ((100 * (pairsAccepted - 2)) / pairsAccepted).toFixed(1);
  t.match(summary, new RegExp(`^processed_insns\\s+${pairsAccepted}\\s+2\\s+${agree.replace('.', '\\.')}%`, 'm'));
  const table = formatDiffTable(report);
  t.match(table, /\ndisagreements by cause:\n/);
  t.match(table, /^processed_insns: 2 differences\n  s\.yaml:\d+ s\/differ \[priv\]\n    engine: processed 4 insns, total_states 1, peak_states 1\n    kernel: processed 6 insns, total_states 1, peak_states 1\n/m);
  t.match(table, /^verdict: \d+ differences?\n/m, 'verdict disagreements listed under their own cause');
});
