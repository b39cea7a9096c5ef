// What must hold for a load or store (check_mem_access and its per-region helpers), and
// what a load yields. Regions: stack (fixed offsets), context, map values, packet.

import { RegType, SlotType, baseType } from '../state/types.ts';
import type { FuncState, RegState } from '../state/types.ts';
import { markKnown, markNotInit, markPtr, markScalar, markUnknown, isPointer } from '../state/regs.ts';
import { scalarOfSize, isConst, constValue, fmtTnum, regWidth, coerceToSize, coerceToSizeSx } from '../scalar-api.ts';
import { markChainPrecision } from '../precision/backtrack.ts';
import { pushJmpHistory } from '../precision/history.ts';
import { regTypeStr } from '../log/state-print.ts';
import { NotImplementedError } from '../errors.ts';
import { reject, EACCES, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { ctxAccess } from './ctx.ts';

export const MAX_BPF_STACK = 512;

export const enum Access {
  READ,
  WRITE,
}

/** Where the value of a store comes from: a register, or an immediate (BPF_ST). */
export type StoreSrc = { readonly reg: RegState; readonly regno: number } | { readonly imm: number } | { readonly unknown: true };

const frameOf = (env: VerifierEnv, reg: RegState): FuncState => env.curState.frames[reg.frameno];

function growStack(env: VerifierEnv, f: FuncState, size: number): void {
  const bytes = Math.ceil(size / 8) * 8;
  while (f.allocatedStack < bytes) {
    f.stack.push({ slotType: new Uint8Array(8), spilled: newSpill() });
    f.allocatedStack += 8;
  }
  const sp = env.subprogs[f.subprogno];
  if (sp.stackDepth < bytes) sp.stackDepth = bytes;
}

function newSpill(): RegState {
  const r: RegState = { type: RegType.NOT_INIT, off: 0, s: scalarOfSize(8), id: 0, refObjId: 0, map: undefined, range: 0, frameno: 0, memSize: 0, precise: false };
  markNotInit(r);
  return r;
}

/** check_ptr_alignment for the regions that are always strict (stack). */
function checkStackAlignment(reg: RegState, off: number, size: number): void {
  const total = BigInt.asIntN(64, reg.s.varOff.value) + BigInt(reg.off + off);
  if (isConst(reg.s) && total % BigInt(size) !== 0n) {
    throw reject(EACCES, `misaligned stack access off ${fmtTnum(reg.s.varOff)}+${reg.off}+${off} size ${size}`);
  }
  if (!isConst(reg.s)) throw new NotImplementedError('variable-offset stack access');
}

function checkStackBounds(regno: number, reg: RegState, off: number, size: number, t: Access): number {
  if (!isConst(reg.s)) throw new NotImplementedError('variable-offset stack access');
  const minOff = Number(BigInt.asIntN(64, constValue(reg.s))) + off;
  const what = t === Access.READ ? ' read from' : ' write to';
  if (minOff < -MAX_BPF_STACK || minOff > -1) throw reject(EACCES, `invalid${what} stack R${regno} off=${off} size=${size}`);
  if (minOff + size > 0) throw reject(EINVAL, `invalid${what} stack R${regno} off=${off} size=${size}`);
  return minOff;
}

const isSpilled = (types: Uint8Array): boolean => types[7] === SlotType.SPILL;

/** The stack slot an insn spilled to / filled from, for backtracking. */
const stackFlags = (f: FuncState, spi: number): { frameno: number; spi: number } => ({ frameno: f.frameno, spi });

/** mark_stack_slot_misc: keep ZERO (more precise) and INVALID (equivalent for root). */
function slotMisc(types: Uint8Array, i: number): void {
  if (types[i] === SlotType.ZERO || types[i] === SlotType.INVALID) return;
  types[i] = SlotType.MISC;
}

/** check_stack_write_fixed_off. `regno` is the stored register, -1 for BPF_ST. */
function stackWrite(env: VerifierEnv, f: FuncState, off: number, size: number, src: StoreSrc, ptrRegno: number): void {
  growStack(env, f, -off);
  const spi = (-off - 1) >> 3;
  const slot = -off - 1;
  const st = f.stack[spi];
  const aligned = off % 8 === 0;
  const reg = 'reg' in src ? src.reg : undefined;
  let hist = true;
  env.scratch.markSlot(spi);
  // 6.18 stack liveness: only a full slot write kills what was there.
  if (size === 8) env.stackLive.markWrite(f.frameno, 1n << BigInt(spi));
  if (reg && aligned && reg.type === RegType.SCALAR_VALUE && env.bpfCapable) {
    // A scalar spill keeps its value, and stays linked to the register (same id) unless the
    // store narrows it.
    const fits = regWidth(reg.s) <= 8 * size;
    if (fits && !reg.id && !isConst(reg.s)) reg.id = ++env.idGen;
    saveRegister(st, reg, size);
    if (!fits) st.spilled.id = 0;
  } else if ('imm' in src && aligned && env.bpfCapable) {
    const fake = newSpill();
    markKnown(fake, BigInt((src as { imm: number }).imm));
    saveRegister(st, fake, size);
  } else if (reg && isPointer(reg)) {
    if (size !== 8) throw reject(EACCES, 'invalid size of register spill');
    if (f !== env.curState.frames[env.curState.curframe] && reg.type === RegType.PTR_TO_STACK) {
      throw reject(EINVAL, 'cannot spill pointers to stack into stack frame of the caller');
    }
    saveRegister(st, reg, size);
  } else {
    markNotInit(st.spilled);
    if (st.slotType.some((t) => t === SlotType.SPILL || t === SlotType.DYNPTR || t === SlotType.ITER)) {
      for (let i = 0; i < 8; i++) if (st.slotType[i] !== SlotType.ZERO && st.slotType[i] !== SlotType.INVALID) st.slotType[i] = SlotType.MISC;
    }
    const zero = reg ? reg.type === RegType.SCALAR_VALUE && isConst(reg.s) && constValue(reg.s) === 0n : 'imm' in src && src.imm === 0;
    // STACK_ZERO from a register only holds if that register stays exactly zero.
    if (zero && 'reg' in src) markChainPrecision(env, src.regno);
    const type = zero ? SlotType.ZERO : SlotType.MISC;
    for (let i = 0; i < size; i++) st.slotType[(slot - i) & 7] = type;
    hist = false;
  }
  void ptrRegno;
  if (hist) pushJmpHistory(env, env.curState, stackFlags(f, spi));
}

function saveRegister(st: { slotType: Uint8Array; spilled: RegState }, reg: RegState, size: number): void {
  st.spilled = { ...reg };
  for (let i = 8; i > 8 - size; i--) st.slotType[i - 1] = SlotType.SPILL;
  for (let i = 8 - size; i > 0; i--) slotMisc(st.slotType, i - 1);
}

/** check_stack_read_fixed_off. */
function stackRead(env: VerifierEnv, f: FuncState, off: number, size: number, dst: RegState | undefined): void {
  const spi = (-off - 1) >> 3;
  const slot = -off - 1;
  const st = spi < f.stack.length ? f.stack[spi] : undefined;
  env.scratch.markSlot(spi);
  env.stackLive.markRead(f.frameno, env.insnIdx, 1n << BigInt(spi));
  if (st && isSpilled(st.slotType)) {
    let spillSize = 1;
    for (let i = 7; i > 0 && st.slotType[i - 1] === SlotType.SPILL; i--) spillSize++;
    const reg = st.spilled;
    if (size !== 8 || spillSize !== 8) {
      if (reg.type !== RegType.SCALAR_VALUE) throw reject(EACCES, 'invalid size of register fill');
      if (!dst) return;
      if (size <= spillSize && off % 8 === 0) {
        // The low bytes of a spilled scalar: its value, narrowed by the caller.
        Object.assign(dst, reg);
        if (regWidth(reg.s) > size * 8) dst.id = 0;
      } else {
        let spills = 0;
        let zeros = 0;
        for (let i = 0; i < size; i++) {
          const t = st.slotType[(slot - i) & 7];
          if (t === SlotType.SPILL) spills++;
          else if (t === SlotType.ZERO) zeros++;
          else if (t === SlotType.MISC || (t === SlotType.INVALID && env.bpfCapable)) continue;
          else throw reject(EACCES, `invalid read from stack off ${off}+${i} size ${size}`);
        }
        if (spills === size && isConst(reg.s) && constValue(reg.s) === 0n) {
          markKnown(dst, 0n);
        } else {
          if (zeros === size) markKnown(dst, 0n);
          else markUnknown(dst);
          return; // not a register fill: no history entry
        }
      }
      pushJmpHistory(env, env.curState, stackFlags(f, spi));
      return;
    }
    if (dst) Object.assign(dst, reg);
    else if (isPointer(reg) && !env.allowPtrLeaks) throw reject(EACCES, `leaking pointer from stack off ${off}`);
    pushJmpHistory(env, env.curState, stackFlags(f, spi));
    return;
  }
  let zeros = 0;
  for (let i = 0; i < size; i++) {
    const t = st ? st.slotType[(slot - i) & 7] : SlotType.INVALID;
    if (t === SlotType.MISC) continue;
    if (t === SlotType.ZERO) {
      zeros++;
      continue;
    }
    if (t === SlotType.INVALID && env.allowPtrLeaks) continue;
    if (t === SlotType.INVALID) throw reject(EACCES, `invalid read from stack off ${off}+${i} size ${size}`);
    throw new NotImplementedError('stack read of dynptr/iter slots');
  }
  if (!dst) return;
  if (zeros === size) markKnown(dst, 0n);
  else markUnknown(dst);
}

function checkMapValueAccess(regno: number, reg: RegState, off: number, size: number): void {
  const vs = reg.map!.def.valueSize;
  if (!isConst(reg.s)) throw new NotImplementedError('variable-offset map value access');
  const o = Number(BigInt.asIntN(64, constValue(reg.s))) + off;
  if (o < 0 || o + size > vs) {
    throw reject(EACCES, `invalid access to map value, value_size=${vs} off=${o} size=${size}\nR${regno} min value is outside of the allowed memory range`);
  }
}

function checkPacketAccess(regno: number, reg: RegState, off: number, size: number): void {
  if (!isConst(reg.s)) throw new NotImplementedError('variable-offset packet access');
  const o = off; // reg.off already included by the caller
  if (o < 0 || o + size > reg.range) {
    throw reject(EACCES, `invalid access to packet, off=${o - reg.off} size=${size}, R${regno}(id=${reg.id},off=${o - reg.off},r=${reg.range})\nR${regno} offset is outside of the packet`);
  }
}

/** check_mem_access: `regno` + `off` is accessed with `size` bytes. For a read, `dst` gets
 *  the loaded value; for a write, `src` says what is stored. */
export function checkMemAccess(env: VerifierEnv, regno: number, off: number, size: number, t: Access, dst: RegState | undefined, src: StoreSrc | undefined, signExtend = false): void {
  const reg = env.curState.frames[env.curState.curframe].regs[regno];
  const base = baseType(reg.type);
  if (reg.type === RegType.PTR_TO_STACK) {
    checkStackAlignment(reg, off, size);
    const f = frameOf(env, reg);
    const o = checkStackBounds(regno, reg, off + reg.off, size, t);
    if (t === Access.WRITE) stackWrite(env, f, o, size, src!, regno);
    else stackRead(env, f, o, size, dst);
  } else if (reg.type === RegType.PTR_TO_MAP_VALUE) {
    if (t === Access.WRITE && src && 'reg' in src && isPointer(src.reg) && !env.allowPtrLeaks) throw reject(EACCES, `R${src.regno} leaks addr into map`);
    checkMapValueAccess(regno, reg, off + reg.off, size);
    if (dst) markUnknown(dst);
  } else if (reg.type === RegType.PTR_TO_CTX) {
    if (t === Access.WRITE && src && 'reg' in src && isPointer(src.reg) && !env.allowPtrLeaks) throw reject(EACCES, `R${src.regno} leaks addr into ctx`);
    if (reg.off !== 0) throw reject(EACCES, `dereference of modified ctx ptr R${regno} off=${reg.off} disallowed`);
    if (!isConst(reg.s)) throw reject(EACCES, `variable ctx access var_off=${fmtTnum(reg.s.varOff)} disallowed`);
    const o = off + reg.off;
    const a = ctxAccess(env.prog.progType, o, size, t === Access.WRITE);
    if (!a) throw reject(EACCES, `invalid bpf_context access off=${o} size=${size}`);
    if (dst) {
      if (a.regType === RegType.SCALAR_VALUE) markUnknown(dst);
      else {
        markPtr(dst, a.regType);
        dst.id = 0;
      }
    }
  } else if (base === RegType.PTR_TO_PACKET || base === RegType.PTR_TO_PACKET_META) {
    if (t === Access.WRITE && src && 'reg' in src && isPointer(src.reg) && !env.allowPtrLeaks) throw reject(EACCES, `R${src.regno} leaks addr into packet`);
    checkPacketAccess(regno, reg, off + reg.off, size);
    if (dst) markUnknown(dst);
  } else if (reg.type === RegType.SCALAR_VALUE || base === RegType.PTR_TO_MAP_VALUE || base === RegType.CONST_PTR_TO_MAP || base === RegType.PTR_TO_PACKET_END) {
    throw reject(EACCES, `R${regno} invalid mem access '${regTypeStr(reg.type)}'`);
  } else {
    throw new NotImplementedError(`memory access through ${regTypeStr(reg.type)}`);
  }
  // Narrow loads zero-extend (sign-extend for BPF_MEMSX).
  if (dst && t === Access.READ && dst.type === RegType.SCALAR_VALUE && size < 8) {
    dst.s = signExtend ? coerceToSizeSx(dst.s, size) : coerceToSize(dst.s, size);
  }
}
