// The --backend both report: every run is paired with the same test and mode on the other
// backend, the pair is compared (compare.ts), and the differences are counted per kind. The
// JSON form is what later fidelity figures are taken from; the table is for people.

import type { RunResult } from '../run/judge.ts';
import type { BackendName, Mode, RunItem } from '../run/plan.ts';
import { DIFF_KINDS, OPTIONAL_KINDS, compareOutcomes, type DiffKind, type Difference, type OptionalKind } from './compare.ts';
import { pairKey, type PairStats } from './stats.ts';

export interface SideSummary {
  readonly status: RunResult['status'];
  readonly loaded?: boolean;
  readonly errno?: number;
  readonly reason?: string;
}

export interface PairEntry {
  readonly file: string;
  readonly line: number;
  readonly suite: string;
  readonly test: string;
  readonly name: string;
  readonly mode: Mode;
  readonly engine: SideSummary;
  readonly kernel: SideSummary;
  readonly differences: readonly Difference[];
  readonly absent: readonly { readonly kind: OptionalKind; readonly backend: BackendName }[];
}

export interface NotCompared {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly mode: Mode;
  readonly reason: string;
}

export interface DiffReport {
  readonly format: 'bpfconform-diff';
  readonly version: 1;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly totals: {
    /** Runs with both an engine and a kernel run. */
    readonly pairs: number;
    /** Pairs where both backends produced an outcome. */
    readonly compared: number;
    readonly identical: number;
    readonly differing: number;
    /** Pairs where one side skipped, crashed or could not run the test. */
    readonly notCompared: number;
  };
  /** Per kind: pairs where it was compared (both sides had it; first_error_line: at least
   *  one side rejected) and, of those, pairs that differ in it. */
  readonly kinds: Readonly<Record<DiffKind, { readonly compared: number; readonly differ: number }>>;
  /** Compared pairs where a backend produced no text/value of this kind (not differences). */
  readonly absent: Readonly<Record<OptionalKind, Readonly<Record<BackendName, number>>>>;
  /** Only pairs with differences or absences, in plan order. */
  readonly pairs: readonly PairEntry[];
  readonly notCompared: readonly NotCompared[];
}

function side(r: RunResult): SideSummary {
  return {
    status: r.status,
    ...(r.outcome ? { loaded: r.outcome.loaded, errno: r.outcome.errno } : {}),
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
  };
}

/** Why a pair cannot be compared, or undefined when both sides have an outcome. */
function whyNotCompared(engine: RunResult, kernel: RunResult): string | undefined {
  const one = (name: BackendName, r: RunResult): string | undefined => {
    if (r.status === 'skip') return `${name} skipped: ${r.reason ?? ''}`;
    if (r.failures.some((f) => f.kind === 'unsupported')) return `${name} cannot run it: ${r.reason ?? ''}`;
    if (!r.outcome) return `${name} produced no outcome: ${r.reason ?? ''}`;
    return undefined;
  };
  const reasons = [one('engine', engine), one('kernel', kernel)].filter((x): x is string => x !== undefined);
  return reasons.length ? reasons.join('; ') : undefined;
}

/** Pair the engine and kernel runs of each (test, mode) and compare them. `stats` (from
 *  collectPairStats) adds the verifier counters of pairs both backends accepted. */
export function buildDiffReport(
  items: readonly RunItem[],
  results: readonly RunResult[],
  meta: Readonly<Record<string, unknown>> = {},
  stats?: ReadonlyMap<string, PairStats>,
): DiffReport {
  const resultOf = new Map(results.map((r) => [r.id, r]));
  const byKey = new Map<string, { engine?: RunItem; kernel?: RunItem }>();
  const order: string[] = [];
  for (const item of items) {
    const k = pairKey(item);
    let slot = byKey.get(k);
    if (!slot) {
      slot = {};
      byKey.set(k, slot);
      order.push(k);
    }
    slot[item.backend] = item;
  }

  const kinds = Object.fromEntries(DIFF_KINDS.map((k) => [k, { compared: 0, differ: 0 }])) as Record<DiffKind, { compared: number; differ: number }>;
  const absent = Object.fromEntries(OPTIONAL_KINDS.map((k) => [k, { engine: 0, kernel: 0 }])) as Record<OptionalKind, Record<BackendName, number>>;
  const pairs: PairEntry[] = [];
  const notCompared: NotCompared[] = [];
  let nPairs = 0;
  let compared = 0;
  let identical = 0;

  for (const k of order) {
    const { engine, kernel } = byKey.get(k) as { engine?: RunItem; kernel?: RunItem };
    if (!engine || !kernel) continue;
    const re = resultOf.get(engine.id);
    const rk = resultOf.get(kernel.id);
    if (!re || !rk) continue;
    nPairs++;
    const why = whyNotCompared(re, rk);
    if (why !== undefined || !re.outcome || !rk.outcome) {
      notCompared.push({ file: engine.file, line: engine.pos.line, name: engine.name, mode: engine.mode, reason: why ?? 'no outcome' });
      continue;
    }
    compared++;
    const c = compareOutcomes(re.outcome, rk.outcome, stats?.get(k));
    for (const kind of c.compared) kinds[kind].compared++;
    for (const kind of new Set(c.differences.map((d) => d.kind))) kinds[kind].differ++;
    for (const a of c.absent) absent[a.kind][a.backend]++;
    if (c.differences.length === 0) identical++;
    if (c.differences.length || c.absent.length) {
      pairs.push({
        file: engine.file,
        line: engine.pos.line,
        suite: engine.suite,
        test: engine.test,
        name: engine.name,
        mode: engine.mode,
        engine: side(re),
        kernel: side(rk),
        differences: c.differences,
        absent: c.absent,
      });
    }
  }
  return {
    format: 'bpfconform-diff',
    version: 1,
    meta,
    totals: { pairs: nPairs, compared, identical, differing: compared - identical, notCompared: notCompared.length },
    kinds,
    absent,
    pairs,
    notCompared,
  };
}

