// Spectre v1 defences on pointer arithmetic (no bypass_spec_v1): a pointer may only move
// by an amount the rewrite can mask at run time, and only while it stays inside its object.
//
// Two passes per ADD/SUB on a pointer, as the kernel does them: before the move, the
// masking direction and the room left in the object (alu_limit) are taken from the old
// pointer; after it, the limit is narrowed by how far the pointer actually moved, and that
// is what the rewrite (fixup/nospec.ts) uses. Every path through one insn must agree on the
// masking, else the program is refused. A variable offset also queues a speculative path
// where the offset was masked to 0.

import type { Insn } from '../../isa/insn.ts';
import { BPF_ADD, BPF_SUB, BPF_K, bpfOp, bpfSrc } from '../../isa/opcodes.ts';
import { RegType } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import { isConst, fmtTnum } from '../scalar-api.ts';
import { Reject, reject, EACCES } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { checkMemRegionAccess } from '../checks/mem.ts';
import { checkFieldOverlap } from '../checks/map-fields.ts';
import {
  ALU_IMMEDIATE, ALU_NEG_VALUE, ALU_NON_POINTER, ALU_SANITIZE_DST, ALU_SANITIZE_SRC, setExploreAluLimits, specAux,
} from './aux.ts';
import { pushSpeculativePath } from './speculative.ts';

const MAX_BPF_STACK = 512;
const PROHIBITED = 'pointer arithmetic with it prohibited for !root';

/** Why masking is impossible (sanitize_err's cases). */
export const enum Reason {
  BOUNDS = -1,
  TYPE = -2,
  PATHS = -3,
  LIMIT = -4,
  STACK = -5,
}

/** is_pointer_value: a pointer counts as a leak only without allow_ptr_leaks. */
export const isPointerValue = (env: VerifierEnv, reg: RegState): boolean =>
  !env.allowPtrLeaks && reg.type !== RegType.SCALAR_VALUE;

/** State carried from the first pass to the commit pass of one instruction. */
export interface SanitizeInfo {
  maskToLeft: boolean;
  aluState: number;
  aluLimit: number;
}

export const newSanitizeInfo = (): SanitizeInfo => ({ maskToLeft: false, aluState: 0, aluLimit: 0 });

const sanitizeNeeded = (op: number): boolean => op === BPF_ADD || op === BPF_SUB;
const canSkip = (env: VerifierEnv, insn: Insn): boolean => env.bypassSpecV1 || bpfSrc(insn.code) === BPF_K;

/** retrieve_ptr_limit: bytes the pointer may still move in the masking direction (u32). */
function ptrLimit(ptr: RegState, maskToLeft: boolean): number {
  let max: number;
  let limit: bigint;
  if (ptr.type === RegType.PTR_TO_STACK) {
    // Offset 0 is out of bounds but a fine start when moving left.
    max = MAX_BPF_STACK + (maskToLeft ? 1 : 0);
    limit = -(ptr.s.varOff.value + BigInt(ptr.off));
  } else if (ptr.type === RegType.PTR_TO_MAP_VALUE) {
    max = ptr.map!.def.valueSize;
    limit = (maskToLeft ? ptr.s.smin : ptr.s.umax) + BigInt(ptr.off);
  } else {
    return Reason.TYPE;
  }
  const u = BigInt.asUintN(32, limit);
  if (u >= BigInt(max)) return Reason.LIMIT;
  return Number(u);
}

/** update_alu_sanitation_state: one masking per insn across all paths. */
function recordAluState(env: VerifierEnv, state: number, limit: number): number {
  const a = specAux(env, env.insnIdx);
  if (a.aluState && (a.aluState !== state || a.aluLimit !== limit)) return Reason.PATHS;
  a.aluState = state;
  a.aluLimit = limit;
  return 0;
}

/** sanitize_val_alu: a scalar ADD/SUB by register at an insn that elsewhere moves a pointer. */
export function sanitizeValAlu(env: VerifierEnv, insn: Insn): void {
  if (!sanitizeNeeded(bpfOp(insn.code)) || canSkip(env, insn)) return;
  const r = recordAluState(env, ALU_NON_POINTER, 0);
  if (r < 0) throw sanitizeErr(insn, r, false);
}

