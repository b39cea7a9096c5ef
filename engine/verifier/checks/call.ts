// Calls and returns: helper calls against their prototypes (check_helper_call), bpf-to-bpf
// calls (check_func_call / prepare_func_exit) and the program's return value
// (check_return_code).

import type { Insn } from '../../isa/insn.ts';
import { BPF_REG_0, BPF_REG_FP } from '../../isa/opcodes.ts';
import { HELPER_NAMES } from '../../isa/helpers.ts';
import { RegType, PTR_MAYBE_NULL, baseType, cloneReg } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import { markNotInit, markUnknown, markPtr, newFuncState, isPointer } from '../state/regs.ts';
import { isConst, constValue } from '../scalar-api.ts';
import { printVerifierState, regTypeStr } from '../log/state-print.ts';
import { NotImplementedError } from '../errors.ts';
import { reject, EACCES, EINVAL, E2BIG } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { Arg, Ret, helperProto, helperAllowed } from '../helpers/protos.ts';
import { checkRegRead } from './regs.ts';
import { markChainPrecision } from '../precision/backtrack.ts';
import { MAX_BPF_STACK } from './mem.ts';
import { SlotType } from '../state/types.ts';
import { afterCall, afterSubprogReturn, beforeSubprogCall } from '../stack-arg/calls.ts';

const MAX_CALL_FRAMES = 8;
const CALLER_SAVED = [1, 2, 3, 4, 5];

const helperName = (id: number): string => (id > 0 && id < HELPER_NAMES.length ? HELPER_NAMES[id] : 'unknown');

/** A helper reads `size` bytes at a stack pointer (check_helper_mem_access for the stack). */
function checkHelperStackRead(env: VerifierEnv, regno: number, reg: RegState, size: number, write: boolean): void {
  if (!isConst(reg.s)) throw new NotImplementedError('variable-offset stack pointer passed to a helper');
  const off = Number(BigInt.asIntN(64, constValue(reg.s))) + reg.off;
  if (off < -MAX_BPF_STACK || off + size > 0) {
    throw reject(EACCES, `invalid indirect access to stack R${regno} off=${reg.off} size=${size}`);
  }
  const f = env.curState.frames[reg.frameno];
  const need = -off;
  const bytes = Math.ceil(need / 8) * 8;
  while (f.allocatedStack < bytes) {
    const sp = { slotType: new Uint8Array(8), spilled: cloneReg(f.regs[0]) };
    markNotInit(sp.spilled);
    f.stack.push(sp);
    f.allocatedStack += 8;
  }
  const info = env.subprogs[f.subprogno];
  if (info.stackDepth < bytes) info.stackDepth = bytes;
  for (let a = off; a < off + size; a++) {
    const spi = (-a - 1) >> 3;
    const t = f.stack[spi].slotType[(-a - 1) & 7];
    if (!write) env.stackLive.markRead(f.frameno, env.insnIdx, 1n << BigInt(spi));
    if (write) {
      if (t === SlotType.SPILL) throw new NotImplementedError('helper writes over spilled registers');
      f.stack[spi].slotType[(-a - 1) & 7] = SlotType.MISC;
      continue;
    }
    if (t === SlotType.MISC || t === SlotType.ZERO || t === SlotType.SPILL) continue;
    if (t === SlotType.INVALID && env.allowPtrLeaks) continue;
    throw reject(EACCES, `invalid read from stack R${regno} off ${off}+${a - off} size ${size}`);
  }
}

/** The key's value when the stack bytes holding it are known (all STACK_ZERO). Keys in
 *  spilled registers are not modelled. */
function constantMapKey(env: VerifierEnv, reg: RegState, size: number): bigint | undefined {
  const off = Number(BigInt.asIntN(64, constValue(reg.s))) + reg.off;
  const f = env.curState.frames[reg.frameno];
  for (let a = off; a < off + size; a++) {
    const t = f.stack[(-a - 1) >> 3].slotType[(-a - 1) & 7];
    if (t === SlotType.SPILL) throw new NotImplementedError('constant map keys in spilled registers');
    if (t !== SlotType.ZERO) return undefined;
  }
  return 0n;
}

