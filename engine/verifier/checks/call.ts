// Calls and returns: helper calls against their prototypes (check_helper_call), bpf-to-bpf
// calls (check_func_call / prepare_func_exit) and the program's return value
// (check_return_code).

import { invalidScalarText } from '../log/invalid-scalar.ts';
import type { Insn } from '../../isa/insn.ts';
import { BPF_REG_0, BPF_REG_FP } from '../../isa/opcodes.ts';
import { HELPER_NAMES } from '../../isa/helpers.ts';
import { RegType, PTR_MAYBE_NULL, MEM_RDONLY, MEM_RINGBUF, BASE_TYPE_MASK, baseType, cloneReg } from '../state/types.ts';
import type { MapRef, RegState } from '../state/types.ts';
import { markNotInit, markUnknown, markPtr, newFuncState, isPointer } from '../state/regs.ts';
import { isConst, constValue, fmtTnum, boundedScalar } from '../scalar-api.ts';
import { printVerifierState, regTypeStr } from '../log/state-print.ts';
import { NotImplementedError } from '../errors.ts';
import { reject, EACCES, EINVAL, E2BIG } from '../reject.ts';
import { PROG_FLAGS } from '../../program/types.ts';
import { machineNrCpuIds } from '../machine.ts';
import type { VerifierEnv } from '../env.ts';
import { changesPktData, clearAllPktPointers } from '../helpers/pkt.ts';
import { Arg, Ret, helperProto, helperAllowed } from '../helpers/protos.ts';
import type { HelperProto } from '../helpers/protos.ts';
import { checkRegRead } from './regs.ts';
import { structIdByName, btfTypeName, kernelBtf } from '../btf-types.ts';
import { btfStructIdsMatch } from '../btf-walk.ts';
import { markChainPrecision, markChainPrecisionFrom } from '../precision/backtrack.ts';
import { Access, checkMemAccess, checkMemRegionAccess, checkMapAccessType, checkPacketAccess, checkStackAccessWithinBounds, checkStackRangeReadable, checkPtrAlignment } from './mem.ts';
import { SlotType, PTR_TRUSTED } from '../state/types.ts';
import { afterCall, afterSubprogReturn, beforeSubprogCall } from '../stack-arg/calls.ts';
import { clearStackArgPktPointers } from '../stack-arg/facts.ts';
import { checkGlobalCall } from '../calls/global.ts';
import { checkCallbackReturn, helperCallback, widenAfterCallback } from '../calls/callback.ts';
import { checkRegTypeOf, checkFuncArgRegOff } from '../helpers/arg-types.ts';
import { checkMapFuncCompatibility } from '../helpers/map-compat.ts';
import { acquireReference, releaseReference, checkResourceLeak } from './refs.ts';
import { processSpinLock, checkCallInLock } from './spin-lock.ts';
import { processTimerFunc, checkTimerMapMatch } from '../calls/timer.ts';
import { checkFieldOverlap, fieldOf } from './map-fields.ts';
import { tracingRetval } from './attach-target.ts';
import { checkBufferAccess } from './buf.ts';

const MAX_CALL_FRAMES = 8;
const CALLER_SAVED = [1, 2, 3, 4, 5];

/** license_is_gpl_compatible. */
const isGplCompatible = (l: string): boolean =>
  ['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL'].includes(l);

const helperName = (id: number): string => (id > 0 && id < HELPER_NAMES.length ? HELPER_NAMES[id] : 'unknown');

const MAX_VAR_SIZ = 1n << 29n;

/** The kernel's list of register types a memory argument accepts (mem_types). */
const MEM_TYPES = 'fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_';
const MEM_BASES = new Set<number>([RegType.PTR_TO_STACK, RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META, RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MEM, RegType.PTR_TO_BUF]);

/** What a call learnt from its arguments (bpf_call_arg_meta, the parts modelled). */
export interface CallMeta {
  map: MapRef | undefined;
  /** The key, when the stack holds a known constant (6.18 const_map_key), else -1. */
  constKey: bigint;
  /** A raw-mode (uninitialised) stack buffer: written byte by byte after the arguments. */
  rawRegno: number;
  rawSize: number;
  /** The reference an argument carries (one at most), and the register a release frees. */
  refObjId: number;
  releaseRegno: number;
  /** CONST_ALLOC_SIZE_OR_ZERO: the size of the memory returned. */
  allocSize: number;
  /** ARG_PTR_TO_FUNC: the callback's subprog. */
  subprogno?: number;
  /** The largest size a size argument allows (msize_max_value). */
  msizeMax?: bigint;
}

