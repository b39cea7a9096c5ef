// `make bench`: engine verification time next to the live kernel's own `verification time`,
// on the same programs, in one run.
//
// For every test program of the given spec trees (default: the ported 6.12 selftests in
// .cache/kernel-selftests/specs, then specs/), one load request is built the way the harness
// builds it (the priv run when the test has one, else the unpriv run). Each program is then,
// `--reps` times (default 3):
//   - loaded into the live kernel at log level 4, and `verification time N usec` read back;
//   - verified by our verify() at log level 4, timed around the call (hrtime).
// Per program the median of each side counts. Totals and the engine/kernel ratio are printed
// per file and overall, plus the top programs by ratio and by engine time. Programs the engine
// does not model (NotImplementedError) or where the kernel reports no time (skips, early
// rejections) are counted separately and left out of the ratio. Peak RSS and the largest
// heap seen after an engine run close the report.
//
// usage: node --import tsx scripts/bench-verifier.ts [--reps N] [--top N] [--filter RE]
//          [--no-kernel] [--json FILE] [PATH...]

import { performance } from 'node:perf_hooks';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseScriptArgs } from './lib/cli-args.ts';
import { getHeapStatistics } from 'node:v8';
import { findSpecFiles, loadSuiteFile } from '../harness/spec/index.ts';
import { planSuites, type RunItem } from '../harness/run/plan.ts';
import type { SuiteSpec } from '../harness/spec/types.ts';
import { loadProgram, environmentSkip } from '../engine/kernel/load.ts';
import { verify, NotImplementedError } from '../engine/verifier/index.ts';

const USAGE = `usage: bench-verifier.ts [options] [spec dirs...]
Engine against live-kernel verification time over the same programs, side by side.`;

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------- pure parts (unit-tested)

/** `verification time N usec` from a level-4 log, in µs; undefined when absent. */
export function parseVerificationTime(log: string): number | undefined {
  const m = /^verification time (\d+) usec$/m.exec(log);
  return m ? Number(m[1]) : undefined;
}

/** `processed N insns` from a log, or undefined. */
export function parseProcessed(log: string): number | undefined {
  const m = /^processed (\d+) insns /m.exec(log);
  return m ? Number(m[1]) : undefined;
}

/** Median of a non-empty list (mean of the middle two for even lengths). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('median of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** What one program measured; times in µs (medians over the reps). */
export interface BenchRow {
  readonly file: string;
  readonly test: string;
  readonly mode: string;
  /** Kernel-reported verification time; undefined when the kernel printed none. */
  readonly kernelUs?: number;
  /** Why the kernel has no time (skip reason, errno). */
  readonly kernelNote?: string;
  /** Engine wall time around verify(); undefined when the engine does not model it. */
  readonly engineUs?: number;
  /** NotImplementedError message, or a crash. */
  readonly engineNote?: string;
  readonly engineProcessed?: number;
  readonly kernelProcessed?: number;
}

export interface Totals {
  readonly programs: number;
  /** Both sides have a time: these make up the ratio. */
  readonly compared: number;
  readonly unsupported: number;
  readonly kernelMissing: number;
  readonly kernelUs: number;
  readonly engineUs: number;
  /** engineUs / kernelUs over the compared programs; NaN when nothing compares. */
  readonly ratio: number;
  /** Engine time over every program it models, compared or not. */
  readonly engineAllUs: number;
}

export const isCompared = (r: BenchRow): boolean => r.kernelUs !== undefined && r.engineUs !== undefined;

export function totals(rows: readonly BenchRow[]): Totals {
  let kernelUs = 0;
  let engineUs = 0;
  let compared = 0;
  let unsupported = 0;
  let kernelMissing = 0;
  let engineAllUs = 0;
  for (const r of rows) {
    if (r.engineUs !== undefined) engineAllUs += r.engineUs;
    if (r.engineUs === undefined) unsupported++;
    else if (r.kernelUs === undefined) kernelMissing++;
    if (!isCompared(r)) continue;
    compared++;
    kernelUs += r.kernelUs!;
    engineUs += r.engineUs!;
  }
  return { programs: rows.length, compared, unsupported, kernelMissing, kernelUs, engineUs, ratio: kernelUs > 0 ? engineUs / kernelUs : Number.NaN, engineAllUs };
}

/** Totals per file, in first-seen order. */
export function totalsByFile(rows: readonly BenchRow[]): Map<string, Totals> {
  const groups = new Map<string, BenchRow[]>();
  for (const r of rows) {
    const g = groups.get(r.file) ?? [];
    g.push(r);
    groups.set(r.file, g);
  }
  return new Map([...groups].map(([f, g]) => [f, totals(g)]));
}

