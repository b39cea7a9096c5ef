// `bpfconform check`: load spec suites, plan the runs, run them (in parallel), report.

import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Series } from '../../engine/program/types.ts';
import { buildDiffReport, formatDiffSummary, formatDiffTable, tablePath } from '../diff/report.ts';
import { collectPairStats } from '../diff/stats.ts';
import { BackendCache } from '../run/backends.ts';
import { countResults, exitStatus } from '../report/counts.ts';
import { buildJsonReport, JsonReporter } from '../report/json.ts';
import { progressBar } from '../report/progress.ts';
import type { Reporter } from '../report/reporter.ts';
import { SummaryReporter } from '../report/summary.ts';
import { TapReporter } from '../report/tap.ts';
import type { BackendSource } from '../run/backends.ts';
import type { RunResult } from '../run/judge.ts';
import { parseShard, planSuites, type BackendName, type RunItem } from '../run/plan.ts';
import { runItems } from '../run/runner.ts';
import { checkPathsExist, defaultSuiteLoader, loadSuites, type SuiteLoader } from '../run/suites.ts';
import type { SuiteSpec } from '../spec/types.ts';
import { UsageError, type Io } from './io.ts';

export const usage = `usage: bpfconform check [paths...] [options]

Run YAML spec suites (files, or directories searched for *.yaml; default: specs) the way the
kernel's test_loader runs verifier selftests: one subtest per mode (priv, unpriv "@unpriv").

options:
  --filter RE          run only subtests whose "suite/name" or "suite/program" matches RE
  --series v4|merged   stack-argument dialect for tests and suites that name none
  --backend B          engine (default), kernel (the live kernel; needs root), or both
  --jobs N             parallel runs (default: CPU count; 1 runs in this process)
  --shard K/N          run the K-th of N deterministic partitions of the tests (1 <= K <= N)
  --reporter R         tap (default, TAP 14), json, or summary (one line per failure)
  --report FILE        also write the JSON report to FILE (with --backend both it holds the
                       backend diff too, under "diff")
  --diff-report FILE   with --backend both: write the engine-vs-kernel diff as JSON to FILE
                       and as a table to FILE with .txt for .json (or FILE.txt)
  --timeout MS         fail a run that takes longer (default 120000; 0 = none; needs --jobs > 1
                       to stop a run stuck in synchronous code)
  --backend-module M   take backends from module M exporting createBackend(name) (testing)
  -h, --help           show this help

Counting: every run (one test, one mode, one backend) is exactly one of
  passed   all checks held;
  failed   a check failed (verdict, msgs, xlated, jited, retval, stack_arg_depth, a backend
           that cannot do what the test needs, a crash), or an xfail test passed;
  skipped  the backend could not run it here (reason given);
  xfail    a test marked xfail failed as expected (TAP "not ok ... # TODO reason").
stdout ends with "conformance: N passed, N failed, N skipped, N xfail".
With --backend both, a table of engine-vs-kernel differences per kind (verdict, errno, first
error line, log, xlated, JIT bytes, retval) goes to stderr at the end.
Exit status: 0 nothing failed, 1 a failure (or an internal error), 2 bad input or usage.
`;

export interface CheckOptions {
  readonly paths: readonly string[];
  readonly filter?: RegExp;
  readonly series?: Series;
  readonly backends: readonly BackendName[];
  readonly jobs: number;
  readonly shard?: { readonly index: number; readonly count: number };
  readonly reporter: 'tap' | 'json' | 'summary';
  readonly report?: string;
  readonly diffReport?: string;
  readonly timeoutMs?: number;
  readonly source: BackendSource;
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')} (got '${value}')`);
  return value as T;
}

function nonNegativeInt(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`${flag} must be an integer >= ${min} (got '${value}')`);
  return Number(value);
}

