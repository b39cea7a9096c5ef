// kfunc calls with up to 12 arguments (check_kfunc_call / check_kfunc_args), for the
// series that have stack arguments. Prototypes come from the built-in declarations
// (engine/program/kfuncs.ts, by BTF id). The argument kinds modelled are the ones the
// stack-arg programs use: scalars (with `__k` constants), memory + `__sz` size pairs that may
// straddle registers and slots, pointers to small scalar-only structs on the stack, constant
// strings, dynptrs and iterators (register or slot alike: kfunc/dynptr.ts, kfunc/iter.ts), and
// the seed's rejections (prog->aux and release arguments may not travel on the stack). A
// built-in declaration of a kernel kfunc is checked against the kernel's own prototype
// (kfunc/call.ts). Other kinds raise NotImplementedError.

import type { Insn } from '../../isa/insn.ts';
import { KF, builtinKfuncById, type KfuncDecl, type KfuncParamDecl } from '../../program/kfuncs.ts';
import { MEM_RDONLY, PTR_MAYBE_NULL, RegType, SlotType, baseType } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import { markNotInit, markPtr, markUnknown } from '../state/regs.ts';
import { acquireReference } from '../checks/refs.ts';
import { structIdByName } from '../btf-types.ts';
import { isRdonlyMap, mapValueBytes } from '../checks/rodata.ts';
import { isConst, constValue } from '../scalar-api.ts';
import { markChainPrecision } from '../precision/backtrack.ts';
import { NotImplementedError } from '../errors.ts';
import { reject, EACCES, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { type Dialect, MAX_FUNC_ARGS, MAX_REG_ARGS, argName, argSlot, msg } from './dialect.ts';
import { stackArgRun } from './facts.ts';
import { afterCall, beforeKfuncCall, checkOutgoingArgs, outgoingArg } from './calls.ts';
import { markStackArgPrecision } from './precision.ts';
import { kernelKfunc, kernelKfuncByName, type KernelKfunc } from '../kfunc/meta.ts';
import { processKfuncDynptrArg } from '../kfunc/dynptr.ts';
import { iterUse, processIterArg, processIterNext } from '../kfunc/iter.ts';
import { kernelBtf } from '../btf-types.ts';
import { checkKernelKfuncCall } from '../kfunc/call.ts';
import { kfuncAllowed } from '../kfunc/table.ts';
import type { ProgType } from '../../program/types.ts';

const MAX_BPF_STACK = 512;
const BPF_F_RDONLY_PROG = 1 << 7;

/** Sizes of the structs the built-in kfuncs point at (bpf_testmod_kfunc.h). */
const STRUCT_SIZES: Readonly<Record<string, number>> = {
  prog_test_pass1: 16,
  // 6.18: `struct bpf_timer` is a struct of scalars, so a kfunc taking one gets plain memory
  // (KF_ARG_PTR_TO_MEM), with no bpf_timer field required in the map value.
  bpf_timer: 16,
};

/** Scalar pointees a kfunc reads and writes through a pointer (check_mem_reg with the
 *  pointee's BTF size; bpf_kfunc_call_test_acquire takes an `unsigned long *`). */
const SCALAR_SIZES: Readonly<Record<string, number>> = {
  'unsigned long': 8, long: 8, u64: 8, s64: 8, __u64: 8, __s64: 8,
  int: 4, 'unsigned int': 4, u32: 4, s32: 4, __u32: 4, __s32: 4,
};

/** The declaration a kfunc call names, or undefined: the built-in set, else a kernel kfunc
 *  from vmlinux BTF (kfunc/meta.ts). */
export function kfuncDecl(imm: number): KfuncDecl | undefined {
  return builtinKfuncById(imm) ?? kernelKfunc(imm)?.decl;
}

/** The kernel kfunc a call names: a vmlinux FUNC id, or a built-in declaration of a kernel
 *  kfunc (checked against the vmlinux prototype of the same name). */
function kernelKfuncOf(insn: { imm: number; off?: number }): KernelKfunc | undefined {
  if (insn.off) return undefined;
  const b = builtinKfuncById(insn.imm);
  if (b) return b.origin === 'kernel' ? kernelKfuncByName(b.name) : undefined;
  return kernelKfunc(insn.imm);
}

/** add_kfunc_call: a kfunc call found while collecting subprograms. Kernel kfuncs
 *  (kfunc/table.ts) are modelled everywhere, the other built-in kfuncs under the stack-arg
 *  series; others stay unimplemented rather than guessed. */
export function addKfuncCall(env: VerifierEnv, insn: { imm: number; off?: number }): void {
  if (kernelKfuncOf(insn)) return;
  if (stackArgRun(env) && builtinKfuncById(insn.imm)) return;
  throw new NotImplementedError('kfunc calls');
}

/** r1..r5 a kfunc call reads (the liveness pre-pass), or undefined when unknown. */
export function kfuncRegArgs(imm: number, progType?: ProgType): number | undefined {
  // A kernel kfunc the program may not call has no prototype yet: all five may be read.
  const kk = kernelKfuncOf({ imm });
  if (kk && progType && !kfuncAllowed(kk.facts, progType)) return MAX_REG_ARGS;
  const k = kfuncDecl(imm);
  return k ? Math.min(k.params.length, MAX_REG_ARGS) : undefined;
}

const isPointer = (type: string): boolean => type.trim().endsWith('*');
const pointee = (type: string): string => type.replace(/\*\s*$/, '').replace(/\bconst\b/g, '').trim();
const hasSuffix = (p: KfuncParamDecl | undefined, ...s: string[]): boolean => !!p?.suffix && s.includes(p.suffix);

interface Arg {
  readonly reg: RegState;
  /** r1..r5, or undefined for a stack argument. */
  readonly regno: number | undefined;
  readonly name: string;
}

/** Check a kfunc call; returns normally with r0..r5 and (merged) the slots updated. */
export function checkKfuncCall(env: VerifierEnv, insn: Insn): void {
  const run = stackArgRun(env);
  const kk = kernelKfuncOf(insn);
  if (kk) {
    checkKernelKfuncCall(env, kk, env.insnIdx);
    // merged: the outgoing slots die at a kernel kfunc call as at any other call.
    afterCall(env);
    return;
  }
  const k = builtinKfuncById(insn.imm);
  if (!run || !k) throw new NotImplementedError(`kfunc btf_id ${insn.imm}`);
  const d = run.d;
  const nargs = k.params.length;
  if (nargs > MAX_FUNC_ARGS) throw reject(EINVAL, msg.tooManyArgs(d, k.name, nargs));
  // merged checks all slots up front (check_outgoing_stack_args); the seed per argument.
  if (d.series === 'merged') checkOutgoingArgs(env, d, nargs);
  const regs = env.curState.frames[env.curState.curframe].regs;
  const argAt = (i: number): Arg => {
    if (i < MAX_REG_ARGS) return { reg: regs[i + 1], regno: i + 1, name: argName(d, i, nargs) };
    return { reg: outgoingArg(env, d, i, nargs), regno: undefined, name: argName(d, i, nargs) };
  };
  let constantSeen = false;
  let iter: { frameno: number; spi: number; refObjId: number } | undefined;
  for (let i = 0; i < nargs; i++) {
    const p = k.params[i];
    const a = argAt(i);
    if (hasSuffix(p, '__prog') || pointee(p.type) === 'struct bpf_prog_aux') {
      if (a.regno === undefined) throw reject(EINVAL, msg.progAux(d, i, nargs));
      continue;
    }
    if (!isPointer(p.type)) {
      if (p.type.startsWith('struct ') || p.type.startsWith('union ')) {
        // A by-value aggregate: 6.18 and merged print `Unrecognized <arg> type STRUCT`.
        throw reject(EINVAL, `Unrecognized ${a.name} type ${p.type.startsWith('union ') ? 'UNION' : 'STRUCT'}`);
      }
      checkScalar(a);
      if (hasSuffix(p, '__k')) {
        if (constantSeen) throw reject(EINVAL, 'verifier internal error: only one constant argument permitted');
        if (!isConst(a.reg.s)) throw reject(EINVAL, `${a.name} must be a known constant`);
        constantSeen = true;
        markArgPrecise(env, d, i, nargs, a);
      }
      continue;
    }
    if (k.flagBits & 2 /* KF_RELEASE */ && i === firstPointerArg(k)) {
      if (a.regno === undefined) throw reject(EINVAL, msg.releaseArg(d, i, nargs));
      throw new NotImplementedError('kfunc release arguments');
    }
    const next = k.params[i + 1];
    if (hasSuffix(next, '__sz', '__szk')) {
      const size = argAt(i + 1);
      checkScalar(size);
      if (!isConst(size.reg.s) && hasSuffix(next, '__szk')) throw reject(EINVAL, `${size.name} must be a known constant`);
      checkStackMem(env, a, Number(size.reg.s.umax), size.reg.s.umin === 0n);
      // The size decides how much memory is touched: it must be precise (check_mem_size_reg).
      markArgPrecise(env, d, i + 1, nargs, size);
      i++;
      continue;
    }
    if (hasSuffix(p, '__str')) {
      checkConstStr(a, i);
      continue;
    }
    const t = pointee(p.type);
    if (t === 'struct bpf_dynptr') {
      processKfuncDynptrArg(env, { reg: a.reg, regno: a.regno, argno: i, uninit: hasSuffix(p, '__uninit') }, k.name);
      continue;
    }
    if (hasSuffix(p, '__iter') || (k.flagBits & ITER_FLAGS && i === 0)) {
      iter = checkIterArg(env, k, a, i, t) ?? iter;
      continue;
    }
    const memSize = t.startsWith('struct ') ? STRUCT_SIZES[t.slice(7).trim()] : SCALAR_SIZES[t];
    if (memSize === undefined) throw new NotImplementedError(`kfunc argument of type ${p.type}`);
    checkStackMem(env, a, memSize, false);
  }
  beforeKfuncCall(env, nargs);
  const f = env.curState.frames[env.curState.curframe];
  for (let r = 0; r <= MAX_REG_ARGS; r++) {
    markNotInit(f.regs[r]);
    env.scratch.markReg(r);
  }
  afterCall(env);
  setReturn(env, k, f.regs[0], iter?.refObjId ?? 0);
  if (k.flagBits & KF.KF_ITER_NEXT && iter) processIterNext(env, iter, env.insnIdx);
}

const ITER_FLAGS = KF.KF_ITER_NEW | KF.KF_ITER_NEXT | KF.KF_ITER_DESTROY;

/** An iterator argument (KF_ARG_PTR_TO_ITER), in a register or a slot. */
function checkIterArg(env: VerifierEnv, k: KfuncDecl, a: Arg, i: number, t: string): { frameno: number; spi: number; refObjId: number } | undefined {
  const structId = t.startsWith('struct ') ? structIdByName(t.slice(7).trim()) : 0;
  if (!structId) throw new NotImplementedError(`kfunc iterator argument of type ${t}`);
  return processIterArg(env, kernelBtf(), { reg: a.reg, regno: a.regno, argno: i, structId }, iterUse(k.flagBits));
}

function firstPointerArg(k: KfuncDecl): number {
  return k.params.findIndex((p) => isPointer(p.type));
}

function checkScalar(a: Arg): void {
  if (a.reg.type !== RegType.SCALAR_VALUE) throw reject(EINVAL, `${a.name} is not a scalar`);
}

/** A kfunc depends on the exact value: registers backtrack as usual; a slot backtracks
 *  from the slot in merged, and is skipped in v4 (the seed marks only regno > 0). */
function markArgPrecise(env: VerifierEnv, d: Dialect, i: number, nargs: number, a: Arg): void {
  if (a.regno !== undefined) markChainPrecision(env, a.regno);
  else if (d.series === 'merged') markStackArgPrecision(env, argSlot(d, i, nargs));
}

/** The kfunc reads and writes `size` bytes at a stack pointer (check_mem_reg / the stack
 *  part of check_helper_mem_access). */
function checkStackMem(env: VerifierEnv, a: Arg, size: number, zeroOk: boolean): void {
  const reg = a.reg;
  if (size === 0 && zeroOk) return;
  if (reg.type === RegType.PTR_TO_MAP_VALUE) return checkMapValueMem(a, size);
  if (baseType(reg.type) !== RegType.PTR_TO_STACK) {
    if (reg.type === RegType.SCALAR_VALUE || reg.type === RegType.NOT_INIT) {
      throw reject(EINVAL, `${a.name} type=${reg.type === RegType.SCALAR_VALUE ? 'scalar' : '?'} expected=fp`);
    }
    throw new NotImplementedError('kfunc memory arguments outside the stack');
  }
  if (!isConst(reg.s)) throw new NotImplementedError('variable-offset stack pointer passed to a kfunc');
  const off = Number(BigInt.asIntN(64, constValue(reg.s))) + reg.off;
  if (off < -MAX_BPF_STACK || off + size > 0) {
    throw reject(EACCES, `invalid indirect access to stack ${a.name} off=${reg.off} size=${size}`);
  }
  const f = env.curState.frames[reg.frameno];
  for (let b = off; b < off + size; b++) {
    const spi = (-b - 1) >> 3;
    const slot = f.stack[spi];
    const t = slot ? slot.slotType[(-b - 1) & 7] : SlotType.INVALID;
    env.stackLive.markRead(f.frameno, env.insnIdx, 1n << BigInt(spi));
    if (t === SlotType.MISC || t === SlotType.ZERO || t === SlotType.SPILL) continue;
    if (t === SlotType.INVALID && env.allowPtrLeaks) continue;
    throw reject(EACCES, `invalid read from stack ${a.name} off ${off}+${b - off} size ${size}`);
  }
}

/** r0 from the declared return type: a scalar, nothing, or (an acquiring kfunc) a BTF
 *  pointer to a vmlinux struct, NULL-able and referenced as the flags say. */
/** The map-value part of check_helper_mem_access, for a constant offset: the kfunc may read
 *  and write, so a program-read-only map is refused. */
function checkMapValueMem(a: Arg, size: number): void {
  const reg = a.reg;
  const def = reg.map!.def;
  if (!isConst(reg.s)) throw new NotImplementedError('variable-offset map value passed to a kfunc');
  const off = Number(BigInt.asIntN(64, constValue(reg.s))) + reg.off;
  if (def.flags & BPF_F_RDONLY_PROG) throw reject(EACCES, `write into map forbidden, value_size=${def.valueSize} off=${off} size=${size}`);
  if (off < 0 || off + size > def.valueSize) {
    throw reject(EACCES, `invalid access to map value, value_size=${def.valueSize} off=${off} size=${size}`);
  }
}

/** check_reg_const_str: a `__str` argument points into a frozen, program-read-only array
 *  map at a known offset, and the string ends inside the value. */
function checkConstStr(a: Arg, i: number): void {
  const reg = a.reg;
  if (reg.type !== RegType.PTR_TO_MAP_VALUE) throw reject(EINVAL, `arg#${i} doesn't point to a const string`);
  const def = reg.map!.def;
  if (!isRdonlyMap(def)) throw reject(EACCES, `${a.name} does not point to a readonly map'`);
  if (!isConst(reg.s)) throw reject(EACCES, `${a.name} is not a constant address'`);
  const off = Number(BigInt.asIntN(64, constValue(reg.s))) + reg.off;
  if (off < 0 || off >= def.valueSize) {
    throw reject(EACCES, `invalid access to map value, value_size=${def.valueSize} off=${off} size=${def.valueSize - off}`);
  }
  if (!mapValueBytes(def).subarray(off).includes(0)) throw reject(EINVAL, 'string is not zero-terminated');
}

function setReturn(env: VerifierEnv, k: KfuncDecl, r0: RegState, refObjId: number): void {
  const ret = k.ret.trim();
  if (ret === 'void') return markNotInit(r0);
  const scalarSize = isPointer(ret) ? SCALAR_SIZES[pointee(ret)] : undefined;
  if (scalarSize !== undefined) {
    // A pointer to a scalar is read-only memory of that size (as kfunc/call.ts gives a kernel
    // kfunc's `int *`), tied to the reference an argument held (an iterator's `_next`).
    markPtr(r0, RegType.PTR_TO_MEM | MEM_RDONLY);
    r0.memSize = scalarSize;
    if (refObjId) r0.refObjId = refObjId;
    if (k.flagBits & KF.KF_RET_NULL) {
      r0.type |= PTR_MAYBE_NULL;
      r0.id = ++env.idGen;
    }
    return;
  }
  const struct = /^struct (\w+) \*$/.exec(ret);
  const btfId = struct && k.flagBits & KF.KF_ACQUIRE ? structIdByName(struct[1]) : 0;
  if (btfId) {
    markPtr(r0, RegType.PTR_TO_BTF_ID);
    r0.btfId = btfId;
    if (k.flagBits & KF.KF_RET_NULL) {
      r0.type |= PTR_MAYBE_NULL;
      r0.id = ++env.idGen;
    }
    const ref = acquireReference(env, env.insnIdx);
    r0.refObjId = ref;
    if (k.flagBits & KF.KF_RET_NULL) r0.id = ref;
    return;
  }
  if (isPointer(ret) || ret.startsWith('struct ')) throw new NotImplementedError(`kfunc returning ${ret}`);
  markUnknown(r0);
}
