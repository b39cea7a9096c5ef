// After do_check: the program-wide stack-argument rules (merged: writes no call needs; both:
// no stack args in tail-call-reachable subprograms) and the per-subprogram depths the JIT
// and the specs read.

import { BPF_CALL, BPF_JMP, BPF_PSEUDO_CALL } from '../../isa/opcodes.ts';
import { reject, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { depthOf, msg } from './dialect.ts';
import { stackArgRun } from './facts.ts';

/** Subprograms that can run with a tail-call counter live: those with a tail call and every
 *  subprogram that reaches one through static calls (6.18 tail_call_reachable). */
function tailCallReachable(env: VerifierEnv): boolean[] {
  const n = env.subprogs.length;
  const callees: number[][] = env.subprogs.map(() => []);
  for (let i = 0; i < env.insnCnt; i++) {
    const s = env.slots[i];
    if (s.code !== (BPF_JMP | BPF_CALL) || s.src !== BPF_PSEUDO_CALL) continue;
    const to = env.subprogs.findIndex((p) => p.start === i + s.imm + 1);
    if (to >= 0) callees[env.subprogOf(i)].push(to);
  }
  const reach = env.subprogs.map((s) => s.hasTailCall);
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = 0; i < n; i++) {
      if (!reach[i] && callees[i].some((c) => reach[c])) {
        reach[i] = true;
        changed = true;
      }
    }
  }
  return reach;
}

/** The post-verification stack-argument checks; no-op under series `none`. */
export function checkStackArgUse(env: VerifierEnv): void {
  const run = stackArgRun(env);
  if (!run) return;
  const reach = tailCallReachable(env);
  run.subprogs.forEach((s, i) => {
    // v4 12/18 and merged 35b78733: the tail-call counter and stack args cannot share the
    // frame. The kernel's text was not retrieved; this one is ours (docs/series.md).
    if (s.usesStackArgs && reach[i]) throw reject(EINVAL, `func#${i} uses stack arguments and is tail call reachable`);
  });
  if (!run.d.checkUnusedWrites) return;
  run.subprogs.forEach((s, i) => {
    if (s.maxWritten > s.outSlots) throw reject(EINVAL, msg.unusedWrites(run.d, i, s.maxWritten, s.outSlots));
  });
}

/** Incoming / outgoing stack-argument depth of subprogram `i`: v4 bytes, merged slots. */
export function stackArgDepth(env: VerifierEnv, i: number): { incoming: number; outgoing: number } {
  const run = stackArgRun(env);
  const s = run?.subprogs[i];
  if (!run || !s) return { incoming: 0, outgoing: 0 };
  return { incoming: depthOf(run.d, s.inSlots), outgoing: depthOf(run.d, s.outSlots) };
}
