// Byte parity of the kernel-mode JIT on the ported 6.12 selftest corpus and specs/, as
// scripts/jit-corpus-parity.ts measured it against the live kernel. The committed summary
// (test/fixtures/jit-corpus-parity.json: names, hashes, verdicts, causes; no bytecode) is
// checked for the issue's bar; with the ported cache and root, a sample is compared again
// live (every program the summary lists with a recovered form or a load fact, and every
// 30th of the rest).

import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { environmentSkip } from '../engine/kernel/load.ts';
import { CORPUS_DIR, SPECS_DIR, SUMMARY, groupByCause, runParity, type ParityEntry, type ParitySummary } from '../scripts/jit-corpus-parity.ts';

const summary = JSON.parse(readFileSync(SUMMARY, 'utf8')) as ParitySummary;
const ALLOWED_KEYS = new Set(['name', 'verdict', 'xlatedHash', 'imageHash', 'funcLens', 'rndHi32', 'recovered', 'facts', 'cause', 'detail']);

t.test('the summary meets the bar: >= 95% byte parity on the corpus and on specs/, the rest by cause', async (t) => {
  for (const key of ['corpus', 'specs'] as const) {
    const mine = summary.entries.filter((e) => e.name.startsWith(`${key}/`));
    const c = summary.counts[key];
    t.equal(mine.length, c.compared, `${key}: one entry per compared program`);
    t.equal(mine.filter((e) => e.verdict === 'equal').length, c.equal, `${key}: equal count`);
    t.ok(c.compared > 0, `${key}: ${c.compared} programs compared`);
    t.ok(c.equal / c.compared >= 0.95, `${key}: parity ${c.equal}/${c.compared}`);
  }
  t.ok(summary.counts.corpus.compared >= 700, 'the corpus was there when the summary was recorded');
  for (const [cause, list] of groupByCause(summary.entries)) t.comment(`${list.length} x ${cause}`);
  const unexplained = summary.entries.filter((e) => e.verdict !== 'equal' && !e.cause);
  t.same(unexplained.map((e) => e.name), [], 'every mismatch names its cause');
});

t.test('the summary holds no bytecode, only names, hashes, verdicts and causes', async (t) => {
  const extra = summary.entries.flatMap((e) => Object.keys(e).filter((k) => !ALLOWED_KEYS.has(k)).map((k) => `${e.name}.${k}`));
  t.same(extra, [], 'no other fields');
  t.ok(summary.entries.every((e) => e.rndHi32 || (/^[0-9a-f]{16}$/.test(e.xlatedHash ?? '') && /^[0-9a-f]{16}$/.test(e.imageHash ?? ''))), 'hashes are 64-bit digests');
  const names = summary.entries.map((e) => e.name);
  t.same(names, [...names].sort(), 'sorted, so a re-recording diffs cleanly');
  t.equal(new Set(names).size, names.length, 'unique names');
});

t.test('forms recovered from the image are the ones the dump hides', async (t) => {
  const kinds = new Set(summary.entries.flatMap((e) => (e.recovered ?? []).map((r) => r.replace(/^func \d+ insn \d+: /, ''))));
  for (const k of kinds) t.ok(['PROBE_MEM', 'PROBE_MEM32', 'direct tail call', 'indirect tail call', 'direct tail call (target installed)'].includes(k), `recovered: ${k}`);
  t.ok(summary.entries.some((e) => e.facts?.some((f) => /private stack/.test(f))), 'the corpus exercises the private stack');
  t.ok(summary.entries.some((e) => e.facts?.includes('arena')), 'and arenas');
});

const skip = !existsSync(CORPUS_DIR)
  ? `no ported corpus at ${CORPUS_DIR} (make kernel-selftests)`
  : environmentSkip({});
t.test('live: re-compare a sample against the kernel', { skip: skip ?? false }, async (t) => {
  const byName = new Map(summary.entries.map((e) => [e.name, e]));
  const plain = summary.entries.filter((e) => !e.recovered && !e.facts);
  const sample = new Set([
    ...summary.entries.filter((e) => e.recovered || e.facts).map((e) => e.name),
    ...plain.filter((_, k) => k % 30 === 0).map((e) => e.name),
  ]);
  const sameKernel = summary.kernelRelease === release();
  const seen: ParityEntry[] = [];
  runParity({
    sources: [{ key: 'corpus', dir: CORPUS_DIR }, { key: 'specs', dir: SPECS_DIR }],
    select: (n) => sample.has(n),
    onEntry: (e) => seen.push(e),
  });
  t.ok(seen.length >= sample.size * 0.9, `${seen.length} of ${sample.size} sampled programs loaded again`);
  for (const e of seen) {
    const was = byName.get(e.name)!;
    t.equal(e.verdict, was.verdict, `${e.name}: ${e.verdict}${e.detail ? ` (${e.detail})` : ''}`);
    if (sameKernel && !e.rndHi32) t.equal(e.imageHash, was.imageHash, `${e.name}: the kernel's masked image is unchanged`);
  }
});
