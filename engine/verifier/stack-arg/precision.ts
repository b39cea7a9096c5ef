// Precision through stack-argument slots. Backtracking (precision/backtrack.ts) moves a
// mark from a loaded register to the slot it came from and from a slot to the register
// stored into it; here, reaching a checkpoint, the marked slots' scalars become precise.
// (merged: bt.stack_arg_masks and mark_stack_arg_precision; the `stack=` log field does not
// show these slots.)

import type { Bt } from '../precision/backtrack.ts';
import { RegType } from '../state/types.ts';
import type { FuncState } from '../state/types.ts';
import { markChainPrecisionFrom } from '../precision/backtrack.ts';
import type { VerifierEnv } from '../env.ts';

/** Mark frame `fr`'s wanted slots precise in the checkpoint frame `f`; drops marks that
 *  need no more walking. Returns whether a mark was added. */
export function markStackArgsPrecise(bt: Bt, f: FuncState, fr: number): boolean {
  if (!bt.argSlots[fr]) return false;
  let changed = false;
  for (let i = 0; i < 32; i++) {
    if (!(bt.argSlots[fr] & (1 << i))) continue;
    const r = f.stackArgs[i];
    if (!r || r.type !== RegType.SCALAR_VALUE || r.precise) {
      bt.argSlots[fr] &= ~(1 << i);
      continue;
    }
    r.precise = true;
    changed = true;
  }
  return changed;
}

/** A call's stack argument `spi` of the current frame feeds a decision (a kfunc's constant
 *  or size): backtrack from the slot (merged mark_stack_arg_precision). */
export function markStackArgPrecision(env: VerifierEnv, spi: number): void {
  if (!env.bpfCapable) return;
  env.bt.reset();
  env.bt.argSlots[env.curState.curframe] |= 1 << spi;
  markChainPrecisionFrom(env, env.curState, -1);
}
