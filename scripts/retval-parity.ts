// Retval parity on the ported kernel selftest corpus: for every test with a __retval whose
// privileged run the live kernel loads and test-runs, run the same program (bypassing our
// verifier) in the interpreter with the input test_loader gives it, and compare the low 32
// bits of r0 as the kernel reports them. A POINTER_VALUE retval only needs both to run.
//
// usage: node --import tsx scripts/retval-parity.ts [--specs DIR] [--filter RE]
//          [--record FILE] [--verbose]
//   --record writes the cases the kernel ran (bytecode, maps, kernel retval) as a
//   deterministic file for test/runtime-corpus-retval.test.ts; `make retval-parity` puts it in
//   the git-ignored cache, since the cases are ported kernel programs and never committed.

import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScriptArgs } from './lib/cli-args.ts';
import { findSpecFiles, loadSuiteFile } from '../harness/spec/load.ts';
import { planSuites, type RunItem } from '../harness/run/plan.ts';
import { createKernelBackend } from '../harness/backends/kernel.ts';
import { release } from 'node:os';
import { type RunCase, judgeCase, runCaseInInterpreter, runCaseToJson } from '../engine/runtime/run-case.ts';

const USAGE = `usage: retval-parity.ts [options]
Corpus __retval checks: the live kernel's test run against the interpreter.`;

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** test_loader's POINTER_VALUE: "don't check". */
const POINTER_VALUE = 0xcafe4a11;

async function main(): Promise<number> {
  const { values: o } = parseScriptArgs(USAGE, {
    options: {
      specs: { type: 'string', default: join(REPO, '.cache', 'kernel-selftests', 'specs') },
      filter: { type: 'string' },
      record: { type: 'string' },
      verbose: { type: 'boolean' },
    },
  });
  const suites = findSpecFiles([resolve(o.specs!)]).map(loadSuiteFile);
  const kfuncIds = new Map(suites.map((s) => [s.suite, new Map((s.kfuncs ?? []).filter((k) => k.btfId).map((k) => [k.btfId, k.name]))]));
  const items = planSuites(suites, { backends: ['kernel'], ...(o.filter ? { filter: new RegExp(o.filter) } : {}) })
    .filter((i: RunItem) => i.mode === 'priv' && i.request.execute);
  const backend = createKernelBackend();
  const counts = { withRetval: items.length, skipped: 0, notLoaded: 0, runFailed: 0, kernelRan: 0, kernelPasses: 0, agree: 0, skippedAgreeWithTest: 0 };
  const causes = new Map<string, string[]>();
  const cases: RunCase[] = [];
  const note = (cause: string, line: string): void => void (causes.get(cause) ?? causes.set(cause, []).get(cause)!).push(line);

  for (const item of items) {
    const id = `${item.suite}/${item.test}`;
    const rv = item.expect.retval!;
    const expected = rv.kind === 'pointer' || (rv.value | 0) === (POINTER_VALUE | 0) ? 'pointer' as const : rv.value | 0;
    const c0: RunCase = {
      id, program: item.request.program, auxiliary: item.request.auxiliary, series: item.request.series,
      ...(item.request.linearSize !== undefined ? { linearSize: item.request.linearSize } : {}),
      ...(kfuncIds.get(item.suite)?.size ? { kfuncs: kfuncIds.get(item.suite) } : {}),
      ...(item.request.funcInfo ? { funcInfo: true } : {}),
      ...(item.request.keepSysAdmin ? { keepSysAdmin: true } : {}),
      expected,
    };
    // A test the kernel cannot run here: the interpreter against the test's own retval.
    const unchecked = (why: string): void => {
      counts.skipped++;
      const j = judgeCase({ expected, ...(expected === 'pointer' ? {} : { kernel: expected }) }, runCaseInInterpreter(c0));
      if (j.verdict === 'agree') counts.skippedAgreeWithTest++;
      note('kernel cannot run it (interpreter vs the test\'s retval)', `${id}: ${why}; interpreter ${j.verdict === 'agree' ? 'matches' : `${j.verdict} (${j.got})`}`);
    };
    if (item.skip) { unchecked(item.skip); continue; }
    const out = await backend.run(item.request);
    if (out.skip) { unchecked(out.skip); continue; }
    if (!out.loaded) { counts.notLoaded++; note('kernel did not load', `${id}: errno ${out.errno}`); continue; }
    if (!out.retval?.ok) { counts.runFailed++; note('kernel test run failed', `${id}: ${out.retval?.ok === false ? out.retval.reason : 'no retval'}`); continue; }
    counts.kernelRan++;
    const kernel = out.retval.value | 0;
    if (expected === 'pointer' || expected === kernel) counts.kernelPasses++;
    else note('kernel retval differs from the test\'s', `${id}: expected ${expected}, kernel ${kernel}`);
    const c: RunCase = { ...c0, ...(expected === 'pointer' ? {} : { kernel }) };
    cases.push(c);
    const r = runCaseInInterpreter(c);
    const j = judgeCase(c, r);
    if (j.verdict === 'agree') counts.agree++;
    else if (j.verdict === 'disagree') note('interpreter disagrees', `${id}: kernel ${kernel}, interpreter ${j.got}`);
    else note(j.verdict === 'interp-limit' ? 'interpreter instruction limit' : 'interpreter fault', `${id}: ${r.fault}`);
    if (o.verbose) process.stdout.write(`${j.verdict.padEnd(12)} ${id}\n`);
  }
  await backend.close?.();

  process.stdout.write(`tests with a retval (priv runs): ${counts.withRetval}\n`);
  process.stdout.write(`  kernel skipped: ${counts.skipped} (interpreter returns the test's retval: ${counts.skippedAgreeWithTest}), not loaded: ${counts.notLoaded}, test run failed: ${counts.runFailed}\n`);
  process.stdout.write(`  kernel ran: ${counts.kernelRan} (retval as expected: ${counts.kernelPasses})\n`);
  process.stdout.write(`  interpreter agrees: ${counts.agree}, disagrees: ${counts.kernelRan - counts.agree}\n`);
  for (const [cause, lines] of causes) {
    process.stdout.write(`\n${cause} (${lines.length}):\n`);
    for (const l of lines) process.stdout.write(`  ${l}\n`);
  }
  if (o.record) {
    cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const { agree: _agree, skippedAgreeWithTest: _s, ...kernelCounts } = counts; // the fixture holds the kernel's side only
    const fixture = { kernelRelease: release(), counts: kernelCounts, cases: cases.map(runCaseToJson) };
    writeFileSync(o.record, JSON.stringify(fixture, null, 0).replace(/\{"id":/g, '\n{"id":') + '\n');
    process.stdout.write(`\nrecorded ${cases.length} cases to ${o.record}\n`);
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // Piped into `head`: stop quietly when the reader goes away.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  process.exitCode = await main();
}
