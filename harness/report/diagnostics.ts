// The facts shown for a run that did not pass: one plain object, rendered as a TAP YAML
// block and kept (with the whole log) in the JSON report.

import { clipLines, errnoText, type RunResult } from '../run/judge.ts';
import type { RunItem } from '../run/plan.ts';

export interface DiagOptions {
  /** Include logs and pattern reports (TAP failures); xfail blocks stay short. */
  readonly full: boolean;
}

function expectationSummary(item: RunItem): Record<string, unknown> {
  const e = item.expect;
  const out: Record<string, unknown> = { result: e.result };
  if (e.retval) out.retval = e.retval.kind === 'pointer' ? 'POINTER_VALUE (not checked)' : e.retval.value;
  return out;
}

export function diagnostics(item: RunItem, result: RunResult, opts: DiagOptions): Record<string, unknown> {
  const d: Record<string, unknown> = {
    at: `${item.pos.file}:${item.pos.line}:${item.pos.col}`,
    test: item.test,
    mode: item.mode,
    backend: item.backend,
    series: item.request.series,
    flags: `0x${item.request.flags.toString(16)}`,
    log_level: item.request.logLevel,
    failures: result.failures.map((f) => `${f.kind}: ${f.message}`),
  };
  if (!opts.full) return d;
  d.expected = expectationSummary(item);
  const o = result.outcome;
  if (o && !result.failures.some((f) => f.kind === 'unsupported')) {
    const got: Record<string, unknown> = { loaded: o.loaded, errno: errnoText(o.errno) };
    if (o.retval) got.retval = o.retval.ok ? o.retval.value : `run failed: ${o.retval.reason}`;
    d.got = got;
  }
  // A pattern report already shows its text; otherwise show the log for a wrong verdict.
  let logShown = false;
  for (const f of result.failures) {
    if (f.report !== undefined) {
      d[f.kind] = f.report;
      if (f.kind === 'msgs') logShown = true;
    }
  }
  if (!logShown && o && o.log !== '' && result.failures.some((f) => f.kind === 'verdict' || f.kind === 'retval')) {
    d.log = clipLines(o.log);
  }
  return d;
}