/** check_helper_mem_access: `size` bytes at the pointer in `regno`. */
export function checkHelperMemAccess(env: VerifierEnv, regno: number, size: number, t: Access, zeroSizeOk: boolean, meta: CallMeta | undefined, raw: boolean): void {
  const reg = env.curState.frames[env.curState.curframe].regs[regno];
  switch (baseType(reg.type)) {
    case RegType.PTR_TO_PACKET:
    case RegType.PTR_TO_PACKET_META:
      checkPacketAccess(regno, reg, reg.off, size, zeroSizeOk);
      return;
    case RegType.PTR_TO_MAP_KEY:
      if (t === Access.WRITE) throw reject(EACCES, `R${regno} cannot write into ${regTypeStr(reg.type)}`);
      checkMemRegionAccess(regno, reg, reg.off, size, reg.map!.def.keySize, false);
      return;
    case RegType.PTR_TO_MAP_VALUE:
      checkMapAccessType(reg, reg.off, size, t);
      checkMemRegionAccess(regno, reg, reg.off, size, reg.map!.def.valueSize, zeroSizeOk);
      checkFieldOverlap(reg.map!.def, reg.s.smin, reg.s.umax, reg.off, size);
      return;
    case RegType.PTR_TO_MEM:
      if ((reg.type & MEM_RDONLY) && t === Access.WRITE) throw reject(EACCES, `R${regno} cannot write into ${regTypeStr(reg.type)}`);
      checkMemRegionAccess(regno, reg, reg.off, size, reg.memSize, zeroSizeOk);
      return;
    case RegType.PTR_TO_STACK:
      checkHelperStackAccess(env, regno, reg, size, t, zeroSizeOk, meta, raw);
      return;
    case RegType.PTR_TO_BUF:
      checkBufferAccess(regno, reg, reg.off, size, t === Access.WRITE);
      return;
    default:
      if (zeroSizeOk && size === 0 && reg.type === RegType.SCALAR_VALUE && isConst(reg.s) && constValue(reg.s) === 0n) return;
      throw reject(EACCES, `R${regno} type=${regTypeStr(reg.type)} expected=fp`);
  }
}

/** check_stack_range_initialized for a helper: bounds by direction, then (unless the helper
 *  fills an uninitialised buffer) every byte must hold data; a writing helper leaves
 *  unknown data behind. */
function checkHelperStackAccess(env: VerifierEnv, regno: number, reg: RegState, size: number, t: Access, zeroSizeOk: boolean, meta: CallMeta | undefined, raw: boolean): void {
  if (size === 0 && !zeroSizeOk) throw reject(EACCES, 'invalid zero-sized read');
  const { min, max } = checkStackAccessWithinBounds(env, regno, reg, reg.off, size, t);
  const f = env.curState.frames[reg.frameno];
  // A variable offset buffer must be initialised: its written part is unknown.
  if (raw && meta && isConst(reg.s)) {
    meta.rawRegno = regno;
    meta.rawSize = size;
    return;
  }
  const first = min;
  const last = max - size;
  checkStackRangeReadable(env, regno, reg, f, first, last, size, true);
  // 6.18: only a helper that writes the buffer clobbers what it held.
  if (t !== Access.WRITE) return;
  for (let a = first; a < last + size; a++) {
    const spi = (-a - 1) >> 3;
    const st = f.stack[spi];
    const i = (-a - 1) & 7;
    const ty = st.slotType[i];
    if (ty === SlotType.ZERO || ty === SlotType.INVALID) st.slotType[i] = SlotType.MISC;
    else if (ty === SlotType.SPILL) {
      markUnknown(st.spilled);
      for (let j = 0; j < 8; j++) if (st.slotType[j] !== SlotType.INVALID) st.slotType[j] = SlotType.MISC;
    }
  }
}

/** check_mem_size_reg: the size argument bounds the access through the previous argument. */
export function checkMemSizeReg(env: VerifierEnv, regno: number, t: Access, zeroSizeOk: boolean, meta: CallMeta, raw: boolean): void {
  const reg = env.curState.frames[env.curState.curframe].regs[regno];
  meta.msizeMax = reg.s.umax;
  // A variable size cannot fill an uninitialised buffer: it must be initialised.
  const rawOk = raw && isConst(reg.s);
  if (reg.s.smin < 0n) throw reject(EACCES, `R${regno} min value is negative, either use unsigned or 'var &= const'`);
  if (reg.s.umin === 0n && !zeroSizeOk) {
    throw reject(EACCES, `R${regno} invalid zero-sized read: u64=[${BigInt.asIntN(64, reg.s.umin)},${BigInt.asIntN(64, reg.s.umax)}]`);
  }
  if (reg.s.umax >= MAX_VAR_SIZ) throw reject(EACCES, `R${regno} unbounded memory access, use 'var &= const' or 'if (var < const)'`);
  checkHelperMemAccess(env, regno - 1, Number(reg.s.umax), t, zeroSizeOk, meta, rawOk);
  markChainPrecision(env, regno);
}

