// Running one RunItem on a backend and judging it. Whatever the backend throws becomes this
// run's failure ('crash'), never the whole run's.

import type { Backend } from '../backend.ts';
import { classify, digest, judgeOutcome, type Failure, type RunResult } from './judge.ts';
import type { RunItem } from './plan.ts';

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const frame = err.stack?.split('\n').find((l) => l.trim().startsWith('at '))?.trim();
    return `${err.name}: ${err.message}${frame ? ` (${frame})` : ''}`;
  }
  return String(err);
}

/** A result for a run that never produced an outcome (exception, dead worker, timeout). */
export function crashResult(item: RunItem, message: string, durationMs: number): RunResult {
  const failures: Failure[] = [{ kind: 'crash', message }];
  const c = classify(failures, undefined, item.xfail);
  return { id: item.id, status: c.status, ...(c.reason !== undefined ? { reason: c.reason } : {}), failures: c.failures, durationMs };
}

export async function executeItem(item: RunItem, backend: Backend): Promise<RunResult> {
  const t0 = performance.now();
  if (item.skip !== undefined) return { id: item.id, status: 'skip', reason: item.skip, failures: [], durationMs: 0 };
  try {
    const outcome = await backend.run(item.request);
    const failures = outcome.skip !== undefined ? [] : judgeOutcome(item.expect, item.request.program, item.request.execute, outcome);
    const c = classify(failures, outcome.skip, item.xfail);
    return {
      id: item.id,
      status: c.status,
      ...(c.reason !== undefined ? { reason: c.reason } : {}),
      failures: c.failures,
      outcome: digest(outcome),
      durationMs: performance.now() - t0,
    };
  } catch (err) {
    return crashResult(item, `the test crashed: ${describeError(err)}`, performance.now() - t0);
  }
}
