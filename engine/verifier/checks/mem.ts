// What must hold for a load or store (check_mem_access and its per-region helpers), and
// what a load yields. Regions: stack (fixed offsets), context, map values, packet.

import { RegType, SlotType, baseType, mayBeNull } from '../state/types.ts';
import type { FuncState, RegState } from '../state/types.ts';
import { markKnown, markNotInit, markPtr, markScalar, markUnknown, isPointer } from '../state/regs.ts';
import { scalarOfSize, isConst, constValue, fmtTnum, regWidth, coerceToSize, coerceToSizeSx, isAlignedWith, S64_MIN } from '../scalar-api.ts';
import { markChainPrecision } from '../precision/backtrack.ts';
import { pushJmpHistory } from '../precision/history.ts';
import { regTypeStr } from '../log/state-print.ts';
import { NotImplementedError } from '../errors.ts';
import { arenaAccess } from './arena.ts';
import { reject, EACCES, EINVAL, EFAULT } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { checkStackWriteUnpriv } from '../unpriv/stack.ts';
import { checkMapPtrAccessUnpriv } from '../unpriv/map-ptr.ts';
import { ctxDeniedUnpriv } from '../unpriv/ctx.ts';
import { ctxAccess } from './ctx.ts';
import { checkSockAccess, isSockPtr } from './sock.ts';
import { checkFieldOverlap } from './map-fields.ts';
import { assignScalarIdBeforeMov, clearScalarId } from './linked-regs.ts';
import { MEM_RDONLY, PTR_UNTRUSTED } from '../state/types.ts';
import { checkPtrToBtfAccess } from './btf-access.ts';
import { checkPtrToMapAccess } from './map-ptr-access.ts';
import { checkBufferAccess } from './buf.ts';
import { checkFlowKeysAccess } from './ctx-misc.ts';
import { structIdByName } from '../btf-types.ts';
import { rodataLoad } from './rodata.ts';
import { destroyIfDynptrSlot } from '../kfunc/dynptr.ts';
import { checkFastcallStackContract } from '../fastcall-contract.ts';

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
  const r: RegState = { type: RegType.NOT_INIT, off: 0, s: scalarOfSize(8), id: 0, refObjId: 0, map: undefined, range: 0, frameno: 0, memSize: 0, precise: false, btfId: 0, subprogno: undefined, dynptrType: undefined };
  markNotInit(r);
  return r;
}

const BPF_MAX_VAR_OFF = 1n << 29n;
const BPF_F_RDONLY_PROG = 1 << 7;
const BPF_F_WRONLY_PROG = 1 << 8;

/** check_ptr_alignment. Stack accesses are always strict (spill tracking needs aligned
 *  slots); other regions only under BPF_F_STRICT_ALIGNMENT (x86-64 has efficient unaligned
 *  access). Packet pointers are checked as if NET_IP_ALIGN were 2. */
export function checkPtrAlignment(env: VerifierEnv, reg: RegState, off: number, size: number, strictOnce: boolean): void {
  let strict = env.strictAlignment || strictOnce;
  let desc = '';
  switch (reg.type) {
    case RegType.PTR_TO_PACKET:
    case RegType.PTR_TO_PACKET_META:
      if (!strict || size === 1) return;
      if (!isAlignedWith(reg.s.varOff, 2 + reg.off + off, size)) {
        throw reject(EACCES, `misaligned packet access off 2+${fmtTnum(reg.s.varOff)}+${reg.off}+${off} size ${size}`);
      }
      return;
    case RegType.PTR_TO_FLOW_KEYS: desc = 'flow keys '; break;
    case RegType.PTR_TO_MAP_KEY: desc = 'key '; break;
    case RegType.PTR_TO_MAP_VALUE: desc = 'value '; break;
    case RegType.PTR_TO_CTX: desc = 'context '; break;
    case RegType.PTR_TO_STACK: desc = 'stack '; strict = true; break;
    case RegType.PTR_TO_SOCKET: desc = 'sock '; break;
    case RegType.PTR_TO_SOCK_COMMON: desc = 'sock_common '; break;
    case RegType.PTR_TO_TCP_SOCK: desc = 'tcp_sock '; break;
    case RegType.PTR_TO_XDP_SOCK: desc = 'xdp_sock '; break;
    case RegType.PTR_TO_ARENA: return;
    default: break;
  }
  if (!strict || size === 1) return;
  if (!isAlignedWith(reg.s.varOff, reg.off + off, size)) {
    throw reject(EACCES, `misaligned ${desc}access off ${fmtTnum(reg.s.varOff)}+${reg.off}+${off} size ${size}`);
  }
}