const pct = (n: number, d: number): string => (d ? `${((100 * n) / d).toFixed(1)}%` : '-');

/** The per-kind summary table (stderr at the end of a --backend both run). */
export function formatDiffSummary(r: DiffReport): string {
  const t = r.totals;
  const head = `backend diff (engine vs kernel): ${t.pairs} pairs, ${t.compared} compared, ${t.identical} identical, ${t.differing} differ, ${t.notCompared} not compared\n`;
  const rows = [['kind', 'compared', 'differ', 'agree', 'absent(engine)', 'absent(kernel)']];
  for (const kind of DIFF_KINDS) {
    const ab = (OPTIONAL_KINDS as readonly string[]).includes(kind) ? r.absent[kind as OptionalKind] : undefined;
    const { compared, differ } = r.kinds[kind];
    rows.push([kind, String(compared), String(differ), pct(compared - differ, compared), ab ? String(ab.engine) : '', ab ? String(ab.kernel) : '']);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const body = rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd()).join('\n');
  return `${head}${body}\n`;
}

const oneLine = (s: string): string => s.replace(/\t/g, '\\t').replace(/[\r\n]+/g, ' ');

/** Every disagreement grouped by its kind (the cause as the comparison sees it), one line per
 *  pair with both sides' values; kinds in DIFF_KINDS order, pairs in plan order. */
export function formatByCause(r: DiffReport): string {
  let out = '';
  for (const kind of DIFF_KINDS) {
    const rows: string[] = [];
    for (const p of r.pairs) {
      for (const d of p.differences) {
        if (d.kind !== kind) continue;
        const at = d.at ? ` (${d.at})` : '';
        rows.push(`  ${p.file}:${p.line} ${p.suite}/${p.name} [${p.mode}]${at}\n    engine: ${oneLine(d.engine)}\n    kernel: ${oneLine(d.kernel)}\n`);
      }
    }
    if (rows.length) out += `${kind}: ${rows.length} difference${rows.length === 1 ? '' : 's'}\n${rows.join('')}`;
  }
  return out;
}

/** The readable report: the summary, the disagreements grouped by cause, then one block per
 *  pair that differs, then the pairs not compared and why. */
export function formatDiffTable(r: DiffReport): string {
  let out = formatDiffSummary(r);
  const byCause = formatByCause(r);
  if (byCause) out += `\ndisagreements by cause:\n${byCause}`;
  if (r.pairs.length) out += '\npairs:\n';
  for (const p of r.pairs) {
    if (p.differences.length === 0) continue;
    out += `${p.file}:${p.line} ${p.suite}/${p.name} [${p.mode}]  engine ${p.engine.status}, kernel ${p.kernel.status}\n`;
    for (const d of p.differences) {
      const at = d.at ? ` (${d.at})` : '';
      out += `  ${d.kind}${at}\n    engine: ${oneLine(d.engine)}\n    kernel: ${oneLine(d.kernel)}\n`;
    }
  }
  if (r.notCompared.length) {
    out += '\nnot compared:\n';
    for (const n of r.notCompared) out += `  ${n.file}:${n.line} ${n.name} [${n.mode}]: ${oneLine(n.reason)}\n`;
  }
  return out;
}

/** Where the table goes next to a JSON report file: x.json -> x.txt, else x + ".txt". */
export function tablePath(jsonPath: string): string {
  return jsonPath.endsWith('.json') ? `${jsonPath.slice(0, -5)}.txt` : `${jsonPath}.txt`;
}
