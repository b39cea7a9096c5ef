// Verifier statistics of accepted programs, engine against kernel: the `processed N insns`
// line (with total_states and peak_states) each side prints when the log asks for stats.
// A level-0 load that succeeds has no log, so pairs both sides accepted are run once more at
// log level 4 (BPF_LOG_STATS: the stats block only) on each backend; a run that already has
// the line in its log (level 1 or 2) is read as it is.

import type { Backend, RunRequest } from '../backend.ts';
import type { BackendName, RunItem } from '../run/plan.ts';
import type { RunResult } from '../run/judge.ts';

export interface VerifierStats {
  readonly processedInsns: number;
  readonly totalStates: number;
  readonly peakStates: number;
}

/** Both sides' stats of one accepted pair; a side is undefined when its log had no line. */
export interface PairStats {
  readonly engine?: VerifierStats;
  readonly kernel?: VerifierStats;
}

// mark_read closes the line on 6.18; not needed here, so not required.
const PROCESSED = /^processed (\d+) insns \(limit \d+\) max_states_per_insn \d+ total_states (\d+) peak_states (\d+)\b/m;

/** The stats of a verifier log, or undefined when it has no `processed` line. */
export function parseVerifierStats(log: string): VerifierStats | undefined {
  const m = PROCESSED.exec(log);
  if (!m) return undefined;
  return { processedInsns: Number(m[1]), totalStates: Number(m[2]), peakStates: Number(m[3]) };
}

/** The request that only asks for the stats: level 4, nothing run, nothing dumped. */
export function statsRequest(req: RunRequest): RunRequest {
  return { ...req, logLevel: 4, execute: false, wantXlated: false, wantJited: false, wantStreams: false };
}

export const pairKey = (i: Pick<RunItem, 'file' | 'test' | 'mode'>): string => `${i.file}\u0000${i.test}\u0000${i.mode}`;

/** One side's stats: from the run's own log, else from a level-4 run on its backend. A
 *  level-4 run that fails or has no line gives undefined (reported as "no stats"). */
export async function sideStats(backend: Backend, item: RunItem, result: RunResult): Promise<VerifierStats | undefined> {
  const own = result.outcome ? parseVerifierStats(result.outcome.log) : undefined;
  if (own) return own;
  let out;
  try {
    out = await backend.run(statsRequest(item.request));
  } catch {
    return undefined; // a backend that cannot re-run the program has no stats to compare
  }
  if (!out.loaded || out.skip !== undefined || out.unsupported !== undefined) return undefined;
  return parseVerifierStats(out.log);
}

/** Stats of every pair both backends loaded, keyed like the diff report pairs its runs. */
export async function collectPairStats(
  items: readonly RunItem[],
  results: readonly RunResult[],
  backendOf: (name: BackendName) => Promise<Backend>,
): Promise<Map<string, PairStats>> {
  const resultOf = new Map(results.map((r) => [r.id, r]));
  const sides = new Map<string, Partial<Record<BackendName, { item: RunItem; result: RunResult }>>>();
  for (const item of items) {
    const result = resultOf.get(item.id);
    if (!result?.outcome?.loaded || result.status === 'skip') continue;
    const k = pairKey(item);
    const slot = sides.get(k) ?? {};
    slot[item.backend] = { item, result };
    sides.set(k, slot);
  }
  const out = new Map<string, PairStats>();
  for (const [k, slot] of sides) {
    if (!slot.engine || !slot.kernel) continue;
    const engine = await sideStats(await backendOf('engine'), slot.engine.item, slot.engine.result);
    const kernel = await sideStats(await backendOf('kernel'), slot.kernel.item, slot.kernel.result);
    out.set(k, { ...(engine ? { engine } : {}), ...(kernel ? { kernel } : {}) });
  }
  return out;
}

export const statsText = (s: VerifierStats | undefined): string =>
  s ? `processed ${s.processedInsns} insns, total_states ${s.totalStates}, peak_states ${s.peakStates}` : '(no stats)';