/** sanitize_ptr_alu, first pass (before the move): `dst` already holds the pointer copy. */
export function sanitizePtrAlu(env: VerifierEnv, insn: Insn, ptr: RegState, off: RegState, dstIsPtr: boolean, info: SanitizeInfo): void {
  const op = bpfOp(insn.code);
  if (!sanitizeNeeded(op) || canSkip(env, insn)) return;
  const offIsImm = isConst(off.s);
  const offIsNeg = off.s.smin < 0n;
  if (!env.curState.speculative) {
    if (!offIsImm && (off.s.smin < 0n) !== (off.s.smax < 0n)) throw sanitizeErr(insn, Reason.BOUNDS, !dstIsPtr);
    info.maskToLeft = (op === BPF_ADD && offIsNeg) || (op === BPF_SUB && !offIsNeg);
    const limit = ptrLimit(ptr, info.maskToLeft);
    if (limit < 0) throw sanitizeErr(insn, limit, !dstIsPtr);
    info.aluState = (offIsNeg ? ALU_NEG_VALUE : 0) | (offIsImm ? ALU_IMMEDIATE : 0) | (dstIsPtr ? ALU_SANITIZE_SRC : ALU_SANITIZE_DST);
    info.aluLimit = limit;
    if (!offIsImm) setExploreAluLimits(env);
  }
  // A constant offset becomes an immediate in the rewrite: nothing to simulate.
  if (offIsImm) return;
  // The masked-to-zero case: the pointer unmoved at the next insn, speculatively.
  pushSpeculativePath(env, undefined, env.insnIdx + 1, env.insnIdx);
}

/** sanitize_ptr_alu, commit pass (after the move): narrow the limit by the distance moved. */
export function sanitizePtrAluCommit(env: VerifierEnv, insn: Insn, moved: RegState, dstIsPtr: boolean, info: SanitizeInfo): void {
  if (!sanitizeNeeded(bpfOp(insn.code)) || canSkip(env, insn) || env.curState.speculative) return;
  const limit = ptrLimit(moved, info.maskToLeft);
  if (limit < 0) throw sanitizeErr(insn, limit, !dstIsPtr);
  const r = recordAluState(env, info.aluState, Math.abs(info.aluLimit - limit));
  if (r < 0) throw sanitizeErr(insn, r, !dstIsPtr);
}

/** sanitize_err: the message for `reason`; `offIsDst` when the scalar sits in dst. */
function sanitizeErr(insn: Insn, reason: number, offIsDst: boolean): Reject {
  const op = bpfOp(insn.code) === BPF_ADD ? 'add' : 'sub';
  const { dst, src } = insn;
  switch (reason) {
    case Reason.BOUNDS: return reject(EACCES, `R${offIsDst ? dst : src} has unknown scalar with mixed signed bounds, ${PROHIBITED}`);
    case Reason.TYPE: return reject(EACCES, `R${offIsDst ? src : dst} has pointer with unsupported alu operation, ${PROHIBITED}`);
    case Reason.PATHS: return reject(EACCES, `R${dst} tried to ${op} from different maps, paths or scalars, ${PROHIBITED}`);
    case Reason.LIMIT: return reject(EACCES, `R${dst} tried to ${op} beyond pointer bounds, ${PROHIBITED}`);
    default: return reject(EACCES, `R${dst} could not be pushed for speculative verification, ${PROHIBITED}`);
  }
}

/** sanitize_check_bounds: the moved pointer must still point inside its object. */
export function sanitizeCheckBounds(env: VerifierEnv, insn: Insn, dst: RegState): void {
  if (env.bypassSpecV1) return;
  const regno = insn.dst;
  if (dst.type === RegType.PTR_TO_STACK) {
    const off = dst.off + Number(BigInt.asIntN(64, dst.s.varOff.value));
    if (!isConst(dst.s)) {
      throw reject(EACCES, `R${regno} variable stack access prohibited for !root, var_off=${fmtTnum(dst.s.varOff)} off=${off}`);
    }
    if (off >= 0 || off < -MAX_BPF_STACK) {
      throw reject(EACCES, `R${regno} stack pointer arithmetic goes out of range, prohibited for !root; off=${off}`);
    }
  } else if (dst.type === RegType.PTR_TO_MAP_VALUE) {
    try {
      // check_map_access as for a helper: the bounds, then no special field touched.
      checkMemRegionAccess(regno, dst, dst.off, 1, dst.map!.def.valueSize, false);
      checkFieldOverlap(dst.map!.def, dst.s.smin, dst.s.umax, dst.off, 1);
    } catch (e) {
      if (!(e instanceof Reject)) throw e;
      throw reject(EACCES, `${e.text}\nR${regno} pointer arithmetic of map value goes out of range, prohibited for !root`);
    }
  }
}

