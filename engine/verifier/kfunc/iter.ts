// Open-coded iterators (6.18): a `struct bpf_iter_<kind>` lives in stack slots of kind
// STACK_ITER. `_new` needs slots that hold no iterator, checks they are writable, and takes
// a reference that the iterator's first slot carries; `_next` and `_destroy` need an
// initialised iterator of the same kind; `_destroy` gives the reference back. `_next` forks
// the path: this one continues with the iterator drained and r0 = NULL, a queued one with it
// still active, one level deeper, and r0 non-NULL. A loop over the iterator converges in
// state pruning (loop-prune.ts): the active pass meets an equal checkpoint of an earlier one.

import type { Btf } from '../../btf/index.ts';
import { SlotType, PTR_MAYBE_NULL, RegType, cloneState } from '../state/types.ts';
import type { FuncState, RegState } from '../state/types.ts';
import { markKnown, markNotInit, markPtr } from '../state/regs.ts';
import { isConst, constValue } from '../scalar-api.ts';
import { reject, EINVAL } from '../reject.ts';
import { findPrevEntry, widenImpreciseScalars } from '../prune.ts';
import type { VerifierEnv } from '../env.ts';
import { Access, checkMemAccess } from '../checks/mem.ts';
import { acquireReference, releaseReference } from '../checks/refs.ts';
import { resolved } from '../btf-types.ts';
import { pushStack } from '../branch-stack.ts';
import { iterKind, type IterReg } from './iter-slot.ts';
import { NotImplementedError } from '../errors.ts';
import { KF } from './table.ts';

/** Number of 8-byte slots the iterator struct takes. */
function slotsOf(btf: Btf, structId: number): number {
  const t = resolved(btf, structId);
  return t.kind === 'STRUCT' ? t.size / 8 : 0;
}

/** stack_slot_obj_get_spi for an iterator: the slot index of the pointer, 'range' when the
 *  slots are not all allocated yet, or the complaint the kernel prints first. */
function iterSpi(env: VerifierEnv, reg: RegState, nrSlots: number): number | 'range' | { error: string } {
  if (!isConst(reg.s)) return { error: 'iter has to be at a constant offset' };
  const off = reg.off + Number(BigInt.asIntN(64, constValue(reg.s)));
  if (off % 8) return { error: `cannot pass in iter at an offset=${off}` };
  const spi = (-off - 8) / 8;
  if (spi + 1 < nrSlots) return { error: `cannot pass in iter at an offset=${off}` };
  const f = env.curState.frames[reg.frameno];
  if (spi >= f.allocatedStack / 8) return 'range';
  return spi;
}

/** The kernel prints the offset complaint, then the caller's own line. */
const withError = (spi: ReturnType<typeof iterSpi>, line: string): string => (typeof spi === 'object' ? `${spi.error}\n${line}` : line);

const mainSlot = (f: FuncState, spi: number): IterReg => f.stack[spi].spilled as IterReg;

function validUninit(env: VerifierEnv, reg: RegState, spi: ReturnType<typeof iterSpi>, nrSlots: number): boolean {
  if (spi === 'range') return true;
  if (typeof spi === 'object') return false;
  const f = env.curState.frames[reg.frameno];
  for (let i = 0; i < nrSlots; i++) if (f.stack[spi - i].slotType.includes(SlotType.ITER)) return false;
  return true;
}

function validInit(env: VerifierEnv, reg: RegState, spi: ReturnType<typeof iterSpi>, structId: number, nrSlots: number): number | undefined {
  if (typeof spi !== 'number') return undefined;
  const f = env.curState.frames[reg.frameno];
  for (let i = 0; i < nrSlots; i++) {
    const slot = f.stack[spi - i];
    const st = slot.spilled as IterReg;
    if (!slot.slotType.every((b) => b === SlotType.ITER)) return undefined;
    if (st.iter?.btfId !== structId) return undefined;
    // Only the main slot holds the reference.
    if (i === 0 ? !st.refObjId : st.refObjId) return undefined;
  }
  return spi;
}

export interface IterArg {
  /** The argument: a register, or (stack-arg series) an outgoing slot. */
  readonly reg: RegState;
  /** r1..r5, or undefined for a stack argument. */
  readonly regno: number | undefined;
  readonly argno: number;
  readonly structId: number;
}

/** How a kfunc uses its iterator argument: `_new` builds one, `_destroy` ends it, `_next`
 *  and any other kfunc taking an `__iter` argument need an initialised one. */
export type IterUse = 'new' | 'next' | 'destroy' | 'use';

/** The use a kfunc with these KF_* flags makes of its iterator argument. */
export function iterUse(flags: number): IterUse {
  return flags & KF.ITER_NEW ? 'new' : flags & KF.ITER_NEXT ? 'next' : flags & KF.ITER_DESTROY ? 'destroy' : 'use';
}

