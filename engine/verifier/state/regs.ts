// Constructors and in-place markers for register and frame states (mark_reg_unknown,
// mark_reg_not_init, __mark_reg_known, init_func_state).

import { MAX_BPF_REG, BPF_REG_FP } from '../../isa/opcodes.ts';
import { scalarConst, scalarUnknown } from '../scalar-api.ts';
import type { ScalarBounds } from '../scalar-api.ts';
import { RegType } from './types.ts';
import type { FuncState, RegState, VerifierState } from './types.ts';

const ZERO = scalarConst(0n);

// Every register object carries every field (optional ones as undefined), in one order: one
// hidden class for all of them keeps the hot property reads (pruning, copies) monomorphic.
export function newReg(): RegState {
  return {
    type: RegType.NOT_INIT, off: 0, s: scalarUnknown(), id: 0, refObjId: 0, map: undefined, range: 0, frameno: 0, memSize: 0, precise: false,
    btfId: 0, subprogno: undefined, dynptrType: undefined,
  };
}

/** Forget everything but keep the object (the kernel zeroes the struct). Fields are reset,
 *  never deleted: a delete would turn the object into a slow dictionary. */
function clear(r: RegState): void {
  r.off = 0;
  r.id = 0;
  r.refObjId = 0;
  r.map = undefined;
  r.range = 0;
  r.frameno = 0;
  r.memSize = 0;
  r.precise = false;
  r.btfId = 0;
  r.subprogno = undefined;
  r.dynptrType = undefined;
}

export function markNotInit(r: RegState): void {
  clear(r);
  r.type = RegType.NOT_INIT;
  r.s = scalarUnknown();
}

/** An unknown scalar. 6.18 marks it precise when the program is unprivileged... not modelled:
 *  privileged loads keep `precise` false here. */
export function markUnknown(r: RegState): void {
  clear(r);
  r.type = RegType.SCALAR_VALUE;
  r.s = scalarUnknown();
}

export function markScalar(r: RegState, s: ScalarBounds): void {
  clear(r);
  r.type = RegType.SCALAR_VALUE;
  r.s = s;
}

export function markKnown(r: RegState, v: bigint): void {
  markScalar(r, scalarConst(v));
}

/** A pointer of `type` at offset 0 with no variable part. */
export function markPtr(r: RegState, type: number): void {
  clear(r);
  r.type = type;
  r.s = ZERO;
}

export function newFuncState(frameno: number, callsite: number, subprogno: number): FuncState {
  const regs: RegState[] = [];
  for (let i = 0; i < MAX_BPF_REG; i++) regs.push(newReg());
  const f: FuncState = { regs, frameno, callsite, subprogno, stack: [], allocatedStack: 0, stackArgs: [], noStackArgLoad: false };
  markPtr(regs[BPF_REG_FP], RegType.PTR_TO_STACK);
  regs[BPF_REG_FP].frameno = frameno;
  return f;
}

export function newVerifierState(): VerifierState {
  return {
    frames: [newFuncState(0, -1, 0)], curframe: 0, refs: [], branches: 1, insnIdx: 0, mayGotoDepth: 0, callbackUnrollDepth: 0, speculative: false,
    parent: undefined, firstInsnIdx: 0, lastInsnIdx: -1, jmpHistory: [], cleaned: false,
  };
}

export const isPointer = (r: RegState): boolean => r.type !== RegType.SCALAR_VALUE && r.type !== RegType.NOT_INIT;
