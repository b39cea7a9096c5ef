// The machine-readable report: every run with its status, failures and (for runs that did
// not pass) the whole log. Written by --reporter json to stdout and by --report FILE.

import type { RunResult } from '../run/judge.ts';
import type { RunItem } from '../run/plan.ts';
import { summaryLine, type Counts } from './counts.ts';
import type { Reporter, Write } from './reporter.ts';

export interface JsonRunEntry {
  readonly file: string;
  readonly line: number;
  readonly suite: string;
  readonly test: string;
  readonly name: string;
  readonly mode: RunItem['mode'];
  readonly backend: RunItem['backend'];
  readonly series: string;
  readonly status: RunResult['status'];
  readonly reason?: string;
  readonly failures: readonly { readonly kind: string; readonly message: string; readonly report?: string }[];
  readonly loaded?: boolean;
  readonly errno?: number;
  readonly retval?: number | string;
  /** Only for runs that did not pass or skip (logs of passing runs are noise). */
  readonly log?: string;
  readonly durationMs: number;
}

export interface JsonReport {
  readonly format: 'bpfconform-report';
  readonly version: 1;
  readonly meta: Readonly<Record<string, unknown>>;
  readonly counts: Counts & { readonly total: number };
  readonly summary: string;
  readonly results: readonly JsonRunEntry[];
  /** --backend both: the engine-vs-kernel comparison (harness/diff/report.ts). */
  readonly diff?: import('../diff/report.ts').DiffReport;
}

export function jsonEntry(item: RunItem, r: RunResult): JsonRunEntry {
  const o = r.outcome;
  const keepLog = o && (r.status === 'fail' || r.status === 'xfail');
  return {
    file: item.file,
    line: item.pos.line,
    suite: item.suite,
    test: item.test,
    name: item.name,
    mode: item.mode,
    backend: item.backend,
    series: item.request.series,
    status: r.status,
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    failures: r.failures.map((f) => ({ kind: f.kind, message: f.message })),
    ...(o ? { loaded: o.loaded, errno: o.errno } : {}),
    ...(o?.retval ? { retval: o.retval.ok ? o.retval.value : `run failed: ${o.retval.reason}` } : {}),
    ...(keepLog ? { log: o.log } : {}),
    durationMs: Math.round(r.durationMs * 1000) / 1000,
  };
}

export function buildJsonReport(
  items: readonly RunItem[],
  results: readonly RunResult[],
  counts: Counts,
  meta: Readonly<Record<string, unknown>> = {},
): JsonReport {
  const byId = new Map(items.map((i) => [i.id, i]));
  return {
    format: 'bpfconform-report',
    version: 1,
    meta,
    counts: { ...counts, total: results.length },
    summary: summaryLine(counts),
    results: results.map((r) => jsonEntry(byId.get(r.id) as RunItem, r)),
  };
}

export class JsonReporter implements Reporter {
  private items: readonly RunItem[] = [];

  constructor(
    private readonly write: Write,
    private readonly meta: Readonly<Record<string, unknown>> = {},
  ) {}

  begin(items: readonly RunItem[]): void {
    this.items = items;
  }

  result(): void {}

  end(counts: Counts, results: readonly RunResult[]): void {
    this.write(`${JSON.stringify(buildJsonReport(this.items, results, counts, this.meta), null, 2)}\n`);
    this.write(`${summaryLine(counts)}\n`);
  }
}