/** A ratio for one program, with the kernel's time floored at 1 µs (it prints whole µs). */
export const rowRatio = (r: BenchRow): number => r.engineUs! / Math.max(1, r.kernelUs!);

/** The n largest by `key` among rows that pass `keep` (default: both sides measured). */
export function topBy(rows: readonly BenchRow[], key: (r: BenchRow) => number, n: number, keep: (r: BenchRow) => boolean = isCompared): BenchRow[] {
  return rows.filter(keep).sort((a, b) => key(b) - key(a)).slice(0, n);
}

const ms = (us: number): string => (us / 1000).toFixed(1);
const ratioText = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');

/** The human report. */
export function formatReport(rows: readonly BenchRow[], opts: { readonly reps: number; readonly top: number; readonly memory?: string }): string {
  const files = totalsByFile(rows);
  const w = Math.max(10, ...[...files.keys()].map((f) => f.length));
  const line = (c: readonly (string | number)[]): string =>
    `${String(c[0]).padEnd(w)} ${c.slice(1).map((x, i) => String(x).padStart(i < 4 ? 6 : 11)).join(' ')}\n`;
  let out = `verifier bench: ${rows.length} programs, ${opts.reps} rep(s) each, medians; times in ms\n\n`;
  out += line(['file', 'progs', 'cmp', 'unsup', 'no-k', 'kernel ms', 'engine ms', 'ratio']);
  for (const [f, t] of files) {
    out += line([f, t.programs, t.compared, t.unsupported, t.kernelMissing, ms(t.kernelUs), ms(t.engineUs), ratioText(t.ratio)]);
  }
  const all = totals(rows);
  out += line(['TOTAL', all.programs, all.compared, all.unsupported, all.kernelMissing, ms(all.kernelUs), ms(all.engineUs), ratioText(all.ratio)]);
  out += `\n${all.compared} programs compared; ${all.unsupported} not modelled by the engine (excluded); ` +
    `${all.kernelMissing} without a kernel time (excluded)\n`;
  out += `overall engine/kernel: ${ratioText(all.ratio)} (engine ${ms(all.engineUs)} ms, kernel ${ms(all.kernelUs)} ms)\n`;
  out += `engine over all ${all.programs - all.unsupported} programs it models: ${ms(all.engineAllUs)} ms\n`;

  const row = (r: BenchRow): string =>
    `  ${`${r.file}/${r.test}${r.mode === 'unpriv' ? ' @unpriv' : ''}`.padEnd(60)} kernel ${String(r.kernelUs ?? '-').padStart(8)} us  ` +
    `engine ${String(Math.round(r.engineUs!)).padStart(9)} us  ${ratioText(isCompared(r) ? rowRatio(r) : Number.NaN).padStart(9)}` +
    `${r.engineProcessed !== undefined ? `  insns ${r.engineProcessed}${r.kernelProcessed !== undefined && r.kernelProcessed !== r.engineProcessed ? ` (kernel ${r.kernelProcessed})` : ''}` : ''}\n`;
  out += `\ntop ${opts.top} by ratio:\n`;
  for (const r of topBy(rows, rowRatio, opts.top)) out += row(r);
  out += `\ntop ${opts.top} by engine time:\n`;
  for (const r of topBy(rows, (x) => x.engineUs!, opts.top, (x) => x.engineUs !== undefined)) out += row(r);

  const unsup = new Map<string, number>();
  for (const r of rows) if (r.engineUs === undefined) unsup.set(r.engineNote ?? '?', (unsup.get(r.engineNote ?? '?') ?? 0) + 1);
  if (unsup.size) {
    out += `\nnot modelled by the engine (${all.unsupported}):\n`;
    for (const [why, n] of [...unsup].sort((a, b) => b[1] - a[1])) out += `  ${String(n).padStart(5)}  ${why}\n`;
  }
  if (opts.memory) out += `\n${opts.memory}\n`;
  return out;
}

// ---------------------------------------------------------------- measuring

