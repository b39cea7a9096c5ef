// Dynptr arguments of kfuncs (process_dynptr_func as check_kfunc_args uses it, 6.18): a
// `struct bpf_dynptr *` is a 16-byte object on the stack (two STACK_DYNPTR slots) or a
// CONST_PTR_TO_DYNPTR a callback received. An `__uninit` parameter builds a new dynptr in
// the slots (bpf_dynptr_from_skb -> kind `skb`, bpf_dynptr_from_xdp -> `xdp`); any other
// needs an initialised one. Writing over a dynptr's slot destroys the whole dynptr.
// Referenced kinds (ringbuf) and clones are not modelled (NotImplementedError).

import { SlotType, RegType } from '../state/types.ts';
import type { FuncState, RegState } from '../state/types.ts';
import { markNotInit, markPtr } from '../state/regs.ts';
import { isConst, constValue } from '../scalar-api.ts';
import { reject, EINVAL } from '../reject.ts';
import { NotImplementedError } from '../errors.ts';
import type { VerifierEnv } from '../env.ts';
import { Access, checkMemAccess } from '../checks/mem.ts';
import { DYNPTR_NR_SLOTS, type DynptrReg } from './dynptr-slot.ts';

/** The dynptr kind an `__uninit` argument of this kfunc creates. */
function createdKind(kfunc: string): string {
  switch (kfunc) {
    case 'bpf_dynptr_from_skb': return 'skb';
    case 'bpf_dynptr_from_xdp': return 'xdp';
    default: throw new NotImplementedError(`kfunc ${kfunc} creating a dynptr`);
  }
}

/** dynptr_get_spi: the main slot's index, 'range' when the slots are not allocated yet, or
 *  the complaint the kernel prints before the caller's own line. */
function dynptrSpi(env: VerifierEnv, reg: RegState): number | 'range' | { error: string } {
  if (!isConst(reg.s)) return { error: 'dynptr has to be at a constant offset' };
  const off = reg.off + Number(BigInt.asIntN(64, constValue(reg.s)));
  if (off % 8) return { error: `cannot pass in dynptr at an offset=${off}` };
  const spi = (-off - 8) / 8;
  if (spi + 1 < DYNPTR_NR_SLOTS) return { error: `cannot pass in dynptr at an offset=${off}` };
  if (spi >= env.curState.frames[reg.frameno].allocatedStack / 8) return 'range';
  return spi;
}

const withError = (spi: ReturnType<typeof dynptrSpi>, line: string): string => (typeof spi === 'object' ? `${spi.error}\n${line}` : line);

function slotMask(spi: number): bigint {
  return (1n << BigInt(spi)) | (1n << BigInt(spi - 1));
}

/** is_dynptr_reg_valid_init for a stack pointer: both slots wholly STACK_DYNPTR, the
 *  pointer at the first one. */
function validInit(f: FuncState, spi: number): boolean {
  for (let i = 0; i < DYNPTR_NR_SLOTS; i++) if (!f.stack[spi - i].slotType.every((b) => b === SlotType.DYNPTR)) return false;
  return !!(f.stack[spi].spilled as DynptrReg).dynptrFirst;
}

export interface DynptrArg {
  /** The argument: a register, or (stack-arg series) an outgoing slot. */
  readonly reg: RegState;
  /** r1..r5, or undefined for a stack argument. */
  readonly regno: number | undefined;
  readonly argno: number;
  readonly uninit: boolean;
}

/** What an initialised dynptr argument was (meta->initialized_dynptr). */
export interface DynptrInfo {
  readonly id: number;
  readonly kind: string;
  readonly refObjId: number;
}