/** 6.18 get_constant_map_key: the key bytes on the stack are STACK_ZERO, or one spilled
 *  constant of exactly the key's size. Undefined when not known. */
function constantMapKey(env: VerifierEnv, reg: RegState, size: number): bigint | undefined {
  if (!env.bpfCapable || reg.type !== RegType.PTR_TO_STACK || !isConst(reg.s)) return undefined;
  const stackOff = Number(BigInt.asIntN(64, constValue(reg.s))) + reg.off;
  const slot = -stackOff - 1;
  const spi = slot >> 3;
  const f = env.curState.frames[reg.frameno];
  const types = f.stack[spi].slotType;
  let zeros = 0;
  for (let i = slot & 7; i >= 0 && types[i] === SlotType.ZERO; i--) zeros++;
  if (zeros >= size) return 0n;
  const spilled = f.stack[spi].spilled;
  if (types[7] !== SlotType.SPILL || spilled.type !== RegType.SCALAR_VALUE) return undefined;
  let spill = 0;
  for (let i = slot & 7; i >= 0 && types[i] === SlotType.SPILL; i--) spill++;
  if (spill !== size || !isConst(spilled.s)) return undefined;
  // The verdict now rests on that value: it must be precise.
  env.bt.setSlot(spi, reg.frameno);
  markChainPrecisionFrom(env, env.curState, -1);
  return constValue(spilled.s);
}

/** Map types where a lookup with an in-range constant key cannot fail. */
const elidesNullness = (m: MapRef): boolean => m.def.type === 'ARRAY' || m.def.type === 'PERCPU_ARRAY';
const SIMPLE_MAPS = new Set(['HASH', 'ARRAY', 'PERCPU_HASH', 'PERCPU_ARRAY', 'LRU_HASH', 'LRU_PERCPU_HASH']);
/** Map types whose helper calls are modelled (what the call returns included). */
const HELPER_MAPS = new Set([...SIMPLE_MAPS, 'PROG_ARRAY', 'RINGBUF', 'USER_RINGBUF', 'CGROUP_STORAGE', 'PERCPU_CGROUP_STORAGE', 'SOCKMAP', 'SOCKHASH', 'ARRAY_OF_MAPS', 'HASH_OF_MAPS', 'XSKMAP', 'SK_STORAGE', 'REUSEPORT_SOCKARRAY']);