/** One load request per test program: the priv run if the test has one, else unpriv. */
function programsOf(suites: readonly SuiteSpec[], filter?: RegExp): RunItem[] {
  const items = planSuites(suites, { backends: ['engine'], ...(filter ? { filter } : {}) });
  const seen = new Set<string>();
  return items.filter((it) => {
    const key = `${it.file}\0${it.test}`;
    if (it.skip !== undefined || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

interface KernelSample { readonly us?: number; readonly note?: string; readonly processed?: number }

function kernelOnce(it: RunItem): KernelSample {
  const req = it.request;
  const r = loadProgram(req.program, { logLevel: 4, flags: req.flags, unpriv: req.unpriv, auxiliary: req.auxiliary });
  if (r.skip) return { note: `skip: ${r.skip}` };
  const us = parseVerificationTime(r.log);
  const processed = parseProcessed(r.log);
  if (us === undefined) return { note: `no time (errno ${r.errno})` };
  return { us, ...(processed !== undefined ? { processed } : {}) };
}

interface EngineSample { readonly us?: number; readonly note?: string; readonly processed?: number }

function engineOnce(it: RunItem): EngineSample {
  const req = it.request;
  const t0 = performance.now();
  try {
    const res = verify(req.program, { logLevel: 4, unpriv: req.unpriv, series: req.series });
    return { us: (performance.now() - t0) * 1000, processed: res.stats.processedInsns };
  } catch (e) {
    if (e instanceof NotImplementedError) return { note: e.message };
    return { note: `engine error: ${(e as Error).name}: ${(e as Error).message.split('\n')[0]}` };
  }
}

function measure(it: RunItem, reps: number, withKernel: boolean, heap: { max: number }): BenchRow {
  const ks: number[] = [];
  const es: number[] = [];
  let kNote: string | undefined;
  let eNote: string | undefined;
  let kProc: number | undefined;
  let eProc: number | undefined;
  for (let i = 0; i < reps; i++) {
    if (withKernel && kNote === undefined) {
      const k = kernelOnce(it);
      if (k.us === undefined) kNote = k.note;
      else ks.push(k.us);
      kProc = k.processed ?? kProc;
    }
    if (eNote === undefined) {
      const e = engineOnce(it);
      if (e.us === undefined) eNote = e.note;
      else es.push(e.us);
      eProc = e.processed ?? eProc;
      const h = getHeapStatistics().used_heap_size;
      if (h > heap.max) heap.max = h;
    }
  }
  return {
    file: it.suite,
    test: it.test,
    mode: it.mode,
    ...(kNote === undefined && ks.length ? { kernelUs: median(ks) } : { kernelNote: kNote ?? 'kernel not run' }),
    ...(eNote === undefined && es.length ? { engineUs: median(es) } : { engineNote: eNote ?? 'engine not run' }),
    ...(eProc !== undefined ? { engineProcessed: eProc } : {}),
    ...(kProc !== undefined ? { kernelProcessed: kProc } : {}),
  };
}

function main(): number {
  const { values: o, positionals } = parseScriptArgs(USAGE, {
    allowPositionals: true,
    options: {
      reps: { type: 'string', default: '3' },
      top: { type: 'string', default: '20' },
      filter: { type: 'string' },
      'no-kernel': { type: 'boolean' },
      json: { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  const reps = Number(o.reps);
  const top = Number(o.top);
  if (!Number.isInteger(reps) || reps < 1 || !Number.isInteger(top) || top < 0) {
    process.stderr.write('bench-verifier: --reps must be >= 1 and --top >= 0\n');
    return 2;
  }
  const defaults = [join(REPO, '.cache', 'kernel-selftests', 'specs'), join(REPO, 'specs')];
  const paths = positionals.length ? positionals : defaults.filter((p) => existsSync(p));
  if (!positionals.length && !existsSync(defaults[0])) {
    process.stderr.write('bench-verifier: no ported selftests in .cache/kernel-selftests/specs (run `make kernel-selftests` first); benching specs/ only\n');
  }
  let withKernel = !o['no-kernel'];
  const envSkip = withKernel ? environmentSkip({ unpriv: false }) : undefined;
  if (envSkip) {
    process.stderr.write(`bench-verifier: no kernel side: ${envSkip}\n`);
    withKernel = false;
  }
  const suites = findSpecFiles(paths).map((f) => loadSuiteFile(f));
  const items = programsOf(suites, o.filter ? new RegExp(o.filter) : undefined);

  const heap = { max: 0 };
  const rows: BenchRow[] = [];
  const t0 = performance.now();
  for (const [i, it] of items.entries()) {
    if (!o.quiet && process.stderr.isTTY) process.stderr.write(`\r${i + 1}/${items.length} ${it.suite}/${it.test}`.slice(0, 100).padEnd(100));
    rows.push(measure(it, reps, withKernel, heap));
  }
  if (!o.quiet && process.stderr.isTTY) process.stderr.write('\r'.padEnd(101) + '\r');

  const mb = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
  const memory = `memory: peak RSS ${mb(process.resourceUsage().maxRSS * 1024)} (whole process), ` +
    `largest heap after an engine run ${mb(heap.max)}; wall ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  process.stdout.write(formatReport(rows, { reps, top, memory }));
  if (o.json) {
    writeFileSync(o.json, `${JSON.stringify({ reps, totals: totals(rows), files: Object.fromEntries(totalsByFile(rows)), rows }, null, 1)}\n`);
  }
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) process.exitCode = main();