export function checkHelperCall(env: VerifierEnv, insn: Insn): void {
  const id = insn.imm;
  if (id < 0 || id >= HELPER_NAMES.length || id === 0) throw reject(EINVAL, `invalid func ${helperName(id)}#${id}`);
  const proto = helperProto(id);
  if (!proto) throw new NotImplementedError(`helper ${helperName(id)}#${id}`);
  if (!helperAllowed(proto, env.prog.progType)) {
    throw reject(EINVAL, `program of this type cannot use helper ${helperName(id)}#${id}`);
  }
  const regs = env.curState.frames[env.curState.curframe].regs;
  let mapRef: RegState['map'];
  let constKey: bigint | undefined;
  for (let i = 0; i < proto.args.length; i++) {
    const regno = i + 1;
    const arg = proto.args[i];
    if (arg === Arg.DONTCARE) continue;
    checkRegRead(env, regno);
    const reg = regs[regno];
    switch (arg) {
      case Arg.ANYTHING:
        if (isPointer(reg) && !env.allowPtrLeaks) throw reject(EACCES, `R${regno} leaks addr into helper function`);
        break;
      case Arg.CONST_MAP_PTR:
        if (reg.type !== RegType.CONST_PTR_TO_MAP) throw reject(EACCES, `R${regno} type=${regTypeStr(reg.type)} expected=map_ptr`);
        mapRef = reg.map;
        if (mapRef && mapRef.def.type !== 'HASH' && mapRef.def.type !== 'ARRAY') throw new NotImplementedError(`helpers on ${mapRef.def.type} maps`);
        break;
      case Arg.PTR_TO_MAP_KEY:
      case Arg.PTR_TO_MAP_VALUE: {
        if (!mapRef) throw new NotImplementedError('map key argument without a map');
        const size = arg === Arg.PTR_TO_MAP_KEY ? mapRef.def.keySize : mapRef.def.valueSize;
        if (reg.type !== RegType.PTR_TO_STACK) {
          if (reg.type === RegType.SCALAR_VALUE || baseType(reg.type) === RegType.PTR_TO_CTX) {
            throw reject(EACCES, `R${regno} type=${regTypeStr(reg.type)} expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_`);
          }
          throw new NotImplementedError('map key/value argument outside the stack');
        }
        checkHelperStackRead(env, regno, reg, size, false);
        if (arg === Arg.PTR_TO_MAP_KEY) constKey = constantMapKey(env, reg, size);
        break;
      }
      case Arg.PTR_TO_CTX:
        if (reg.type !== RegType.PTR_TO_CTX) throw reject(EACCES, `R${regno} type=${regTypeStr(reg.type)} expected=ctx`);
        break;
      default:
        throw new NotImplementedError(`helper argument kind ${arg}`);
    }
  }
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
      break;
    case Ret.VOID:
      markNotInit(r0);
      break;
    case Ret.PTR_TO_MAP_VALUE_OR_NULL:
      // 6.18: an array lookup with a constant in-range key cannot fail.
      if (id === 1 && mapRef?.def.type === 'ARRAY' && constKey !== undefined && constKey < BigInt(mapRef.def.maxEntries)) {
        markPtr(r0, RegType.PTR_TO_MAP_VALUE);
        r0.map = mapRef;
        break;
      }
      markPtr(r0, RegType.PTR_TO_MAP_VALUE | PTR_MAYBE_NULL);
      r0.map = mapRef;
      r0.id = ++env.idGen;
      break;
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
  if (linkage === 'global') throw new NotImplementedError('calls to global functions');
  beforeSubprogCall(env, subprog);
  const caller = st.frames[st.curframe];
  const callee = newFuncState(st.curframe + 1, insnIdx, subprog);
  for (const r of CALLER_SAVED) callee.regs[r] = cloneReg(caller.regs[r]);
  for (const r of CALLER_SAVED) markNotInit(caller.regs[r]);
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
  const r0 = callee.regs[BPF_REG_0];
  if (r0.type === RegType.PTR_TO_STACK && r0.frameno === callee.frameno) {
    throw reject(EINVAL, 'cannot return stack pointer to the caller');
  }
  caller.regs[BPF_REG_0] = cloneReg(r0);
  // The callee's stack facts flow to its call site before its frame goes away.
  env.stackLive.update();
  if (env.log.level1) {
    env.log.verbose('returning from callee:\n');
    env.log.verbose(printVerifierState(st, callee, true, env.scratch));
    env.log.verbose(`to caller at ${callee.callsite + 1}:\n`);
    env.log.verbose(printVerifierState(st, caller, true, env.scratch));
  }
  st.frames.pop();
  st.curframe--;
  afterSubprogReturn(env);
  return callee.callsite + 1;
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
    case 'RAW_TRACEPOINT':
      if (env.prog.attachTo) throw new NotImplementedError('return code of BTF raw tracepoints');
      return undefined;
    case 'TRACING': case 'LSM': case 'STRUCT_OPS': case 'EXT':
      throw new NotImplementedError(`return code check for ${env.prog.progType} programs`);
    case 'KPROBE':
      if (attach === 'TRACE_KPROBE_SESSION') return [0, 1];
      return undefined;
    default:
      return undefined;
  }
}

/** check_return_code for the main program's exit. */
export function checkReturnCode(env: VerifierEnv): void {
  const st = env.curState;
  const r0 = st.frames[st.curframe].regs[BPF_REG_0];
  if (isPointer(r0) && !env.allowPtrLeaks) throw reject(EACCES, 'R0 leaks addr as return value');
  const range = retvalRange(env);
  if (!range) return;
  const ctx = 'At program exit';
  if (r0.type !== RegType.SCALAR_VALUE) throw reject(EINVAL, `${ctx} the register R0 is not a known value (${regTypeStr(r0.type)})`);
  markChainPrecision(env, BPF_REG_0);
  const [lo, hi] = range;
  if (BigInt(lo) <= r0.s.smin && r0.s.smax <= BigInt(hi)) return;
  let text = `${ctx} the register R0 has`;
  let unknown = true;
  if (r0.s.smin > -(1n << 63n)) {
    text += ` smin=${r0.s.smin}`;
    unknown = false;
  }
  if (r0.s.smax < (1n << 63n) - 1n) {
    text += ` smax=${r0.s.smax}`;
    unknown = false;
  }
  if (unknown) text += ' unknown scalar value';
  throw reject(EINVAL, `${text} should have been in [${lo}, ${hi}]`);
}

export { BPF_REG_FP };