/** check_func_arg for the argument kinds modelled. */
function checkFuncArg(env: VerifierEnv, id: number, proto: HelperProto, i: number, meta: CallMeta): void {
  const regno = i + 1;
  let arg = proto.args[i];
  if (arg === Arg.DONTCARE) return;
  checkRegRead(env, regno);
  // resolve_map_arg_type: a sockmap/sockhash value is a socket.
  if ((arg === Arg.PTR_TO_MAP_VALUE || arg === Arg.PTR_TO_MAP_VALUE_OR_NULL) && meta.map && (meta.map.def.type === 'SOCKMAP' || meta.map.def.type === 'SOCKHASH')) {
    if (arg !== Arg.PTR_TO_MAP_VALUE) throw reject(EINVAL, 'invalid arg_type for sockmap/sockhash');
    arg = Arg.PTR_TO_BTF_ID_SOCK_COMMON;
  }
  const regs = env.curState.frames[env.curState.curframe].regs;
  const reg = regs[regno];
  if (arg === Arg.ANYTHING) {
    if (isPointer(reg) && !env.allowPtrLeaks) throw reject(EACCES, `R${regno} leaks addr into helper function`);
    return;
  }
  const base = baseType(reg.type);
  if ((base === RegType.PTR_TO_PACKET || base === RegType.PTR_TO_PACKET_META) && !(proto.pktAccess && pktReadable(env.prog.progType))) {
    throw reject(EACCES, 'helper access to the packet is not allowed');
  }
  const isNull = reg.type === RegType.SCALAR_VALUE && isConst(reg.s) && constValue(reg.s) === 0n;
  const orNull = arg === Arg.PTR_TO_MEM_RDONLY_OR_NULL || arg === Arg.PTR_TO_MAP_VALUE_OR_NULL || arg === Arg.PTR_TO_STACK_OR_NULL || arg === Arg.PTR_TO_CTX_OR_NULL;
  const release = proto.releaseArg === i;
  if (isNull && orNull) {
    // 6.18: a NULL pointer argument is not marked precise (its size argument is).
  } else if (checkRegTypeOf(reg, regno, arg)) {
    checkFuncArgRegOff(reg, regno, arg, release);
  } else {
    checkRegType(reg, regno, arg);
  }
  // References: a release needs one, and a call learns the one its argument carries.
  if (release) {
    if (!reg.refObjId && !isNull) throw reject(EINVAL, `R${regno} must be referenced when passed to release function`);
    meta.releaseRegno = regno;
  }
  if (reg.refObjId) meta.refObjId = reg.refObjId;
  switch (arg) {
    case Arg.CONST_MAP_PTR:
      checkTimerMapMatch(meta, reg);
      meta.map = reg.map;
      if (meta.map && !HELPER_MAPS.has(meta.map.def.type)) throw new NotImplementedError(`helpers on ${meta.map.def.type} maps`);
      return;
    case Arg.PTR_TO_BTF_ID_SOCK_COMMON:
      if (baseType(reg.type) === RegType.PTR_TO_BTF_ID) checkBtfStructArg(env, reg, regno, 'sock_common');
      return;
    case Arg.PTR_TO_SOCK_COMMON:
    case Arg.PTR_TO_SOCKET:
    case Arg.PTR_TO_RINGBUF_MEM:
      return;
    case Arg.PTR_TO_SPIN_LOCK:
      processSpinLock(env, reg, regno, id === 93);
      return;
    case Arg.PTR_TO_TIMER:
      processTimerFunc(env, reg, regno, meta);
      return;
    case Arg.CONST_ALLOC_SIZE_OR_ZERO:
      if (!isConst(reg.s)) throw reject(EACCES, `R${regno} is not a known constant'`);
      meta.allocSize = Number(constValue(reg.s));
      markChainPrecision(env, regno);
      return;
    case Arg.PTR_TO_MAP_KEY: {
      if (!meta.map) throw reject(EACCES, 'invalid map_ptr to access map->key');
      const size = meta.map.def.keySize;
      checkHelperMemAccess(env, regno, size, Access.READ, false, undefined, false);
      if (elidesNullness(meta.map)) meta.constKey = constantMapKey(env, reg, size) ?? -1n;
      return;
    }
    case Arg.PTR_TO_MAP_VALUE_OR_NULL:
    case Arg.PTR_TO_MAP_VALUE:
      if (isNull && orNull) return;
      if (!meta.map) throw reject(EACCES, 'invalid map_ptr to access map->value');
      checkHelperMemAccess(env, regno, meta.map.def.valueSize, Access.READ, false, meta, false);
      return;
    case Arg.PTR_TO_CTX:
    case Arg.PTR_TO_CTX_OR_NULL:
      return;
    case Arg.PTR_TO_FUNC:
      meta.subprogno = reg.subprogno;
      return;
    case Arg.PTR_TO_STACK_OR_NULL:
      return;
    case Arg.PTR_TO_BTF_ID_TASK:
      checkBtfStructArg(env, reg, regno, 'task_struct');
      return;
    case Arg.PTR_TO_BTF_ID_SEQ_FILE:
      checkBtfStructArg(env, reg, regno, 'seq_file');
      return;
    case Arg.PTR_TO_MEM:
    case Arg.PTR_TO_MEM_RDONLY:
    case Arg.PTR_TO_MEM_RDONLY_OR_NULL:
    case Arg.PTR_TO_UNINIT_MEM:
      // Checked with the size argument that follows.
      return;
    case Arg.PTR_TO_LONG:
      checkHelperMemAccess(env, regno, 8, Access.WRITE, false, meta, true);
      checkPtrAlignment(env, reg, 0, 8, true);
      return;
    case Arg.PTR_TO_U32_INOUT:
      checkHelperMemAccess(env, regno, 4, Access.WRITE, false, meta, false);
      checkPtrAlignment(env, reg, 0, 4, true);
      return;
    case Arg.CONST_SIZE:
    case Arg.CONST_SIZE_OR_ZERO: {
      const prev = proto.args[i - 1];
      const write = prev === Arg.PTR_TO_UNINIT_MEM;
      const prevReg = regs[regno - 1];
      // A NULL buffer with a zero size is fine for the _OR_NULL kinds.
      if (prev === Arg.PTR_TO_MEM_RDONLY_OR_NULL && prevReg.type === RegType.SCALAR_VALUE) {
        checkMemSizeReg(env, regno, Access.READ, arg === Arg.CONST_SIZE_OR_ZERO, meta, false);
        return;
      }
      checkMemSizeReg(env, regno, write ? Access.WRITE : Access.READ, arg === Arg.CONST_SIZE_OR_ZERO, meta, write);
      return;
    }
    default:
      throw new NotImplementedError(`helper argument kind ${arg}`);
  }
  void id;
}

