// Comparing what two backends made of the same run (one test, one mode): the engine against
// the live kernel. Each kind of difference is reported on its own so fidelity can be stated
// per kind: verdict, errno, the first error line, the whole log, xlated text, JIT bytes,
// retval, and for programs both accepted the verifier's counters (processed insns; total and
// peak states). A field one backend did not produce (the engine has no JIT yet) is "absent",
// which is not a difference.

import type { OutcomeDigest } from '../run/judge.ts';
import { statsText, type PairStats, type VerifierStats } from './stats.ts';

export const DIFF_KINDS = ['verdict', 'errno', 'first_error_line', 'log', 'xlated', 'jited', 'retval', 'processed_insns', 'states'] as const;
export type DiffKind = (typeof DIFF_KINDS)[number];

/** Kinds where one side may have nothing to compare. */
export const OPTIONAL_KINDS = ['xlated', 'jited', 'retval', 'processed_insns', 'states'] as const;
export type OptionalKind = (typeof OPTIONAL_KINDS)[number];

export interface Difference {
  readonly kind: DiffKind;
  /** Short values, one line each (e.g. the differing line, or "loaded"/"EACCES"). */
  readonly engine: string;
  readonly kernel: string;
  /** Where the texts part (1-based line; for jited, "func #N +0xOFF"). */
  readonly at?: string;
}

export interface PairComparison {
  /** Kinds that were compared for this pair (both sides had something to compare). */
  readonly compared: readonly DiffKind[];
  readonly differences: readonly Difference[];
  /** Optional kinds that one side did not produce: not differences. */
  readonly absent: readonly { readonly kind: OptionalKind; readonly backend: 'engine' | 'kernel' }[];
}

// ---- the verifier log ----

/** Lines that trace the walk (instructions, register state, branch pops, precision
 *  back-tracking, source comments) rather than state a verdict. */
const TRACE_LINE = /^(\d+: |\d+: R|from \d+ to \d+: |mark_precise: |; |func#\d+ @\d+$|Validating |Func#\d+ |\s*$)/;
const STATS_LINE = /^(processed \d+ insns |stack depth |verification time |insns processed )/;

/** The line that states why the load failed: the first line of the block of message lines
 *  that follows the last trace line (before the stats). Undefined for an empty log. */
export function firstErrorLine(log: string): string | undefined {
  const lines = log.split('\n');
  let end = lines.length;
  // The stats block closes the log; the message sits above it.
  for (let i = 0; i < lines.length; i++) {
    if (STATS_LINE.test(lines[i])) {
      end = i;
      break;
    }
  }
  while (end > 0 && lines[end - 1].trim() === '') end--;
  let start = end;
  while (start > 0 && !TRACE_LINE.test(lines[start - 1])) start--;
  return start < end ? lines[start] : undefined;
}

/** What may differ between two correct runs: the measured verification time, and the kernel
 *  address a map's ld_imm64 shows (a new map each load; the engine prints a made-up one). */
export function normalizeLog(log: string): string {
  return log
    .replace(/^verification time \d+ usec$/gm, 'verification time N usec')
    .replace(/(\(18\) r\d+ = )0xffff[0-9a-f]{12}\b/g, '$1<kernel address>');
}

/** First differing line of two texts (1-based), with both lines ("" past the end). */
export function firstDifferentLine(a: string, b: string): { line: number; a: string; b: string } | undefined {
  if (a === b) return undefined;
  if (a === '' || b === '') return { line: 1, a: a === '' ? '(empty)' : a.split('\n')[0], b: b === '' ? '(empty)' : b.split('\n')[0] };
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return { line: i + 1, a: la[i] ?? '(end of text)', b: lb[i] ?? '(end of text)' };
  }
  return undefined;
}

// ---- JIT bytes ----

/** Per function, the image bytes with the rel32 of every call/jump whose target leaves the
 *  function masked (-1): such targets are kernel addresses that differ from load to load. */
export function jitBytes(text: string): number[][] {
  const funcs: number[][] = [];
  let cur: number[] | undefined;
  let lines: { bytes: number[]; target?: bigint }[] = [];
  const flush = (): void => {
    if (!cur) return;
    const len = BigInt(lines.reduce((n, l) => n + l.bytes.length, 0));
    for (const l of lines) {
      const out = l.target !== undefined && (l.target >= len || l.target < 0n) && l.bytes.length >= 5 ? maskRel32(l.bytes) : l.bytes;
      cur.push(...out);
    }
    funcs.push(cur);
    lines = [];
  };
  for (const line of text.split('\n')) {
    if (/^func #\d+:$/.test(line)) {
      flush();
      cur = [];
      continue;
    }
    const m = /^[0-9a-f]+:\t((?:[0-9a-f]{2} )+)\s*(?:L\d+:)?\t(\S+)(?:\t(.*))?$/.exec(line);
    if (!m) continue;
    const bytes = m[1].trim().split(' ').map((b) => parseInt(b, 16));
    const t = /^(call|j)/.test(m[2]) && m[3] && /^0x[0-9a-f]+$/.test(m[3]) ? BigInt(m[3]) : undefined;
    lines.push({ bytes, ...(t !== undefined ? { target: t } : {}) });
  }
  flush();
  return funcs;
}