/** The stack bytes [min, max) an access may touch (check_stack_access_within_bounds); the
 *  frame grows to cover them. `off` includes the pointer's fixed offset. */
export function checkStackAccessWithinBounds(env: VerifierEnv, regno: number, reg: RegState, off: number, size: number, t: Access): { min: number; max: number } {
  // 6.18 names helper accesses by direction too (no more " indirect access to").
  const extra = t === Access.READ ? ' read from' : ' write to';
  let min: bigint;
  let max: bigint;
  const known = isConst(reg.s);
  if (known) {
    min = BigInt.asIntN(64, constValue(reg.s)) + BigInt(off);
    max = min + BigInt(size);
  } else {
    if (reg.s.smax >= BPF_MAX_VAR_OFF || reg.s.smin <= -BPF_MAX_VAR_OFF) {
      throw reject(EACCES, `invalid unbounded variable-offset${extra} stack R${regno}`);
    }
    min = reg.s.smin + BigInt(off);
    max = reg.s.smax + BigInt(off) + BigInt(size);
  }
  // Privileged loads may read uninitialised stack, so reads and writes share the bound;
  // otherwise a read must stay inside the stack allocated so far.
  const lowest = t === Access.WRITE || env.allowUninitStack ? -MAX_BPF_STACK : -frameOf(env, reg).allocatedStack;
  let errno = 0;
  if (min < lowest || min > -1) errno = EACCES;
  else if (max > 0) errno = EINVAL;
  else if (size < 0) errno = EFAULT;
  if (errno) {
    if (known) throw reject(errno, `invalid${extra} stack R${regno} off=${off} size=${size}`);
    throw reject(errno, `invalid variable-offset${extra} stack R${regno} var_off=${fmtTnum(reg.s.varOff)} off=${off} size=${size}`);
  }
  growStack(env, frameOf(env, reg), Number(-min));
  return { min: Number(min), max: Number(max) };
}