/** check_reg_type: the register's type is one the argument kind accepts. */
function checkRegType(reg: RegState, regno: number, arg: Arg): void {
  const got = regTypeStr(reg.type);
  switch (arg) {
    case Arg.CONST_MAP_PTR:
      if (reg.type !== RegType.CONST_PTR_TO_MAP) throw reject(EACCES, `R${regno} type=${got} expected=map_ptr`);
      return;
    case Arg.PTR_TO_CTX:
    case Arg.PTR_TO_CTX_OR_NULL:
      if (reg.type !== RegType.PTR_TO_CTX) throw reject(EACCES, `R${regno} type=${got} expected=ctx`);
      // check_func_arg_reg_off: a ctx argument must be unmodified.
      if (reg.off < 0) throw reject(EACCES, `negative offset ctx ptr R${regno} off=${reg.off} disallowed`);
      if (reg.off) throw reject(EACCES, `dereference of modified ctx ptr R${regno} off=${reg.off} disallowed`);
      if (!isConst(reg.s) || constValue(reg.s) !== 0n) throw reject(EACCES, `variable ctx access var_off=${fmtTnum(reg.s.varOff)} disallowed`);
      return;
    case Arg.CONST_SIZE:
    case Arg.CONST_SIZE_OR_ZERO:
      if (reg.type !== RegType.SCALAR_VALUE) throw reject(EACCES, `R${regno} type=${got} expected=scalar`);
      return;
    default: {
      // Memory: RDONLY kinds also take read-only memory.
      let t = reg.type;
      if (arg === Arg.PTR_TO_MEM_RDONLY || arg === Arg.PTR_TO_MEM_RDONLY_OR_NULL || arg === Arg.PTR_TO_MAP_KEY || arg === Arg.PTR_TO_MAP_VALUE) {
        if (arg === Arg.PTR_TO_MEM_RDONLY || arg === Arg.PTR_TO_MEM_RDONLY_OR_NULL) t &= ~MEM_RDONLY;
      }
      if (arg === Arg.PTR_TO_MEM_RDONLY_OR_NULL || arg === Arg.PTR_TO_MAP_VALUE_OR_NULL) t &= ~PTR_MAYBE_NULL;
      const ok = t === (t & BASE_TYPE_MASK) ? MEM_BASES.has(t) : t === (RegType.PTR_TO_MEM | MEM_RINGBUF);
      if (!ok) throw reject(EACCES, `R${regno} type=${got} expected=${MEM_TYPES}`);
    }
  }
}

/** Program types that may read packet data directly (may_access_direct_pkt_data). */
function pktReadable(progType: string): boolean {
  return ['LWT_IN', 'LWT_OUT', 'LWT_SEG6LOCAL', 'SK_REUSEPORT', 'FLOW_DISSECTOR', 'CGROUP_SKB', 'SCHED_CLS', 'SCHED_ACT', 'XDP', 'LWT_XMIT', 'SK_SKB', 'SK_MSG', 'CGROUP_SOCKOPT'].includes(progType);
}

