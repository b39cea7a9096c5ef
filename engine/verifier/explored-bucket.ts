// The kernel keeps explored states in a hash table of prog->len buckets, indexed by the insn
// and the call site of the state's innermost frame. States of other insns that share the
// bucket are walked (and skipped) too, and they count in `max_states_per_insn`. We keep
// checkpoints per insn (env.explored) and count a bucket's other members on demand.

import type { VerifierEnv } from './env.ts';
import type { VerifierState } from './state/types.ts';

const seenCallsites = new WeakMap<VerifierEnv, Set<number>>();

const topCallsite = (st: VerifierState): number => st.frames[st.curframe].callsite;

/** explored_state's bucket: (insn ^ callsite) % prog->len, in u32 arithmetic. */
const bucketOf = (env: VerifierEnv, idx: number, callsite: number): number => ((idx ^ callsite) >>> 0) % env.insnCnt;

/** A checkpoint of `st` is being stored: remember its call site. */
export function noteCheckpoint(env: VerifierEnv, st: VerifierState): void {
  let s = seenCallsites.get(env);
  if (!s) seenCallsites.set(env, (s = new Set()));
  s.add(topCallsite(st));
}

/** Insns whose states with call site `c` land in bucket `b`. */
function insnsIn(env: VerifierEnv, b: number, c: number): number[] {
  const len = env.insnCnt;
  if (c < 0) {
    // (k ^ -1) as u32 is 0xffffffff - k: one insn per bucket.
    return [(0xffffffff - b) % len];
  }
  const out: number[] = [];
  const bits = Math.max(len - 1, c, 1).toString(2).length;
  for (let v = b; v < 2 ** bits; v += len) {
    const k = v ^ c;
    if (k < len) out.push(k);
  }
  return out;
}

/** How many explored states the lookup for `cur` at `idx` walks (states_cnt). */
export function bucketStatesCount(env: VerifierEnv, idx: number, cur: VerifierState): number {
  const b = bucketOf(env, idx, topCallsite(cur));
  let n = 0;
  for (const c of seenCallsites.get(env) ?? []) {
    if (c < 0) {
      // Frame 0 (asked at every prune point): the one insn, without building a list.
      n += statesAt(env, (0xffffffff - b) % env.insnCnt, c);
      continue;
    }
    for (const k of insnsIn(env, b, c)) n += statesAt(env, k, c);
  }
  return n;
}

function statesAt(env: VerifierEnv, k: number, c: number): number {
  let n = 0;
  for (const sl of env.explored.get(k) ?? []) if (topCallsite(sl.st) === c) n++;
  return n;
}
