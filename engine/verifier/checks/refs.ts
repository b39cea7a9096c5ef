// Reference tracking (6.18: references live in the verifier state, not per frame): an
// acquiring helper adds a reference whose id the returned pointer carries as ref_obj_id;
// releasing it invalidates every copy; a NULL check drops it on the NULL side; a path may
// not end, tail-call or use LD_ABS while it holds references or a lock.

import type { RefState, RegState, VerifierState } from '../state/types.ts';
import { markNotInit, markUnknown } from '../state/regs.ts';
import { reject, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { activeRcuLock } from '../kfunc/rcu.ts';

/** Every register, spilled register and outgoing stack-arg slot of every frame. */
export function* everyReg(st: VerifierState): Generator<RegState> {
  for (const f of st.frames) {
    yield* f.regs;
    for (const s of f.stack) if (s.slotType[7] === 1) yield s.spilled;
    yield* f.stackArgs;
  }
}

/** acquire_reference: a new pointer reference taken at `insnIdx`; returns its id. */
export function acquireReference(env: VerifierEnv, insnIdx: number): number {
  const id = ++env.idGen;
  env.curState.refs.push({ id, insnIdx });
  return id;
}

/** Drop the entry at `i`: the last one takes its place (the kernel's order, which the
 *  Unreleased lines and state comparison see). */
function dropRef(refs: RefState[], i: number): void {
  const last = refs.pop()!;
  if (i < refs.length) refs[i] = last;
}

/** release_reference_nomark: false when no such pointer reference is held. */
export function releaseRefState(st: VerifierState, id: number): boolean {
  const i = st.refs.findIndex((r) => r.kind === undefined && r.id === id);
  if (i < 0) return false;
  dropRef(st.refs, i);
  return true;
}

/** mark_reg_invalid: a released pointer becomes an unknown scalar for privileged loads
 *  (not readable at all for unprivileged ones). */
export function markRegInvalid(env: VerifierEnv, r: RegState): void {
  if (env.allowPtrLeaks) markUnknown(r);
  else markNotInit(r);
}

/** release_reference: forget the reference and every pointer derived from it. */
export function releaseReference(env: VerifierEnv, id: number): boolean {
  if (!releaseRefState(env.curState, id)) return false;
  for (const r of everyReg(env.curState)) if (r.refObjId === id) markRegInvalid(env, r);
  return true;
}

export const activeLock = (st: VerifierState): RefState | undefined => st.refs.find((r) => r.kind === 'lock');

/** check_reference_leak: the main frame's exit (or a tail call, LD_ABS) with pointer
 *  references held prints one line per reference. */
function referenceLeak(env: VerifierEnv, exceptionExit: boolean): boolean {
  const st = env.curState;
  // A throw leaves every frame at once: references of all of them count.
  if (!exceptionExit && st.frames[st.curframe].frameno) return false;
  let leak = false;
  for (const r of st.refs) {
    if (r.kind !== undefined) continue;
    env.log.verbose(`Unreleased reference id=${r.id} alloc_insn=${r.insnIdx}\n`);
    leak = true;
  }
  return leak;
}

/** check_resource_leak: `prefix` names what would leak (`BPF_EXIT instruction in main prog`,
 *  `tail_call`, `BPF_LD_[ABS|IND]`); locks are checked only when `checkLock`. */
export function checkResourceLeak(env: VerifierEnv, checkLock: boolean, prefix: string, exceptionExit = false): void {
  if (checkLock && activeLock(env.curState)) throw reject(EINVAL, `${prefix} cannot be used inside bpf_spin_lock-ed region`);
  if (checkLock && activeRcuLock(env.curState)) throw reject(EINVAL, `${prefix} cannot be used inside bpf_rcu_read_lock-ed region`);
  if (referenceLeak(env, exceptionExit)) throw reject(EINVAL, `${prefix} would lead to reference leak`);
}