export function checkHelperCall(env: VerifierEnv, insn: Insn): void {
  const id = insn.imm;
  checkCallInLock(env, id);
  if (id < 0 || id >= HELPER_NAMES.length || id === 0) throw reject(EINVAL, `invalid func ${helperName(id)}#${id}`);
  const proto = helperProto(id);
  if (!proto) throw new NotImplementedError(`helper ${helperName(id)}#${id}`);
  const capOk = proto.cap === undefined || (proto.cap === 'bpf' ? env.bpfCapable : env.allowPtrLeaks);
  if (!helperAllowed(proto, env.prog.progType, env.prog.expectedAttachType) || !capOk) {
    throw reject(EINVAL, `program of this type cannot use helper ${helperName(id)}#${id}`);
  }
  if (proto.gplOnly && !isGplCompatible(env.prog.license)) throw reject(EINVAL, 'cannot call GPL-restricted function from non-GPL compatible program');
  // in_sleepable: the program's BPF_F_SLEEPABLE (async callbacks of sleepable programs are
  // not modelled apart).
  if (proto.mightSleep && !(env.prog.flags & PROG_FLAGS.BPF_F_SLEEPABLE)) throw reject(EINVAL, 'helper call might sleep in a non-sleepable prog');
  const regs = env.curState.frames[env.curState.curframe].regs;
  const meta: CallMeta = { map: undefined, constKey: -1n, rawRegno: -1, rawSize: 0, refObjId: 0, releaseRegno: 0, allocSize: 0 };
  for (let i = 0; i < 5; i++) if (i < proto.args.length) checkFuncArg(env, id, proto, i, meta);
  // record_func_map: a program may not change a BPF_F_RDONLY_PROG map through helpers.
  if (meta.map && (meta.map.def.flags & (1 << 7)) && (id === 2 || id === 3 || id === 87 || id === 88)) {
    throw reject(EACCES, 'write into map forbidden');
  }
  // An uninitialised buffer the helper fills: as many one-byte stores of unknown data.
  for (let i = 0; i < meta.rawSize; i++) {
    checkMemAccess(env, meta.rawRegno, i, 1, Access.WRITE, undefined, { unknown: true });
  }
  releaseAndSpecials(env, id, meta);
  // Callbacks are queued with the arguments still in r1-r5 (calls/callback.ts).
  helperCallback(env, id, meta.subprogno, env.insnIdx);
  const mapRef = meta.map;
  for (const r of CALLER_SAVED) {
    markNotInit(regs[r]);
    env.scratch.markReg(r);
  }
  afterCall(env);
  const r0 = regs[BPF_REG_0];
  env.scratch.markReg(0);
  switch (proto.ret) {
    case Ret.INTEGER:
      markUnknown(r0);
      refineRetvalRange(env, id, meta, r0);
      break;
    case Ret.VOID:
      markNotInit(r0);
      break;
    case Ret.PTR_TO_MAP_VALUE_OR_NULL:
      // 6.18: an array lookup with a constant in-range key cannot fail.
      if (id === 1 && mapRef && elidesNullness(mapRef) && meta.constKey >= 0n && meta.constKey < BigInt(mapRef.def.maxEntries)) {
        markPtr(r0, RegType.PTR_TO_MAP_VALUE);
        r0.map = mapRef;
        // A value holding a spin lock needs an id all the same: the lock is known by it.
        if (fieldOf(mapRef.def, 'bpf_spin_lock')) r0.id = ++env.idGen;
        break;
      }
      markPtr(r0, RegType.PTR_TO_MAP_VALUE | PTR_MAYBE_NULL);
      r0.map = mapRef;
      r0.id = ++env.idGen;
      break;
    case Ret.PTR_TO_MAP_VALUE:
      markPtr(r0, RegType.PTR_TO_MAP_VALUE);
      r0.map = mapRef;
      break;
    case Ret.PTR_TO_SOCKET_OR_NULL:
    case Ret.PTR_TO_SOCK_COMMON_OR_NULL:
    case Ret.PTR_TO_TCP_SOCK_OR_NULL:
      markPtr(r0, RET_SOCK[proto.ret]! | PTR_MAYBE_NULL);
      r0.id = ++env.idGen;
      break;
    case Ret.PTR_TO_BTF_ID_TRUSTED:
      markPtr(r0, RegType.PTR_TO_BTF_ID | PTR_TRUSTED);
      r0.btfId = structIdByName(proto.retBtfStruct ?? '');
      break;
    case Ret.PTR_TO_BTF_ID_OR_NULL:
      markPtr(r0, RegType.PTR_TO_BTF_ID | PTR_MAYBE_NULL);
      r0.btfId = structIdByName(proto.retBtfStruct ?? '');
      r0.id = ++env.idGen;
      break;
    case Ret.PTR_TO_RINGBUF_MEM_OR_NULL:
      markPtr(r0, RegType.PTR_TO_MEM | MEM_RINGBUF | PTR_MAYBE_NULL);
      r0.memSize = meta.allocSize;
      r0.id = ++env.idGen;
      break;
  }
  // The returned pointer's reference: its argument's (a cast), or a new one.
  if (proto.ptrCast) r0.refObjId = meta.refObjId;
  else if (proto.acquire || (id === 1 && mapRef && (mapRef.def.type === 'SOCKMAP' || mapRef.def.type === 'SOCKHASH'))) {
    const ref = acquireReference(env, env.insnIdx);
    r0.id = ref;
    r0.refObjId = ref;
  }
  if (mapRef) checkMapFuncCompatibility(mapRef.def.type, id, helperName(id), env.prog.progType, env.prog.expectedAttachType ?? '', (s) => env.log.verbose(s));
  if (changesPktData(id)) {
    clearAllPktPointers(env);
    clearStackArgPktPointers(env);
  }
}

/** record_func_key: a tail call needs a prog array; a constant in-range index is precise
 *  (the JIT may then call the target directly). */
