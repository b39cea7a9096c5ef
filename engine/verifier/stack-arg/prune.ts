// State equivalence over stack-argument slots (merged stack_arg_safe; the same rule serves
// v4): every outgoing slot of the old state must contain the current one, and a state that
// may no longer load incoming args is not covered by one that still may.

import type { FuncState, RegState } from '../state/types.ts';
import { newReg } from '../state/regs.ts';

const UNSET = newReg();

/** `regsafe` is the caller's register comparison (ids, precision and exactness included). */
export function stackArgsSafe(old: FuncState, cur: FuncState, regsafe: (old: RegState, cur: RegState) => boolean): boolean {
  if (cur.noStackArgLoad && !old.noStackArgLoad) return false;
  const n = Math.max(old.stackArgs.length, cur.stackArgs.length);
  for (let i = 0; i < n; i++) {
    if (!regsafe(old.stackArgs[i] ?? UNSET, cur.stackArgs[i] ?? UNSET)) return false;
  }
  return true;
}
