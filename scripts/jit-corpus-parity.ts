// Byte parity of our kernel-mode x86-64 JIT with the live kernel's, on the ported 6.12
// selftest corpus and on specs/: every test whose privileged run the kernel accepts is loaded
// as test_loader would (harness/run/plan.ts builds the request), and the kernel's own xlated
// program is JITed by engine/jit/x86_64 and compared with the kernel's image, masking only the
// fields that hold addresses outside the image (helpers, kfuncs, thunks, maps, per-CPU).
//
// usage: node --import tsx scripts/jit-corpus-parity.ts [--corpus DIR] [--specs DIR]
//          [--filter RE] [--record FILE] [--verbose]
//   --record writes the deterministic summary (names, hashes, verdicts, causes; no bytecode)
//   that test/jit-corpus-parity.test.ts checks.

import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScriptArgs } from './lib/cli-args.ts';
import { Decoder, DecoderOptions } from 'iced-x86';
import { decode } from '../engine/isa/decode.ts';
import type { Insn } from '../engine/isa/insn.ts';
import { printXlatedInsn } from '../engine/isa/disasm.ts';
import { insnText } from '../engine/jit/x86-disasm.ts';
import { maskedImage, type JitFunction, type JitImage, type Replay } from '../engine/jit/x86_64/index.ts';
import { replayLoad } from '../engine/jit/kernel-replay.ts';
import { PROG_FLAGS, type Program } from '../engine/program/types.ts';
import { loadProgram, type LoadResult } from '../engine/kernel/load.ts';
import { findSpecFiles, loadSuiteFile } from '../harness/spec/load.ts';
import { planSuites, type RunItem } from '../harness/run/plan.ts';

const USAGE = `usage: jit-corpus-parity.ts [--corpus DIR] [--specs DIR] [--filter RE] [--record FILE] [--verbose]
kernel-mode JIT bytes against the live kernel's image for every program it accepts.`;

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CORPUS_DIR = join(REPO, '.cache', 'kernel-selftests', 'specs');
export const SPECS_DIR = join(REPO, 'specs');
export const SUMMARY = join(REPO, 'test', 'fixtures', 'jit-corpus-parity.json');

export type Verdict = 'equal' | 'differ' | 'jit-error';

export interface ParityEntry {
  /** `corpus/<suite>/<test>` or `specs/<suite>/<test>`. */
  readonly name: string;
  readonly verdict: Verdict;
  /** sha256 (first 16 hex digits) of the kernel's xlated program (map ids zeroed) and of its
   *  image with every out-of-image field zeroed: a re-run on another kernel build shows up as
   *  a hash change. Absent for loads with BPF_F_TEST_RND_HI32, whose zero-extension
   *  rewrites use random values (and so differ from load to load in bytes and length). */
  readonly xlatedHash?: string;
  readonly imageHash?: string;
  readonly funcLens?: readonly number[];
  readonly rndHi32?: true;
  /** What was taken from the kernel's image because the xlated dump cannot express it. */
  readonly recovered?: readonly string[];
  /** Facts of the load the JIT used: arena, private stacks. */
  readonly facts?: readonly string[];
  /** For `differ` / `jit-error`: the cause (grouping key) and the first differing instruction. */
  readonly cause?: string;
  readonly detail?: string;
}

export interface NotCompared {
  readonly name: string;
  readonly why: string;
}

export interface ParitySummary {
  readonly kernelRelease: string;
  readonly counts: Readonly<Record<'corpus' | 'specs', { compared: number; equal: number; notLoaded: number; skipped: number }>>;
  readonly entries: readonly ParityEntry[];
}

const hash = (u: Uint8Array): string => createHash('sha256').update(u).digest('hex').slice(0, 16);

/** The load the comparison needs: test_loader's request, with the stats log for the stack
 *  depths and both dumps. No test run. */
export function loadForJit(item: RunItem): LoadResult {
  const req = item.request;
  return loadProgram(req.program, {
    logLevel: 4,
    growLog: true,
    flags: req.flags,
    wantXlated: true,
    wantJited: true,
    auxiliary: req.auxiliary,
    dropSysAdmin: !req.keepSysAdmin,
    ...(req.funcInfo ? { funcInfo: true } : {}),
    ...(req.linearSize !== undefined ? { linearSize: req.linearSize } : {}),
  });
}

/** x86 instructions from `at`, as `bytes  text` lines (at most `count`). */
export function x86At(code: Uint8Array, at: number, count = 2): string[] {
  if (at < 0 || at >= code.length) return ['<end of image>'];
  const d = new Decoder(64, code.subarray(at), DecoderOptions.None);
  d.ip = BigInt(at);
  const out: string[] = [];
  try {
    let pc = at;
    while (out.length < count && pc < code.length) {
      const ins = d.decode();
      const bytes = Buffer.from(code.subarray(pc, pc + ins.length)).toString('hex');
      out.push(ins.isInvalid ? `${bytes} (invalid)` : `${bytes} ${insnText(ins, (t) => `0x${t.toString(16)}`).trim().replace(/\t/g, ' ')}`);
      pc += ins.length;
      ins.free();
    }
  } finally {
    d.free();
  }
  return out;
}

