// Counting runs into buckets (the rule is spelled out in harness/run/judge.ts) and the one
// line every reporter ends stdout with.

import type { RunResult } from '../run/judge.ts';

export interface Counts {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  /** Runs of xfail tests that failed as expected: neither passes nor failures. */
  readonly xfail: number;
}

export function countResults(results: readonly RunResult[]): Counts {
  const c = { passed: 0, failed: 0, skipped: 0, xfail: 0 };
  for (const r of results) {
    if (r.status === 'pass') c.passed++;
    else if (r.status === 'fail') c.failed++;
    else if (r.status === 'skip') c.skipped++;
    else c.xfail++;
  }
  return c;
}

/** `conformance: N passed, N failed, N skipped, N xfail` */
export function summaryLine(c: Counts): string {
  return `conformance: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped, ${c.xfail} xfail`;
}

/** Exit status of a finished run: 1 on any failure (an xfail that passed is one). */
export function exitStatus(c: Counts): 0 | 1 {
  return c.failed > 0 ? 1 : 0;
}
