// Stack arguments at call sites: the callee's stack arguments must all be in place
// (check_outgoing_stack_args / the seed's per-argument check), the caller's outgoing need is
// recorded for the JIT, and (merged) the outgoing slots die once the call is made.

import type { RegState } from '../state/types.ts';
import { RegType } from '../state/types.ts';
import { reject, EFAULT, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { type Dialect, MAX_REG_ARGS, argSlot, inCount, msg } from './dialect.ts';
import { invalidateOutgoing, stackArgRun } from './facts.ts';

/** Argument `argno` (>= 5) of a call with `nargs` arguments, as the caller left it; throws
 *  the series' message when the slot was never written or was invalidated. */
export function outgoingArg(env: VerifierEnv, d: Dialect, argno: number, nargs: number): RegState {
  const f = env.curState.frames[env.curState.curframe];
  const spi = argSlot(d, argno, nargs);
  const r = f.stackArgs[spi];
  if (r && r.type !== RegType.NOT_INIT) return r;
  // merged returns -EFAULT (check_outgoing_stack_args), the seed -EINVAL.
  throw reject(d.series === 'merged' ? EFAULT : EINVAL, msg.notInit(d, argno, nargs));
}

/** Every stack argument of a call with `nargs` arguments is initialised. */
export function checkOutgoingArgs(env: VerifierEnv, d: Dialect, nargs: number): void {
  for (let i = MAX_REG_ARGS; i < nargs; i++) outgoingArg(env, d, i, nargs);
}

/** The caller needs room for `slots` outgoing arguments. */
function noteOutgoing(env: VerifierEnv, slots: number): void {
  const run = stackArgRun(env);
  if (!run || slots === 0) return;
  const info = run.subprogs[env.curState.frames[env.curState.curframe].subprogno];
  if (info.outSlots < slots) info.outSlots = slots;
  info.usesStackArgs = true;
}

/** Before a bpf-to-bpf call to subprogram `callee` (still in the caller's frame). */
export function beforeSubprogCall(env: VerifierEnv, callee: number): void {
  const run = stackArgRun(env);
  if (!run) return;
  const { nargs, reliable } = run.subprogs[callee];
  // An unreliable prototype fails btf_check_func_arg_match before the slots are looked at;
  // for a static callee that failure is not fatal, so nothing is checked here.
  if (reliable) checkOutgoingArgs(env, run.d, nargs);
  noteOutgoing(env, inCount(nargs));
  markCallMade(env, run.d);
}

/** Before a kfunc call taking `nargs` arguments (after its arguments were checked). */
export function beforeKfuncCall(env: VerifierEnv, nargs: number): void {
  noteOutgoing(env, inCount(nargs));
}

function markCallMade(env: VerifierEnv, d: Dialect): void {
  if (d.loadOrder) env.curState.frames[env.curState.curframe].noStackArgLoad = true;
}

/** After a helper or kfunc call returned, in the calling frame. */
export function afterCall(env: VerifierEnv): void {
  const run = stackArgRun(env);
  if (!run) return;
  const f = env.curState.frames[env.curState.curframe];
  markCallMade(env, run.d);
  if (run.d.slotsDieAtCalls) invalidateOutgoing(f);
}

/** Back in the caller after a static subprogram returned. */
export function afterSubprogReturn(env: VerifierEnv): void {
  const run = stackArgRun(env);
  if (!run || !run.d.slotsDieAtCalls) return;
  invalidateOutgoing(env.curState.frames[env.curState.curframe]);
}