export function parseCheckArgs(argv: readonly string[]): CheckOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        filter: { type: 'string' },
        series: { type: 'string' },
        backend: { type: 'string' },
        jobs: { type: 'string', short: 'j' },
        shard: { type: 'string' },
        reporter: { type: 'string' },
        report: { type: 'string' },
        'diff-report': { type: 'string' },
        timeout: { type: 'string' },
        'backend-module': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values;
  if (v.help) return 'help';

  let filter: RegExp | undefined;
  if (v.filter !== undefined) {
    try {
      filter = new RegExp(v.filter);
    } catch (err) {
      throw new UsageError(`--filter: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  let shard;
  if (v.shard !== undefined) {
    shard = parseShard(v.shard);
    if (!shard) throw new UsageError(`--shard must be K/N with 1 <= K <= N (got '${v.shard}')`);
  }
  const backend = oneOf('--backend', v.backend, ['engine', 'kernel', 'both'] as const) ?? 'engine';
  const series = oneOf('--series', v.series, ['v4', 'merged'] as const);
  const timeoutMs = nonNegativeInt('--timeout', v.timeout, 0) ?? 120_000;
  if (v['diff-report'] !== undefined && backend !== 'both') throw new UsageError('--diff-report needs --backend both');
  return {
    paths: parsed.positionals.length ? parsed.positionals : ['specs'],
    ...(filter ? { filter } : {}),
    ...(series ? { series } : {}),
    backends: backend === 'both' ? ['engine', 'kernel'] : [backend],
    jobs: nonNegativeInt('--jobs', v.jobs, 1) ?? availableParallelism(),
    ...(shard ? { shard } : {}),
    reporter: oneOf('--reporter', v.reporter, ['tap', 'json', 'summary'] as const) ?? 'tap',
    ...(v.report !== undefined ? { report: v.report } : {}),
    ...(v['diff-report'] !== undefined ? { diffReport: v['diff-report'] } : {}),
    ...(timeoutMs > 0 ? { timeoutMs } : {}),
    source: v['backend-module'] !== undefined ? { kind: 'module', url: pathToFileURL(resolve(v['backend-module'])).href } : { kind: 'builtin' },
  };
}

function makeReporter(opts: CheckOptions, io: Io, meta: Record<string, unknown>): Reporter {
  if (opts.reporter === 'json') return new JsonReporter(io.stdout, meta);
  if (opts.reporter === 'summary') return new SummaryReporter(io.stdout);
  return new TapReporter(io.stdout);
}

export interface CheckRun {
  readonly items: readonly RunItem[];
  readonly results: readonly RunResult[];
  readonly exitCode: number;
}

/** Plan, run and report already-loaded suites (the CLI's core; tests call it directly). */
export async function runCheck(suites: readonly SuiteSpec[], opts: CheckOptions, io: Io): Promise<CheckRun> {
  const items = planSuites(suites, {
    backends: opts.backends,
    ...(opts.series ? { series: opts.series } : {}),
    ...(opts.filter ? { filter: opts.filter } : {}),
    ...(opts.shard ? { shard: opts.shard } : {}),
  });
  const meta = {
    backends: opts.backends,
    series: opts.series ?? null,
    filter: opts.filter?.source ?? null,
    shard: opts.shard ? `${opts.shard.index}/${opts.shard.count}` : null,
    jobs: opts.jobs,
  };
  const progress = progressBar(io.stderrStream);
  // stdout and stderr are often the same terminal: wipe the bar before each report line.
  const reporter = makeReporter(opts, { ...io, stdout: (s) => (progress.clear(), io.stdout(s)) }, meta);
  reporter.begin(items);
  const results = await runItems(items, {
    jobs: opts.jobs,
    source: opts.source,
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    onResult: (item, r) => reporter.result(item, r),
    onProgress: (done, total) => progress.update(done, total),
  });
  progress.finish();
  const counts = countResults(results);
  const diff = opts.backends.length > 1 ? buildDiffReport(items, results, meta, await pairStats(items, results, opts)) : undefined;
  if (opts.report !== undefined) {
    const report = buildJsonReport(items, results, counts, meta);
    writeFileSync(opts.report, `${JSON.stringify(diff ? { ...report, diff } : report, null, 2)}\n`);
  }
  if (diff && opts.diffReport !== undefined) {
    writeFileSync(opts.diffReport, `${JSON.stringify(diff, null, 2)}\n`);
    writeFileSync(tablePath(opts.diffReport), formatDiffTable(diff));
  }
  reporter.end(counts, results);
  // stderr, so the TAP stream and its final summary line stay as they are.
  if (diff) io.stderr(formatDiffSummary(diff));
  if (items.length === 0) io.stderr('bpfconform check: no tests selected\n');
  return { items, results, exitCode: exitStatus(counts) };
}

/** With both backends: the verifier counters of every pair both accepted (one more load per
 *  side at log level 4 when the run's own log has no stats), in this process. */
async function pairStats(items: readonly RunItem[], results: readonly RunResult[], opts: CheckOptions) {
  const cache = new BackendCache(opts.source);
  try {
    return await collectPairStats(items, results, (name) => cache.get(name));
  } finally {
    await cache.closeAll();
  }
}

export async function run(argv: readonly string[], io: Io, loader?: SuiteLoader): Promise<number> {
  const opts = parseCheckArgs(argv);
  if (opts === 'help') {
    io.stdout(usage);
    return 0;
  }
  checkPathsExist(opts.paths);
  const suites = loadSuites(opts.paths, loader ?? (await defaultSuiteLoader()));
  return (await runCheck(suites, opts, io)).exitCode;
}