/** process_iter_arg. Returns the iterator's main slot (frame, spi) for `next` and `use`. */
export function processIterArg(env: VerifierEnv, btf: Btf, a: IterArg, kind: IterUse): { frameno: number; spi: number; refObjId: number } | undefined {
  const reg = a.reg;
  if (reg.type !== RegType.PTR_TO_STACK) throw reject(EINVAL, `arg#${a.argno} expected pointer to an iterator on stack`);
  const nrSlots = slotsOf(btf, a.structId);
  const name = iterKind(btf, a.structId);
  const at = iterSpi(env, reg, nrSlots);
  if (kind === 'new') {
    if (!validUninit(env, reg, at, nrSlots)) throw reject(EINVAL, withError(at, `expected uninitialized iter_${name} as arg #${a.argno}`));
    // No kfunc builds an iterator through a stack-arg slot (bpf_testmod has none).
    if (a.regno === undefined) throw new NotImplementedError('a new iterator passed as a stack argument');
    for (let i = 0; i < nrSlots * 8; i += 8) checkMemAccess(env, a.regno, i, 8, Access.WRITE, undefined, { unknown: true });
    // The writes above allocated the slots: the offset now names them.
    const spi = iterSpi(env, reg, nrSlots);
    if (typeof spi !== 'number') throw reject(14, 'verifier internal error: iterator slots not allocated');
    markIterSlots(env, reg.frameno, spi, nrSlots, a.structId);
    return undefined;
  }
  const spi = validInit(env, reg, at, a.structId, nrSlots);
  if (spi === undefined) throw reject(EINVAL, withError(at, `expected an initialized iter_${name} as arg #${a.argno}`));
  const f = env.curState.frames[reg.frameno];
  env.stackLive.markRead(reg.frameno, env.insnIdx, slotMask(spi, nrSlots));
  if (kind === 'destroy') {
    // Invalidating the slots counts as writing them (stack liveness).
    env.stackLive.markWrite(reg.frameno, slotMask(spi, nrSlots));
    releaseReference(env, f.stack[spi].spilled.refObjId);
    for (let i = 0; i < nrSlots; i++) {
      const slot = f.stack[spi - i];
      markNotInit(slot.spilled);
      delete (slot.spilled as IterReg).iter;
      slot.slotType.fill(SlotType.INVALID);
      env.scratch.markSlot(spi - i);
    }
    return undefined;
  }
  return { frameno: reg.frameno, spi, refObjId: f.stack[spi].spilled.refObjId };
}

function slotMask(spi: number, nrSlots: number): bigint {
  let m = 0n;
  for (let i = 0; i < nrSlots; i++) m |= 1n << BigInt(spi - i);
  return m;
}

/** mark_stack_slots_iter: a new active iterator at slots spi, spi-1, ... */
function markIterSlots(env: VerifierEnv, frameno: number, spi: number, nrSlots: number, structId: number): void {
  const id = acquireReference(env, env.insnIdx);
  const f = env.curState.frames[frameno];
  for (let i = 0; i < nrSlots; i++) {
    const slot = f.stack[spi - i];
    const st = slot.spilled as IterReg;
    markPtr(st, RegType.PTR_TO_STACK);
    st.refObjId = i === 0 ? id : 0;
    st.iter = { btfId: structId, state: 'active', depth: 0 };
    slot.slotType.fill(SlotType.ITER);
    env.scratch.markSlot(spi - i);
  }
}

/** process_iter_next_call, after r0 got the kfunc's return type: queue the active branch
 *  (one level deeper, r0 not NULL) and go on drained with r0 = 0. */
export function processIterNext(env: VerifierEnv, at: { frameno: number; spi: number }, insnIdx: number): void {
  const st = env.curState;
  const it = mainSlot(st.frames[at.frameno], at.spi).iter!;
  if (it.state === 'active') {
    const queued = cloneState(st);
    // State copies share this record: replace it, never mutate it.
    const q = mainSlot(queued.frames[at.frameno], at.spi);
    q.iter = { ...it, depth: it.depth + 1 };
    const r0 = queued.frames[queued.curframe].regs[0];
    r0.type &= ~PTR_MAYBE_NULL;
    // A later pass through this `_next`: scalars that changed since the earlier pass and
    // were never needed precisely are widened, so that the passes can converge.
    const prev = findPrevEntry(env, st.parent, insnIdx);
    if (prev) widenImpreciseScalars(env, prev, queued);
    pushStack(env, queued, insnIdx + 1, insnIdx);
  }
  mainSlot(st.frames[at.frameno], at.spi).iter = { ...it, state: 'drained' };
  env.scratch.markSlot(at.spi);
  markKnown(st.frames[st.curframe].regs[0], 0n);
}