function recordFuncKey(env: VerifierEnv, meta: CallMeta): void {
  if (!meta.map || meta.map.def.type !== 'PROG_ARRAY') {
    // 6.18 prints this line without a newline.
    env.log.verbose('expected prog array map for tail call');
    throw reject(EINVAL, '');
  }
  const r3 = env.curState.frames[env.curState.curframe].regs[3];
  if (r3.type === RegType.SCALAR_VALUE && isConst(r3.s) && constValue(r3.s) < BigInt(meta.map.def.maxEntries)) markChainPrecision(env, 3);
}

/** Helpers returning the bytes they copied or a negative errno (do_refine_retval_range):
 *  get_stack, get_task_stack and the probe_read*_str family. */
const COPY_LEN_HELPERS = new Set([45, 67, 114, 115, 141]);
const MAX_ERRNO = 4095;
const BPF_FUNC_get_smp_processor_id = 8;

function refineRetvalRange(env: VerifierEnv, id: number, meta: CallMeta, r0: RegState): void {
  if (id === BPF_FUNC_get_smp_processor_id) {
    const max = (env.opts.nrCpuIds ?? machineNrCpuIds()) - 1;
    r0.s = boundedScalar(0n, BigInt(max), 0, max);
    return;
  }
  if (!COPY_LEN_HELPERS.has(id) || meta.msizeMax === undefined) return;
  const max = meta.msizeMax;
  r0.s = boundedScalar(BigInt(-MAX_ERRNO), max, -MAX_ERRNO, Number(BigInt.asIntN(32, max)));
}

const RET_SOCK: Partial<Record<Ret, RegType>> = {
  [Ret.PTR_TO_SOCKET_OR_NULL]: RegType.PTR_TO_SOCKET,
  [Ret.PTR_TO_SOCK_COMMON_OR_NULL]: RegType.PTR_TO_SOCK_COMMON,
  [Ret.PTR_TO_TCP_SOCK_OR_NULL]: RegType.PTR_TO_TCP_SOCK,
};

/** After the arguments: the release, then what particular helpers require. */
function releaseAndSpecials(env: VerifierEnv, id: number, meta: CallMeta): void {
  const regs = env.curState.frames[env.curState.curframe].regs;
  if (meta.releaseRegno) {
    // A NULL argument (allowed by the _OR_NULL kinds) releases nothing.
    const isNull = meta.refObjId === 0;
    if (!isNull && !releaseReference(env, meta.refObjId)) {
      throw reject(EINVAL, `func ${helperName(id)}#${id} reference has not been acquired before`);
    }
  }
  switch (id) {
    case 12: // tail_call
      recordFuncKey(env, meta);
      checkResourceLeak(env, true, 'tail_call');
      break;
    case 81: { // get_local_storage: the flags must be 0, since the call cannot fail
      const r2 = regs[2];
      if (!(r2.type === RegType.SCALAR_VALUE && isConst(r2.s) && constValue(r2.s) === 0n)) {
        throw reject(EINVAL, 'get_local_storage() doesn\'t support non-zero flags');
      }
      break;
    }
  }
}

/** A bpf-to-bpf call: push a frame; returns the callee's first instruction. */
export function checkFuncCall(env: VerifierEnv, insn: Insn, insnIdx: number): number {
  const st = env.curState;
  if (st.curframe + 1 >= MAX_CALL_FRAMES) {
    throw reject(E2BIG, `the call stack of ${st.curframe + 2} frames is too deep`);
  }
  const target = insnIdx + insn.imm + 1;
  const subprog = env.subprogs.findIndex((s) => s.start === target);
  if (subprog < 0) throw reject(EINVAL, `verifier bug. No program starts at insn ${target}`);
  const linkage = env.prog.funcs.find((f) => f.start === target)?.linkage;
  if (linkage === 'global') {
    checkGlobalCall(env, subprog);
    return insnIdx + 1;
  }
  beforeSubprogCall(env, subprog);
  const caller = st.frames[st.curframe];
  const callee = newFuncState(st.curframe + 1, insnIdx, subprog);
  for (const r of CALLER_SAVED) callee.regs[r] = cloneReg(caller.regs[r]);
  // clear_caller_saved_regs: r0 too, not only the argument registers.
  for (const r of [BPF_REG_0, ...CALLER_SAVED]) markNotInit(caller.regs[r]);
  st.frames.push(callee);
  st.curframe++;
  env.stackLive.resetCallchain();
  if (env.log.level1) {
    env.log.verbose('caller:\n');
    env.log.verbose(printVerifierState(st, caller, true, env.scratch));
    env.log.verbose('callee:\n');
    env.log.verbose(printVerifierState(st, callee, true, env.scratch));
  }
  env.scratch.markAll();
  return target;
}