/** The BPF instruction whose code holds byte `at` of the whole image, or undefined for a prologue. */
function insnAt(img: JitImage, funcs: readonly JitFunction[], at: number): { func: number; index: number; start: number } | undefined {
  let base = 0;
  for (let f = 0; f < img.funcs.length; f++) {
    const fi = img.funcs[f];
    if (at < base + fi.code.length) {
      const offs = fi.insnOffsets;
      for (let k = 0; k < offs.length - 1; k++) {
        if (at >= base + offs[k] && at < base + offs[k + 1]) return { func: f, index: k, start: base + offs[k] };
      }
      if (at < base + offs[0]) return undefined;
      return { func: f, index: funcs[f].insns.length - 1, start: base + offs[offs.length - 2] };
    }
    base += fi.code.length;
  }
  return undefined;
}

/** A short grouping key for a difference: the BPF instruction's class/mode and what the
 *  kernel emitted first where we differ. */
function causeOf(bpf: Insn | undefined, theirs: string, ours: string): string {
  const what = bpf ? printXlatedInsn(bpf).replace(/-?\b\d+\b/g, 'N').replace(/\br\d\b/g, 'rX').replace(/\bw\d\b/g, 'wX') : 'prologue';
  const mnem = (s: string): string => s.split(' ')[1] ?? s;
  return `${what} :: kernel ${mnem(theirs)} / ours ${mnem(ours)}`;
}

/** Ids of the program's arena maps, as the load's dump shows them. */

/** Zero what differs from one load to the next in a dump: map ids in ld_imm64s. */
function stableXlated(insns: readonly Insn[]): string {
  return insns.map((i) => `${i.code},${i.dst},${i.src},${i.off},${[1, 2, 5, 6].includes(i.src) && i.code === 0x18 ? 0 : i.imm}`).join(';');
}

/** JIT the kernel's xlated program and compare with its image. */
export function compareLoaded(name: string, prog: Program, r: LoadResult): ParityEntry {
  const kernel = r.jited!;
  const lens = [...(r.jitedFuncLens ?? [kernel.length])];
  const insns = decode(r.xlated!);
  const base = { name, xlatedHash: createHash('sha256').update(stableXlated(insns)).digest('hex').slice(0, 16), funcLens: lens };
  let rep: Replay;
  try {
    rep = replayLoad(prog, r);
  } catch (e) {
    const msg = (e as Error).message;
    return { ...base, verdict: 'jit-error', imageHash: hash(kernel), cause: `jit error: ${msg.replace(/\d+/g, 'N')}`, detail: msg };
  }
  const { image: img, diff: d, funcs } = rep;
  const sameLen = kernel.length === img.code.length;
  const imageHash = hash(sameLen ? maskedImage({ ...img, code: kernel }, false) : kernel);
  const extra = { ...(rep.facts.length ? { facts: rep.facts } : {}), ...(rep.recovered.length ? { recovered: rep.recovered } : {}) };
  if (d.equal) return { ...base, ...extra, verdict: 'equal', imageHash };
  const at = d.firstDiff >= 0 ? d.firstDiff : Math.min(img.code.length, kernel.length);
  const where = insnAt(img, funcs, at);
  const start = where?.start ?? at;
  const ours = x86At(maskedImage(img), start);
  const theirs = x86At(kernel, start);
  const bpf = where ? funcs[where.func].insns[where.index] : undefined;
  const detail = `func ${where?.func ?? d.func} insn ${where?.index ?? '-'} (${bpf ? printXlatedInsn(bpf) : 'prologue'}) at byte ${at}: ` +
    `kernel [${theirs.join(' ; ')}] ours [${ours.join(' ; ')}]; lens ${d.ours} vs ${d.theirs}`;
  return { ...base, ...extra, verdict: 'differ', imageHash, cause: causeOf(bpf, theirs[0], ours[0]), detail };
}

interface Source {
  readonly key: 'corpus' | 'specs';
  readonly dir: string;
}

export interface RunOptions {
  readonly sources: readonly Source[];
  readonly filter?: RegExp;
  /** Keep only the tests whose entry name this accepts (before anything is loaded). */
  readonly select?: (name: string) => boolean;
  readonly onEntry?: (e: ParityEntry) => void;
}

export interface RunResult {
  readonly summary: ParitySummary;
  readonly notCompared: readonly NotCompared[];
}

