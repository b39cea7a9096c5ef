// scripts/bench-verifier.ts: the parts that read logs and add up numbers (no timing here).

import t from 'tap';
import {
  parseVerificationTime, parseProcessed, median, totals, totalsByFile, topBy, rowRatio, formatReport,
  type BenchRow,
} from '../scripts/bench-verifier.ts';

const LOG4 = 'verification time 1234 usec\nstack depth 8+0\nprocessed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0\n';

t.test('reads the stats lines of a level-4 log', async (t) => {
  t.equal(parseVerificationTime(LOG4), 1234);
  t.equal(parseProcessed(LOG4), 12);
  // A failed load: the error text comes first, the stats still follow.
  t.equal(parseVerificationTime(`R1 !read_ok\n${LOG4}`), 1234);
  t.equal(parseVerificationTime(''), undefined, 'no log (e.g. EPERM before the verifier)');
  t.equal(parseVerificationTime('0: (b7) r0 = 0 ; verification time 5 usec\n'), undefined, 'only a line of its own counts');
  t.equal(parseProcessed('processed 1000001 insns (limit 1000000) max_states_per_insn 4 total_states 2 peak_states 2 mark_read 1\n'), 1000001);
});

t.test('median', async (t) => {
  t.equal(median([5]), 5);
  t.equal(median([9, 1, 5]), 5);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.throws(() => median([]), RangeError);
});

const rows: BenchRow[] = [
  { file: 'a', test: 'p1', mode: 'priv', kernelUs: 100, engineUs: 300, engineProcessed: 10, kernelProcessed: 10 },
  { file: 'a', test: 'p2', mode: 'priv', kernelUs: 50, engineUs: 50 },
  { file: 'a', test: 'p3', mode: 'priv', kernelUs: 70, engineNote: 'kfunc calls not implemented' },
  { file: 'b', test: 'q1', mode: 'unpriv', kernelNote: 'skip: EPERM', engineUs: 40 },
  { file: 'b', test: 'q2', mode: 'priv', kernelUs: 0, engineUs: 20 },
];

t.test('totals leave out unmodelled programs and programs without a kernel time', async (t) => {
  const all = totals(rows);
  t.equal(all.programs, 5);
  t.equal(all.compared, 3);
  t.equal(all.unsupported, 1);
  t.equal(all.kernelMissing, 1);
  t.equal(all.kernelUs, 150);
  t.equal(all.engineUs, 370);
  t.equal(all.engineAllUs, 410, 'engine time over everything it models');
  t.equal(all.ratio, 370 / 150);
  const byFile = totalsByFile(rows);
  t.same([...byFile.keys()], ['a', 'b']);
  t.equal(byFile.get('a')!.ratio, 350 / 150);
  t.ok(Number.isNaN(byFile.get('b')!.ratio), 'a 0 us kernel total gives no ratio');
  t.ok(Number.isNaN(totals([]).ratio), 'nothing compared: no ratio');
});

t.test('top lists', async (t) => {
  t.equal(rowRatio(rows[4]), 20, 'a 0 us kernel time counts as 1 us');
  t.same(topBy(rows, rowRatio, 2).map((r) => r.test), ['q2', 'p1']);
  t.same(topBy(rows, (r) => r.engineUs!, 10, (r) => r.engineUs !== undefined).map((r) => r.test), ['p1', 'p2', 'q1', 'q2']);
});

t.test('report text', async (t) => {
  const text = formatReport(rows, { reps: 3, top: 2, memory: 'memory: x' });
  t.match(text, /^verifier bench: 5 programs, 3 rep\(s\) each/);
  t.match(text, /\nTOTAL +5 +3 +1 +1 +0\.1 +0\.4 +2\.47x\n/);
  t.match(text, /3 programs compared; 1 not modelled by the engine \(excluded\); 1 without a kernel time \(excluded\)/);
  t.match(text, /top 2 by ratio:\n {2}b\/q2 .* 20\.00x/);
  t.match(text, /\n +1 {2}kfunc calls not implemented\n/);
  t.match(text, /memory: x\n$/);
});