/** Leaving a callee: copy r0 to the caller; returns the instruction after the call. */
export function prepareFuncExit(env: VerifierEnv): number {
  const st = env.curState;
  const callee = st.frames[st.curframe];
  const caller = st.frames[st.curframe - 1];
  // The callee's stack facts flow to its call site before its frame goes away.
  env.stackLive.update();
  const r0 = callee.regs[BPF_REG_0];
  if (r0.type === RegType.PTR_TO_STACK) {
    // Even a caller's stack pointer (6.18 is conservative here).
    throw reject(EINVAL, 'cannot return stack pointer to the caller');
  }
  // A callback's r0 goes to the helper, not the caller; it returns to the call itself.
  const cb = callee.callback && !callee.callback.async;
  if (cb) checkCallbackReturn(env, callee);
  else caller.regs[BPF_REG_0] = cloneReg(r0);
  const next = cb ? callee.callsite : callee.callsite + 1;
  if (env.log.level1) {
    env.log.verbose('returning from callee:\n');
    env.log.verbose(printVerifierState(st, callee, true, env.scratch));
    env.log.verbose(`to caller at ${next}:\n`);
    env.log.verbose(printVerifierState(st, caller, true, env.scratch));
  }
  st.frames.pop();
  st.curframe--;
  if (cb) widenAfterCallback(env, next);
  else afterSubprogReturn(env);
  return next;
}

/** The return values a program type may produce, or undefined when any is fine (6.18
 *  check_return_code). */
function retvalRange(env: VerifierEnv): [number, number] | undefined {
  const attach = env.prog.expectedAttachType ?? '';
  switch (env.prog.progType) {
    case 'CGROUP_SKB':
      return attach === 'CGROUP_INET_EGRESS' ? [0, 3] : [0, 1];
    case 'CGROUP_SOCK': case 'SOCK_OPS': case 'CGROUP_DEVICE': case 'CGROUP_SYSCTL': case 'CGROUP_SOCKOPT':
    case 'SK_LOOKUP': case 'NETFILTER':
      return [0, 1];
    case 'CGROUP_SOCK_ADDR':
      if (/^(CGROUP_(UDP[46]|UNIX)_RECVMSG|CGROUP_(INET[46]|UNIX)_GET(PEER|SOCK)NAME)$/.test(attach)) return [1, 1];
      if (/^CGROUP_INET[46]_BIND$/.test(attach)) return [0, 3];
      return [0, 1];
    case 'KPROBE':
      if (attach === 'TRACE_KPROBE_SESSION') return [0, 1];
      return undefined;
    default:
      return undefined;
  }
}

/** check_return_code for the main program's exit; `regno` is 0 there, 1 for bpf_throw's cookie under the default exception callback. */
export function checkReturnCode(env: VerifierEnv, regno = BPF_REG_0): void {
  const st = env.curState;
  const rule = tracingRetval(env.prog);
  // Void LSM hooks: R0 is not even read.
  if (rule?.kind === 'void') return;
  checkRegRead(env, regno);
  const r0 = st.frames[st.curframe].regs[regno];
  if (isPointer(r0) && !env.allowPtrLeaks) throw reject(EACCES, `R${regno} leaks addr as return value`);
  const range = rule ? (rule.kind === 'range' ? [rule.lo, rule.hi] as const : undefined) : retvalRange(env);
  if (!range) return;
  const bits32 = rule?.kind === 'range' && rule.bits32;
  const ctx = 'At program exit';
  if (r0.type !== RegType.SCALAR_VALUE) throw reject(EINVAL, `${ctx} the register R${regno} is not a known value (${regTypeStr(r0.type)})`);
  markChainPrecision(env, regno);
  const [lo, hi] = range;
  if (bits32 ? lo <= r0.s.s32min && r0.s.s32max <= hi : BigInt(lo) <= r0.s.smin && r0.s.smax <= BigInt(hi)) return;
  throw reject(EINVAL, `${invalidScalarText(ctx, `R${regno}`, r0)} should have been in [${lo}, ${hi}]`);
}

export { BPF_REG_FP };

/** ARG_PTR_TO_BTF_ID with arg_btf_id = task_struct: the pointee must be a task. */
/** A BTF pointer passed where `struct name` is expected (check_reg_type's PTR_TO_BTF_ID
 *  case): the struct itself, or one that starts with it (btf_struct_ids_match). */
function checkBtfStructArg(env: VerifierEnv, reg: RegState, regno: number, name: string): void {
  const log = (line: string): void => env.log.verbose(line);
  if (!btfStructIdsMatch(kernelBtf(), reg.btfId ?? 0, reg.off, structIdByName(name), false, log)) {
    throw reject(EACCES, `R${regno} is of type ${btfTypeName(reg.btfId ?? 0)} but ${name} is expected`);
  }
}