/** spis (as a bit mask) covering stack bytes [min, max). */
export function spiMask(min: number, max: number): bigint {
  let m = 0n;
  for (let a = min; a < max; a++) m |= 1n << BigInt((-a - 1) >> 3);
  return m;
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
  checkStackWriteUnpriv(env, st, off, size, reg);
  destroyIfDynptrSlot(env, f, spi);
  checkFastcallStackContract(env, f.subprogno, off);
  let hist = true;
  env.scratch.markSlot(spi);
  // 6.18 stack liveness: only a full slot write kills what was there.
  if (size === 8) env.stackLive.markWrite(f.frameno, 1n << BigInt(spi));
  if (reg && aligned && reg.type === RegType.SCALAR_VALUE && env.bpfCapable) {
    // A scalar spill keeps its value, and stays linked to the register (same id) unless the
    // store narrows it.
    const fits = regWidth(reg.s) <= 8 * size;
    if (fits) assignScalarIdBeforeMov(env, reg);
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
  // 6.18 checks a fixed-offset read against the running function, whatever frame it reads.
  checkFastcallStackContract(env, env.curState.frames[env.curState.curframe].subprogno, off);
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
        if (regWidth(reg.s) > size * 8) clearScalarId(dst);
      } else {
        let spills = 0;
        let zeros = 0;
        for (let i = 0; i < size; i++) {
          const t = st.slotType[(slot - i) & 7];
          if (t === SlotType.SPILL) spills++;
          else if (t === SlotType.ZERO) zeros++;
          else if (t === SlotType.MISC || (t === SlotType.INVALID && env.allowUninitStack)) continue;
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
    if (t === SlotType.INVALID && env.allowUninitStack) continue;
    if (t === SlotType.INVALID) throw reject(EACCES, `invalid read from stack off ${off}+${i} size ${size}`);
    throw new NotImplementedError('stack read of dynptr/iter slots');
  }
  if (!dst) return;
  if (zeros === size) markKnown(dst, 0n);
  else markUnknown(dst);
}

/** check_stack_range_initialized for a direct load, or a helper's read: every byte an
 *  access may touch must hold data (root may read uninitialised bytes). `min`/`max` bound
 *  the first byte (max inclusive); `size` bytes are read from there. */
export function checkStackRangeReadable(env: VerifierEnv, regno: number, reg: RegState, f: FuncState, min: number, max: number, size: number, _helper: boolean): void {
  for (let a = min; a < max + size; a++) {
    const spi = (-a - 1) >> 3;
    const st = f.stack[spi];
    const t = st.slotType[(-a - 1) & 7];
    env.stackLive.markRead(f.frameno, env.insnIdx, 1n << BigInt(spi));
    if (t === SlotType.MISC || t === SlotType.ZERO || (t === SlotType.INVALID && env.allowUninitStack)) continue;
    if (t === SlotType.SPILL && (st.spilled.type === RegType.SCALAR_VALUE || env.allowPtrLeaks)) continue;
    // 6.18 no longer says " indirect" for helper reads.
    if (isConst(reg.s)) throw reject(EACCES, `invalid read from stack R${regno} off ${min}+${a - min} size ${size}`);
    throw reject(EACCES, `invalid read from stack R${regno} var_off ${fmtTnum(reg.s.varOff)}+${a - min} size ${size}`);
  }
}

/** check_stack_read_var_off: a load at an unknown place in [min, max+size): no fill, the
 *  value is zero only if every byte is. */
function stackReadVarOff(env: VerifierEnv, regno: number, reg: RegState, f: FuncState, min: number, max: number, size: number, dst: RegState): void {
  checkStackRangeReadable(env, regno, reg, f, min, max, size, false);
  checkFastcallStackContract(env, f.subprogno, min);
  let zeros = true;
  for (let a = min; a < max + size; a++) {
    const spi = (-a - 1) >> 3;
    env.scratch.markSlot(spi);
    if (f.stack[spi].slotType[(-a - 1) & 7] !== SlotType.ZERO) {
      zeros = false;
      break;
    }
  }
  if (zeros) markKnown(dst, 0n);
  else markUnknown(dst);
}

/** check_stack_write_var_off: any byte of [min, max) may be written, so none keeps a spilled
 *  register (except spilled zeros under a zero store); STACK_ZERO survives a zero store. */
function stackWriteVarOff(env: VerifierEnv, f: FuncState, min: number, max: number, src: StoreSrc): void {
  const writingZero = 'reg' in src
    ? src.reg.type === RegType.SCALAR_VALUE && isConst(src.reg.s) && constValue(src.reg.s) === 0n
    : 'imm' in src && src.imm === 0;
  let zeroUsed = false;
  for (let a = min; a < max; a++) destroyIfDynptrSlot(env, f, (-a - 1) >> 3);
  checkFastcallStackContract(env, f.subprogno, min);
  for (let a = min; a < max; a++) {
    const spi = (-a - 1) >> 3;
    const st = f.stack[spi];
    const i = (-a - 1) & 7;
    env.scratch.markSlot(spi);
    if (writingZero && st.slotType[i] === SlotType.SPILL && st.spilled.type === RegType.SCALAR_VALUE &&
      isConst(st.spilled.s) && constValue(st.spilled.s) === 0n) {
      zeroUsed = true;
      continue;
    }
    // The slot no longer holds a register: spilled / special bytes become plain data.
    markNotInit(st.spilled);
    if (st.slotType.some((x) => x === SlotType.SPILL || x === SlotType.DYNPTR || x === SlotType.ITER || x === SlotType.IRQ_FLAG)) {
      for (let j = 0; j < 8; j++) if (st.slotType[j] !== SlotType.INVALID) st.slotType[j] = SlotType.MISC;
    }
    let type = SlotType.MISC;
    if (writingZero && st.slotType[i] === SlotType.ZERO) {
      type = SlotType.ZERO;
      zeroUsed = true;
    }
    st.slotType[i] = type;
  }
  if (zeroUsed && 'reg' in src) markChainPrecision(env, src.regno);
}

function memRegionName(reg: RegState, memSize: number, off: number, size: number, regno: number): string {
  switch (reg.type) {
    case RegType.PTR_TO_MAP_KEY: return `invalid access to map key, key_size=${memSize} off=${off} size=${size}`;
    case RegType.PTR_TO_MAP_VALUE: return `invalid access to map value, value_size=${memSize} off=${off} size=${size}`;
    case RegType.PTR_TO_PACKET: case RegType.PTR_TO_PACKET_META: case RegType.PTR_TO_PACKET_END:
      return `invalid access to packet, off=${off} size=${size}, R${regno}(id=${reg.id},off=${off},r=${memSize})`;
    default: return `invalid access to memory, mem_size=${memSize} off=${off} size=${size}`;
  }
}

/** __check_mem_access: the message when [off, off+size) leaves [0, memSize). */
function memAccessError(reg: RegState, regno: number, off: bigint, size: number, memSize: number, zeroSizeOk: boolean): string | undefined {
  const sizeOk = size > 0 || (size === 0 && zeroSizeOk);
  // The kernel computes the offset in an int.
  const o = Number(BigInt.asIntN(32, off));
  if (o >= 0 && sizeOk && o + size <= memSize) return undefined;
  return memRegionName(reg, memSize, o, size, regno);
}

/** check_mem_region_access: both ends of a possibly variable offset stay inside the region. */
export function checkMemRegionAccess(regno: number, reg: RegState, off: number, size: number, memSize: number, zeroSizeOk: boolean): void {
  const { smin, umax } = reg.s;
  const o = BigInt(off);
  if (smin < 0n && (smin === S64_MIN || o + smin !== BigInt.asIntN(32, o + smin) || smin + o < 0n)) {
    throw reject(EACCES, `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  }
  const lo = memAccessError(reg, regno, smin + o, size, memSize, zeroSizeOk);
  if (lo) throw reject(EACCES, `${lo}\nR${regno} min value is outside of the allowed memory range`);
  if (umax >= BPF_MAX_VAR_OFF) throw reject(EACCES, `R${regno} unbounded memory access, make sure to bounds check any such access`);
  const hi = memAccessError(reg, regno, umax + o, size, memSize, zeroSizeOk);
  if (hi) throw reject(EACCES, `${hi}\nR${regno} max value is outside of the allowed memory range`);
}

/** check_map_access_type: BPF_F_RDONLY_PROG / BPF_F_WRONLY_PROG maps. */
export function checkMapAccessType(reg: RegState, off: number, size: number, t: Access): void {
  const def = reg.map!.def;
  const flags = def.flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG);
  const canRead = !(flags & BPF_F_WRONLY_PROG) || !!(flags & BPF_F_RDONLY_PROG);
  const canWrite = !(flags & BPF_F_RDONLY_PROG);
  if (t === Access.WRITE && !canWrite) throw reject(EACCES, `write into map forbidden, value_size=${def.valueSize} off=${off} size=${size}`);
  if (t === Access.READ && !canRead) throw reject(EACCES, `read from map forbidden, value_size=${def.valueSize} off=${off} size=${size}`);
}

/** check_packet_access: the fixed offset against the range proven by a comparison with
 *  pkt_end; the variable part must not be negative. */
export function checkPacketAccess(regno: number, reg: RegState, off: number, size: number, zeroSizeOk: boolean): void {
  if (reg.s.smin < 0n) throw reject(EACCES, `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  if (reg.range < 0) throw reject(EINVAL, `R${regno} offset is outside of the packet`);
  const e = memAccessError(reg, regno, BigInt(off), size, reg.range, zeroSizeOk);
  if (e) throw reject(EACCES, `${e}\nR${regno} offset is outside of the packet`);
}

/** may_access_direct_pkt_data for loads and stores (helpers are not modelled here). */
function mayWritePacket(progType: string): boolean {
  return ['SCHED_CLS', 'SCHED_ACT', 'XDP', 'LWT_XMIT', 'SK_SKB', 'SK_MSG', 'CGROUP_SOCKOPT'].includes(progType);
}

/** check_mem_access: `regno` + `off` is accessed with `size` bytes. For a read, `dst` gets
 *  the loaded value; for a write, `src` says what is stored. `strictOnce`: this access is
 *  alignment-checked even without BPF_F_STRICT_ALIGNMENT (atomics). */
export function checkMemAccess(env: VerifierEnv, regno: number, off: number, size: number, t: Access, dst: RegState | undefined, src: StoreSrc | undefined, signExtend = false, strictOnce = false): void {
  const reg = env.curState.frames[env.curState.curframe].regs[regno];
  const base = baseType(reg.type);
  const leaks = (where: string): void => {
    if (t === Access.WRITE && src && 'reg' in src && isPointer(src.reg) && !env.allowPtrLeaks) throw reject(EACCES, `R${src.regno} leaks addr into ${where}`);
  };
  checkPtrAlignment(env, reg, off, size, strictOnce);
  const o = off + reg.off;
  if (reg.type === RegType.PTR_TO_STACK) {
    const { min, max } = checkStackAccessWithinBounds(env, regno, reg, o, size, t);
    const f = frameOf(env, reg);
    if (isConst(reg.s)) {
      const fixed = o + Number(BigInt.asIntN(64, constValue(reg.s)));
      if (t === Access.WRITE) stackWrite(env, f, fixed, size, src!, regno);
      else stackRead(env, f, fixed, size, dst);
    } else if (t === Access.WRITE) {
      stackWriteVarOff(env, f, min, max, src!);
    } else {
      if (!dst) {
        throw reject(EACCES, `variable offset stack pointer cannot be passed into helper function; var_off=${fmtTnum(reg.s.varOff)} off=${o} size=${size}`);
      }
      stackReadVarOff(env, regno, reg, f, min, max - size, size, dst);
    }
  } else if (reg.type === RegType.PTR_TO_MAP_VALUE) {
    leaks('map');
    checkMapAccessType(reg, o, size, t);
    checkMemRegionAccess(regno, reg, o, size, reg.map!.def.valueSize, false);
    checkFieldOverlap(reg.map!.def, reg.s.smin, reg.s.umax, o, size);
    if (dst) {
      // Read-only global data is read now (checks/rodata.ts).
      const v = t === Access.READ ? rodataLoad(reg, o, size, signExtend) : undefined;
      if (v !== undefined) markKnown(dst, v);
      else markUnknown(dst);
    }
  } else if (reg.type === RegType.PTR_TO_MAP_KEY) {
    if (t === Access.WRITE) throw reject(EACCES, `write to change key R${regno} not allowed`);
    checkMemRegionAccess(regno, reg, o, size, reg.map!.def.keySize, false);
    if (dst) markUnknown(dst);
  } else if (reg.type === RegType.PTR_TO_CTX) {
    leaks('ctx');
    if (reg.off < 0) throw reject(EACCES, `negative offset ctx ptr R${regno} off=${reg.off} disallowed`);
    if (reg.off !== 0) throw reject(EACCES, `dereference of modified ctx ptr R${regno} off=${reg.off} disallowed`);
    if (!isConst(reg.s) || constValue(reg.s) !== 0n) throw reject(EACCES, `variable ctx access var_off=${fmtTnum(reg.s.varOff)} disallowed`);
    const a = ctxDeniedUnpriv(env, o, t === Access.WRITE) ? undefined : ctxAccess(env.prog, o, size, t === Access.WRITE, signExtend, (line) => env.log.verbose(line));
    if (!a) throw reject(EACCES, `invalid bpf_context access off=${o} size=${size}`);
    if (dst) {
      if (a.regType === RegType.SCALAR_VALUE) markUnknown(dst);
      else {
        markPtr(dst, a.regType);
        dst.id = mayBeNull(a.regType) ? ++env.idGen : 0;
        if (a.btfId) dst.btfId = a.btfId;
        else if (a.btfStruct) dst.btfId = structIdByName(a.btfStruct);
      }
    }
  } else if (base === RegType.PTR_TO_PACKET || base === RegType.PTR_TO_PACKET_META) {
    if (t === Access.WRITE && !mayWritePacket(env.prog.progType)) throw reject(EACCES, 'cannot write into packet');
    leaks('packet');
    checkPacketAccess(regno, reg, o, size, false);
    if (dst) markUnknown(dst);
  } else if (reg.type === RegType.PTR_TO_BUF || reg.type === (RegType.PTR_TO_BUF | MEM_RDONLY)) {
    checkBufferAccess(regno, reg, o, size, t === Access.WRITE);
    if (dst) markUnknown(dst);
  } else if (reg.type === RegType.CONST_PTR_TO_MAP && !env.allowPtrLeaks && reg.map) {
    checkMapPtrAccessUnpriv(env, reg.map.def);
    throw reject(EACCES, `R${regno} invalid mem access '${regTypeStr(reg.type)}'`);
  } else if (reg.type === RegType.PTR_TO_FLOW_KEYS) {
    leaks('flow keys');
    checkFlowKeysAccess(o, size);
    if (dst) markUnknown(dst);
  } else if (reg.type === RegType.CONST_PTR_TO_MAP && reg.map) {
    checkPtrToMapAccess(env, regno, reg, o, size, t, dst);
  } else if (reg.type === RegType.SCALAR_VALUE || mayBeNull(reg.type) || base === RegType.CONST_PTR_TO_MAP || base === RegType.PTR_TO_PACKET_END) {
    throw reject(EACCES, `R${regno} invalid mem access '${regTypeStr(reg.type)}'`);
  } else if (base === RegType.PTR_TO_BTF_ID) {
    checkPtrToBtfAccess(env, regno, reg, o, size, t, dst);
  } else if (isSockPtr(reg.type)) {
    checkSockAccess(reg, regno, o, size, t === Access.WRITE);
    if (dst) markUnknown(dst);
  } else if (base === RegType.PTR_TO_MEM) {
    if (t === Access.WRITE && reg.type & MEM_RDONLY) throw reject(EACCES, `R${regno} cannot write into ${regTypeStr(reg.type)}`);
    leaks('mem');
    // 6.18: read-only untrusted memory (bpf_rdonly_cast to void) is read with probe loads.
    if (!(reg.type & MEM_RDONLY && reg.type & PTR_UNTRUSTED)) checkMemRegionAccess(regno, reg, o, size, reg.memSize, false);
    if (dst) markUnknown(dst);
  } else if (reg.type === RegType.PTR_TO_ARENA) {
    arenaAccess(dst);
  } else {
    throw new NotImplementedError(`memory access through ${regTypeStr(reg.type)}`);
  }
  // Narrow loads zero-extend (sign-extend for BPF_MEMSX).
  if (dst && t === Access.READ && dst.type === RegType.SCALAR_VALUE && size < 8) {
    dst.s = signExtend ? coerceToSizeSx(dst.s, size) : coerceToSize(dst.s, size);
  }
}