/** process_dynptr_func for one kfunc argument. Returns the dynptr read (not for `__uninit`). */
export function processKfuncDynptrArg(env: VerifierEnv, a: DynptrArg, kfunc: string): DynptrInfo | undefined {
  const reg = a.reg;
  if (reg.type !== RegType.PTR_TO_STACK && reg.type !== RegType.CONST_PTR_TO_DYNPTR) {
    throw reject(EINVAL, `arg#${a.argno} expected pointer to stack or const struct bpf_dynptr`);
  }
  if (a.uninit) {
    if (reg.type === RegType.CONST_PTR_TO_DYNPTR) throw reject(14, 'verifier internal error: misconfigured dynptr helper type flags');
    const at = dynptrSpi(env, reg);
    if (typeof at === 'object') throw reject(EINVAL, withError(at, 'Dynptr has to be an uninitialized dynptr'));
    // No kfunc creates a dynptr through a stack-arg slot (bpf_testmod has none).
    if (a.regno === undefined) throw new NotImplementedError('an __uninit dynptr passed as a stack argument');
    for (let i = 0; i < 16; i += 8) checkMemAccess(env, a.regno, i, 8, Access.WRITE, undefined, { unknown: true });
    const spi = dynptrSpi(env, reg);
    if (typeof spi !== 'number') throw reject(14, 'verifier internal error: dynptr slots not allocated');
    const f = env.curState.frames[reg.frameno];
    destroyIfDynptrSlot(env, f, spi);
    destroyIfDynptrSlot(env, f, spi - 1);
    markDynptrSlots(env, f, spi, createdKind(kfunc));
    return undefined;
  }
  if (reg.type === RegType.CONST_PTR_TO_DYNPTR) {
    // A const dynptr a callback got: read-only use, nothing on the stack to check.
    if (reg.refObjId) throw new NotImplementedError('referenced const dynptr arguments');
    return { id: reg.id, kind: reg.dynptrType ?? '', refObjId: reg.refObjId };
  }
  const at = dynptrSpi(env, reg);
  const f = env.curState.frames[reg.frameno];
  if (typeof at !== 'number' || !validInit(f, at)) {
    throw reject(EINVAL, withError(at, `Expected an initialized dynptr as arg #${a.argno}`));
  }
  // mark_dynptr_read
  env.stackLive.markRead(reg.frameno, env.insnIdx, slotMask(at));
  env.scratch.markSlot(at);
  env.scratch.markSlot(at - 1);
  const main = f.stack[at].spilled;
  return { id: main.id, kind: main.dynptrType ?? '', refObjId: main.refObjId };
}

/** mark_stack_slots_dynptr for a kind without a reference: both slots get one fresh id. */
function markDynptrSlots(env: VerifierEnv, f: FuncState, spi: number, kind: string): void {
  const id = ++env.idGen;
  for (let i = 0; i < DYNPTR_NR_SLOTS; i++) {
    const slot = f.stack[spi - i];
    const st = slot.spilled as DynptrReg;
    markPtr(st, RegType.CONST_PTR_TO_DYNPTR);
    st.id = id;
    st.dynptrType = kind;
    st.dynptrFirst = i === 0;
    st.dynptrId ??= id;
    slot.slotType.fill(SlotType.DYNPTR);
    env.scratch.markSlot(spi - i);
  }
  env.stackLive.markWrite(f.frameno, slotMask(spi));
}

/** destroy_if_dynptr_stack_slot: a write into either slot of a dynptr invalidates both (a
 *  referenced dynptr may not be overwritten). */
export function destroyIfDynptrSlot(env: VerifierEnv, f: FuncState, spi: number): void {
  if (spi < 0 || spi >= f.stack.length || f.stack[spi].slotType[0] !== SlotType.DYNPTR) return;
  const main = (f.stack[spi].spilled as DynptrReg).dynptrFirst ? spi : spi + 1;
  if (f.stack[main].spilled.refObjId) throw reject(EINVAL, 'cannot overwrite referenced dynptr');
  // Invalidating both slots counts as writing them (stack liveness), even for a partial store.
  env.stackLive.markWrite(f.frameno, slotMask(main));
  for (const s of [main, main - 1]) {
    const slot = f.stack[s];
    env.scratch.markSlot(s);
    markNotInit(slot.spilled);
    delete (slot.spilled as DynptrReg).dynptrFirst;
    slot.slotType.fill(SlotType.INVALID);
  }
}