/** Every priv run of every test of the sources, loaded and compared. */
export function runParity(opts: RunOptions): RunResult {
  const entries: ParityEntry[] = [];
  const notCompared: NotCompared[] = [];
  const counts = { corpus: { compared: 0, equal: 0, notLoaded: 0, skipped: 0 }, specs: { compared: 0, equal: 0, notLoaded: 0, skipped: 0 } };
  for (const src of opts.sources) {
    if (!existsSync(src.dir)) continue;
    const suites = findSpecFiles([src.dir]).map(loadSuiteFile);
    const items = planSuites(suites, { backends: ['kernel'], ...(opts.filter ? { filter: opts.filter } : {}) })
      .filter((i) => i.mode === 'priv');
    const c = counts[src.key];
    for (const item of items) {
      const name = `${src.key}/${item.suite}/${item.test}`;
      if (opts.select && !opts.select(name)) continue;
      if (item.skip || item.request.series !== 'none') {
        c.skipped++;
        notCompared.push({ name, why: item.skip ?? `series ${item.request.series} (the live kernel has neither stack-argument series)` });
        continue;
      }
      const r = loadForJit(item);
      if (r.skip) {
        c.skipped++;
        notCompared.push({ name, why: r.skip });
        continue;
      }
      if (!r.loaded || !r.xlated || !r.jited) {
        c.notLoaded++;
        notCompared.push({ name, why: r.loaded ? 'loaded without a JIT image' : `not loaded (errno ${r.errno})` });
        continue;
      }
      const e0 = compareLoaded(name, item.request.program, r);
      const e: ParityEntry = (item.request.flags & PROG_FLAGS.BPF_F_TEST_RND_HI32) === 0 ? e0
        : { name: e0.name, verdict: e0.verdict, rndHi32: true, ...(e0.cause ? { cause: e0.cause, detail: e0.detail } : {}) };
      c.compared++;
      if (e.verdict === 'equal') c.equal++;
      entries.push(e);
      opts.onEntry?.(e);
    }
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { summary: { kernelRelease: release(), counts, entries }, notCompared };
}

/** The summary as committed: one entry per line, so diffs stay readable. */
export function summaryJson(s: ParitySummary): string {
  const head = JSON.stringify({ kernelRelease: s.kernelRelease, counts: s.counts });
  return `${head.slice(0, -1)},"entries":[\n${s.entries.map((e) => JSON.stringify(e)).join(',\n')}\n]}\n`;
}

/** Mismatches grouped by cause, largest group first. */
export function groupByCause(entries: readonly ParityEntry[]): [string, ParityEntry[]][] {
  const groups = new Map<string, ParityEntry[]>();
  for (const e of entries) {
    if (e.verdict === 'equal') continue;
    const k = e.cause ?? '?';
    (groups.get(k) ?? groups.set(k, []).get(k)!).push(e);
  }
  return [...groups].sort((a, b) => b[1].length - a[1].length);
}

function main(): number {
  const { values: o } = parseScriptArgs(USAGE, {
    options: {
      corpus: { type: 'string', default: CORPUS_DIR },
      specs: { type: 'string', default: SPECS_DIR },
      filter: { type: 'string' },
      record: { type: 'string' },
      verbose: { type: 'boolean' },
    },
  });
  const { summary, notCompared } = runParity({
    sources: [{ key: 'corpus', dir: resolve(o.corpus!) }, { key: 'specs', dir: resolve(o.specs!) }],
    ...(o.filter ? { filter: new RegExp(o.filter) } : {}),
    onEntry: o.verbose ? (e) => process.stdout.write(`${e.verdict.padEnd(9)} ${e.name}\n`) : undefined,
  });
  for (const key of ['corpus', 'specs'] as const) {
    const c = summary.counts[key];
    const pct = c.compared ? ((100 * c.equal) / c.compared).toFixed(1) : '-';
    process.stdout.write(`${key}: byte parity ${c.equal}/${c.compared} = ${pct}% (not loaded: ${c.notLoaded}, skipped: ${c.skipped})\n`);
  }
  const rec = summary.entries.filter((e) => e.recovered?.length);
  if (rec.length) process.stdout.write(`recovered from the kernel image (not in the xlated dump): ${rec.length} programs\n`);
  for (const [cause, list] of groupByCause(summary.entries)) {
    process.stdout.write(`\n${cause} (${list.length}):\n`);
    for (const e of list) process.stdout.write(`  ${e.name}: ${e.detail}\n`);
  }
  if (o.verbose) for (const n of notCompared) process.stdout.write(`not compared: ${n.name}: ${n.why}\n`);
  if (o.record) {
    writeFileSync(o.record, summaryJson(summary));
    process.stdout.write(`\nrecorded ${summary.entries.length} programs to ${o.record}\n`);
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(0); throw e; });
  process.exitCode = main();
}
