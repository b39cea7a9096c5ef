// Interpreter retval parity on the kernel selftest corpus, without the kernel: every ported
// 6.12 test with a __retval that the live 6.18 kernel test-ran (`make retval-parity` records
// them into the git-ignored cache next to the ported suites: ported kernel programs are never
// committed) runs
// in the interpreter with test_loader's input and must return what the kernel returned.
// As root on the kernel the fixture was recorded on, a sample of the cases is test-run on
// the live kernel again, so a stale fixture shows up (RUNTIME_CORPUS_LIVE=all: every case).
// When the ported corpus is in .cache/, its retval tests must all be in the fixture. The
// cases that use may_goto (slow: whole may_goto budgets) run in runtime-corpus-maygoto.

import t from 'tap';
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { judgeCase, type RunCaseFixture, runCaseInInterpreter, usesMayGoto } from '../engine/runtime/run-case.ts';

import { CORPUS, loadCorpusRetvalCases } from './lib/corpus-retval.ts';

const loaded = loadCorpusRetvalCases();
/** Without the recorded cases every test here is skipped with the reason. */
const skip = loaded.ok ? false : loaded.reason;
const fixture: RunCaseFixture = loaded.ok ? loaded.fixture : { kernelRelease: '', counts: { withRetval: 0, skipped: 0, notLoaded: 0, runFailed: 0, kernelRan: 0, kernelPasses: 0 }, cases: [] };
const cases = fixture.cases;

t.test('the fixture covers the corpus retval checks the kernel runs', { skip }, async (t) => {
  t.equal(cases.length, fixture.counts.kernelRan, 'one case per kernel test run');
  t.ok(cases.length >= 555, `${cases.length} cases (the kernel's 555 corpus retval checks)`);
  t.equal(new Set(cases.map((c) => c.id)).size, cases.length, 'ids are unique');
  t.ok(cases.every((c) => c.expected === 'pointer' ? c.kernel === undefined : Number.isInteger(c.kernel)), 'a kernel retval for every value check');
});

t.test('every case without may_goto: the interpreter returns the kernel retval', { skip }, async (t) => {
  const bad: string[] = [];
  const mine = cases.filter((c) => !usesMayGoto(c));
  t.ok(mine.length > 500, `${mine.length} cases here`);
  for (const c of mine) {
    const r = runCaseInInterpreter(c);
    const j = judgeCase(c, r);
    if (j.verdict !== 'agree') bad.push(`${c.id}: ${j.verdict}, kernel ${c.kernel ?? 'pointer'}, interpreter ${r.ok ? j.got : r.fault}`);
  }
  t.same(bad, [], `${mine.length - bad.length}/${mine.length} agree`);
});

t.test('the kernel returns every test\'s own retval', { skip }, async (t) => {
  // big_alloc1 needs the arena's first page taken by libbpf's __arena globals (MapDef.arenaData).
  const differ = cases.filter((c) => c.expected !== 'pointer' && c.expected !== c.kernel).map((c) => `${c.id}: ${c.kernel}`);
  t.same(differ, []);
});

const root = process.getuid?.() === 0;
const sameKernel = release() === fixture.kernelRelease;
t.test('live: the kernel still returns the recorded retvals', {
  skip: skip || (!root ? 'needs root for bpf()' : !sameKernel ? `fixture recorded on ${fixture.kernelRelease}, this is ${release()} (kfunc BTF ids differ)` : false),
}, async (t) => {
  const { createKernelBackend } = await import('../harness/backends/kernel.ts');
  const backend = createKernelBackend();
  const all = process.env.RUNTIME_CORPUS_LIVE === 'all';
  const sample = all ? cases : cases.filter((_, i) => i % 10 === 0);
  for (const c of sample) {
    const out = await backend.run({
      program: c.program, auxiliary: c.auxiliary, logLevel: 0, flags: c.program.flags, unpriv: false, series: c.series,
      execute: true, wantXlated: false, wantJited: false,
      ...(c.funcInfo ? { funcInfo: true } : {}),
      ...(c.keepSysAdmin ? { keepSysAdmin: true } : {}),
      ...(c.linearSize !== undefined ? { linearSize: c.linearSize } : {}),
    });
    if (!out.loaded || !out.retval?.ok) {
      t.fail(`${c.id}: the kernel ${out.loaded ? `run failed: ${out.retval?.ok === false ? out.retval.reason : 'no retval'}` : `did not load it (errno ${out.errno}${out.skip ? `, ${out.skip}` : ''})`}`);
      continue;
    }
    if (c.expected === 'pointer') t.pass(`${c.id}: ran`);
    else t.equal(out.retval.value | 0, c.kernel, `${c.id}: kernel retval`);
  }
  await backend.close?.();
});

t.test('the ported corpus (when present) has no retval test missing from the fixture', {
  skip: skip || (existsSync(CORPUS) ? false : 'corpus not ported here (make kernel-selftests)'),
}, async (t) => {
  const { findSpecFiles, loadSuiteFile } = await import('../harness/spec/load.ts');
  const ids = new Set(cases.map((c) => c.id));
  const missing: string[] = [];
  let withRetval = 0;
  for (const file of findSpecFiles([CORPUS])) {
    const suite = loadSuiteFile(file);
    for (const test of suite.tests) {
      if (test.auxiliary || test.priv?.retval === undefined || test.priv.result !== 'success') continue;
      withRetval++;
      if (!ids.has(`${suite.suite}/${test.name}`)) missing.push(`${suite.suite}/${test.name}`);
    }
  }
  t.equal(withRetval, fixture.counts.withRetval, 'as many retval tests as when recorded');
  t.equal(missing.length, fixture.counts.skipped, `only the kernel's skips are missing: ${missing.join(', ')}`);
});