function maskRel32(bytes: readonly number[]): number[] {
  return bytes.map((b, i) => (i >= bytes.length - 4 ? -1 : b));
}

/** First difference of two masked images: "func #N +0xOFF" with the bytes there. */
export function jitDifference(a: string, b: string): { at: string; a: string; b: string } | undefined {
  const fa = jitBytes(a);
  const fb = jitBytes(b);
  const show = (f: number[] | undefined, off: number): string =>
    f === undefined ? '(no such function)' : off >= f.length ? '(end of function)' : f.slice(off, off + 8).map((x) => (x < 0 ? '..' : x.toString(16).padStart(2, '0'))).join(' ');
  if (fa.length !== fb.length) return { at: 'functions', a: `${fa.length} functions`, b: `${fb.length} functions` };
  for (let i = 0; i < fa.length; i++) {
    const x = fa[i];
    const y = fb[i];
    for (let off = 0; off < Math.max(x.length, y.length); off++) {
      if (x[off] !== y[off]) return { at: `func #${i} +0x${off.toString(16)}`, a: show(x, off), b: show(y, off) };
    }
  }
  return undefined;
}

// ---- one pair ----

function verdictText(o: OutcomeDigest): string {
  return o.loaded ? 'loaded' : 'rejected';
}

function retvalText(r: NonNullable<OutcomeDigest['retval']>): string {
  return r.ok ? String(r.value | 0) : `run failed: ${r.reason}`;
}

/** Every difference between the engine's and the kernel's outcome of one run. `stats` (pairs
 *  both accepted, see stats.ts) adds the processed_insns and states kinds. */
export function compareOutcomes(engine: OutcomeDigest, kernel: OutcomeDigest, stats?: PairStats): PairComparison {
  const differences: Difference[] = [];
  const absent: { kind: OptionalKind; backend: 'engine' | 'kernel' }[] = [];
  const compared: DiffKind[] = ['verdict', 'errno', 'log'];
  const diff = (kind: DiffKind, e: string, k: string, at?: string): void => {
    differences.push({ kind, engine: e, kernel: k, ...(at !== undefined ? { at } : {}) });
  };

  if (engine.loaded !== kernel.loaded) diff('verdict', verdictText(engine), verdictText(kernel));
  if (engine.errno !== kernel.errno) diff('errno', String(engine.errno), String(kernel.errno));

  if (!engine.loaded || !kernel.loaded) {
    compared.push('first_error_line');
    const e = firstErrorLine(engine.log) ?? '(none)';
    const k = firstErrorLine(kernel.log) ?? '(none)';
    if (e !== k) diff('first_error_line', e, k);
  }
  const logDiff = firstDifferentLine(normalizeLog(engine.log), normalizeLog(kernel.log));
  if (logDiff) diff('log', logDiff.a, logDiff.b, `line ${logDiff.line}`);

  const optional = <T>(kind: OptionalKind, e: T | undefined, k: T | undefined, compare: (e: T, k: T) => void): void => {
    if (e === undefined && k === undefined) return;
    if (e === undefined) absent.push({ kind, backend: 'engine' });
    else if (k === undefined) absent.push({ kind, backend: 'kernel' });
    else {
      compared.push(kind);
      compare(e, k);
    }
  };
  optional('xlated', engine.xlated, kernel.xlated, (e, k) => {
    const d = firstDifferentLine(e, k);
    if (d) diff('xlated', d.a, d.b, `line ${d.line}`);
  });
  optional('jited', engine.jited, kernel.jited, (e, k) => {
    const d = jitDifference(e, k);
    if (d) diff('jited', d.a, d.b, d.at);
  });
  optional('retval', engine.retval, kernel.retval, (e, k) => {
    const a = retvalText(e);
    const b = retvalText(k);
    if (a !== b) diff('retval', a, b);
  });
  if (stats && engine.loaded && kernel.loaded) {
    // Both numbers go in each difference so every differing pair shows the two counts.
    const both = (e: VerifierStats, k: VerifierStats): [string, string] => [statsText(e), statsText(k)];
    optional('processed_insns', stats.engine, stats.kernel, (e, k) => {
      if (e.processedInsns !== k.processedInsns) diff('processed_insns', ...both(e, k));
    });
    optional('states', stats.engine, stats.kernel, (e, k) => {
      if (e.totalStates !== k.totalStates || e.peakStates !== k.peakStates) diff('states', ...both(e, k));
    });
  }
  return { compared, differences, absent };
}
