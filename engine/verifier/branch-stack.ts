// The stack of states still to explore (push_stack / pop_stack). Each entry remembers the
// log position so that level-1 logs can drop a finished path's trace.

import type { VerifierEnv } from './env.ts';
import type { VerifierState } from './state/types.ts';
import { reject, E2BIG } from './reject.ts';

const BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192;

export function pushStack(env: VerifierEnv, st: VerifierState, insnIdx: number, prevInsnIdx: number): void {
  st.insnIdx = insnIdx;
  if (st.parent) st.parent.branches++;
  env.stack.push({ st, insnIdx, prevInsnIdx, logPos: env.log.pos });
  if (env.stack.length > BPF_COMPLEXITY_LIMIT_JMP_SEQ) {
    throw reject(E2BIG, `The sequence of ${env.stack.length} jumps is too complex.`);
  }
}
