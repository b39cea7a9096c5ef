// 6.18 loop bookkeeping (SCC visits): a checkpoint created inside a loop (a strongly
// connected component of the CFG) "enters" the loop for its call chain; when that checkpoint
// has no unexplored paths left, the loop is "exited" and the precision that pruned states
// inside it relied on (back-edges: states pruned against a checkpoint still being explored)
// is propagated until nothing changes. Level 2 prints `SCC enter (1)` / `SCC exit (1)`.

import type { VerifierState } from './state/types.ts';
import type { VerifierEnv } from './env.ts';
import { markAllScalarsPrecise, propagatePrecision } from './precision/backtrack.ts';

export interface Backedge {
  /** The pruned state (a copy), and the checkpoint it was found equal to. */
  readonly st: VerifierState;
  readonly equal: VerifierState;
}

export interface SccVisit {
  entry: VerifierState | undefined;
  backedges: Backedge[];
}

const MAX_BACKEDGE_ITERS = 64;

/** Insn index a frame is at: the current insn for the top frame, else the call site. */
export const frameInsnIdx = (st: VerifierState, frame: number): number =>
  frame === st.curframe ? st.insnIdx : st.frames[frame + 1].callsite;

/** The call sites leading to the first frame that sits in a loop, plus that loop's number;
 *  undefined when no frame does. */
export function sccCallchain(env: VerifierEnv, st: VerifierState): { key: string; text: string } | undefined {
  const sites: number[] = [];
  for (let i = 0; i <= st.curframe; i++) {
    const idx = frameInsnIdx(st, i);
    const scc = env.aux[idx].scc;
    if (scc) {
      // Asked at every checkpoint: the common frame-0 chain is built once per loop.
      if (!sites.length) return frame0Chain(scc);
      const text = `(${sites.map((s) => `${s},`).join('')}${scc})`;
      return { key: text, text };
    }
    if (i < st.curframe) sites.push(idx);
  }
  return undefined;
}

const frame0Chains: { key: string; text: string }[] = [];

function frame0Chain(scc: number): { key: string; text: string } {
  let c = frame0Chains[scc];
  if (!c) {
    const text = `(${scc})`;
    c = frame0Chains[scc] = { key: text, text };
  }
  return c;
}

export function maybeEnterScc(env: VerifierEnv, st: VerifierState): void {
  const cc = sccCallchain(env, st);
  if (!cc) return;
  let visit = env.sccVisits.get(cc.key);
  if (!visit) {
    visit = { entry: undefined, backedges: [] };
    env.sccVisits.set(cc.key, visit);
  }
  if (!visit.entry) {
    visit.entry = st;
    if (env.log.level2) env.log.verbose(`SCC enter ${cc.text}\n`);
  }
}

export function maybeExitScc(env: VerifierEnv, st: VerifierState): void {
  const cc = sccCallchain(env, st);
  if (!cc) return;
  const visit = env.sccVisits.get(cc.key);
  if (!visit || visit.entry !== st) return;
  if (env.log.level2) env.log.verbose(`SCC exit ${cc.text}\n`);
  visit.entry = undefined;
  env.numBackedges -= visit.backedges.length;
  propagateBackedges(env, visit);
}

/** Pruned-against-a-loop-state paths take on the precision that loop state ended up with. */
function propagateBackedges(env: VerifierEnv, visit: SccVisit): void {
  let i = 0;
  let changed: boolean;
  do {
    if (i++ > MAX_BACKEDGE_ITERS) {
      if (env.log.level2) env.log.verbose('propagate_backedges: too many iterations\n');
      for (const b of visit.backedges) markAllScalarsPrecise(env, b.st);
      break;
    }
    changed = false;
    for (const b of visit.backedges) if (propagatePrecision(env, b.equal, b.st)) changed = true;
  } while (changed);
  visit.backedges = [];
}

export function addBackedge(env: VerifierEnv, equal: VerifierState, st: VerifierState): void {
  const cc = sccCallchain(env, equal);
  const visit = cc && env.sccVisits.get(cc.key);
  if (!visit) return;
  if (env.log.level2) env.log.verbose(`SCC backedge ${cc.text}\n`);
  visit.backedges.push({ st, equal });
  env.numBackedges++;
}

/** A checkpoint in a loop whose back-edges are still pending has unfinished precision. */
export function incompleteReadMarks(env: VerifierEnv, st: VerifierState): boolean {
  const cc = sccCallchain(env, st);
  const visit = cc && env.sccVisits.get(cc.key);
  return !!visit && visit.backedges.length > 0;
}
