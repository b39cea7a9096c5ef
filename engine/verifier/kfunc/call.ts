// check_kfunc_call for kernel kfuncs on plain 6.18 (up to five register arguments): who may
// call it, each argument against its BTF parameter (scalars, `__k` constants, ignored
// `__ign` arguments, memory with a `__sz` size, the program's context, BTF pointers with
// the trusted / RCU rules, iterators), the release of a referenced argument, then r0 from
// the BTF return type (scalar, void, a BTF pointer, read-only memory), NULL-able and
// referenced as the flags say. Kinds not modelled raise NotImplementedError.

import type { Btf, BtfType } from '../../btf/index.ts';
import { typeById, skipModifiers, typeSize, idsByName } from '../../btf/index.ts';
import { RegType, PTR_MAYBE_NULL, PTR_TRUSTED, PTR_UNTRUSTED, MEM_RCU, MEM_RDONLY, baseType, mayBeNull } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import { markNotInit, markUnknown, markPtr } from '../state/regs.ts';
import { isConst, constValue } from '../scalar-api.ts';
import { regTypeStr } from '../log/state-print.ts';
import { markChainPrecision } from '../precision/backtrack.ts';
import { NotImplementedError } from '../errors.ts';
import { reject, EACCES, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { acquireReference, releaseReference } from '../checks/refs.ts';
import { kernelBtf, resolved, isScalarType } from '../btf-types.ts';
import { KF, kfuncAllowed } from './table.ts';
import type { KernelKfunc, KernelParam } from './meta.ts';
import { iterUse, processIterArg, processIterNext } from './iter.ts';
import { checkKfuncMem, checkKfuncMemSize } from './mem.ts';
import { PROG_FLAGS } from '../../program/types.ts';
import { processKfuncDynptrArg, type DynptrInfo } from './dynptr.ts';
import { kernCtxStructId } from './kern-ctx.ts';
import { processRcuKfunc } from './rcu.ts';
import { BPF_THROW, noteThrow } from './throw.ts';

const MAX_REG_ARGS = 5;

/** What the argument checks learnt (bpf_kfunc_call_arg_meta, the parts modelled). */
interface Meta {
  refObjId: number;
  releaseRegno: number;
  constant: bigint | undefined;
  iter: { frameno: number; spi: number; refObjId: number } | undefined;
  /** bpf_cast_to_kern_ctx: the kernel struct behind the context (meta->ret_btf_id). */
  retBtfId?: number;
  /** The initialised dynptr an argument named (meta->initialized_dynptr). */
  dynptr?: DynptrInfo;
}

const has = (k: KernelKfunc, f: number): boolean => (k.facts.flags & f) !== 0;
const isNullReg = (r: RegState): boolean => r.type === RegType.SCALAR_VALUE && isConst(r.s) && constValue(r.s) === 0n;

/** btf_type_str: the kind as the kernel's messages spell it. */
const kindStr = (t: BtfType): string => (t.kind === 'UNKN' ? 'UNKNOWN' : t.kind);

export function checkKernelKfuncCall(env: VerifierEnv, k: KernelKfunc, insnIdx: number): void {
  const btf = kernelBtf();
  if (!kfuncAllowed(k.facts, env.prog.progType)) throw reject(EACCES, `calling kernel function ${k.name} is not allowed`);
  if (has(k, KF.DESTRUCTIVE)) throw new NotImplementedError('destructive kfuncs');
  if (has(k, KF.SLEEPABLE) && !(env.prog.flags & PROG_FLAGS.BPF_F_SLEEPABLE)) {
    throw reject(EACCES, `program must be sleepable to call sleepable kfunc ${k.name}`);
  }
  if (k.params.length > MAX_REG_ARGS) throw reject(EINVAL, `Function ${k.name} has ${k.params.length} > ${MAX_REG_ARGS} args`);
  const meta: Meta = { refObjId: 0, releaseRegno: 0, constant: undefined, iter: undefined };
  for (let i = 0; i < k.params.length; i++) i = checkArg(env, btf, k, meta, i);

  processRcuKfunc(env, k.name);
  // A release kfunc must be handed a referenced (acquired) pointer: a trusted one that was
  // never acquired is refused after the argument checks (6.18 check_kfunc_args).
  if (has(k, KF.RELEASE) && !meta.releaseRegno) {
    throw reject(EINVAL, `release kernel function ${k.name} expects refcounted PTR_TO_BTF_ID`);
  }
  const regs = env.curState.frames[env.curState.curframe].regs;
  if (meta.releaseRegno && !releaseReference(env, regs[meta.releaseRegno].refObjId)) {
    throw reject(EINVAL, `kfunc ${k.name}#${k.btfId} reference has not been acquired before`);
  }
  if (k.name === BPF_THROW) noteThrow(env);
  for (let r = 1; r <= MAX_REG_ARGS; r++) {
    markNotInit(regs[r]);
    env.scratch.markReg(r);
  }
  env.scratch.markReg(0);
  setReturn(env, btf, k, meta, insnIdx);
  if (has(k, KF.ITER_NEXT) && meta.iter) processIterNext(env, meta.iter, insnIdx);
}

/** One argument (check_kfunc_args' loop body); returns the index of the last argument it
 *  consumed (a memory argument takes its size with it). */
function checkArg(env: VerifierEnv, btf: Btf, k: KernelKfunc, meta: Meta, i: number): number {
  const p = k.params[i];
  const regno = i + 1;
  const reg = env.curState.frames[env.curState.curframe].regs[regno];
  const t = resolved(btf, p.typeId);
  if (p.suffix === '__ign') return i;
  if (isScalarType(t)) {
    if (reg.type !== RegType.SCALAR_VALUE) throw reject(EINVAL, `R${regno} is not a scalar`);
    if (p.suffix === '__k') {
      if (meta.constant !== undefined) throw reject(EINVAL, 'verifier internal error: only one constant argument permitted');
      if (!isConst(reg.s)) throw reject(EINVAL, `R${regno} must be a known constant`);
      markChainPrecision(env, regno);
      meta.constant = constValue(reg.s);
    } else if (p.name === 'rdonly_buf_size' || p.name === 'rdwr_buf_size') {
      throw new NotImplementedError('kfunc rdonly/rdwr_buf_size arguments');
    }
    return i;
  }
  if (t.kind !== 'PTR') throw reject(EINVAL, `Unrecognized arg#${i} type ${kindStr(t)}`);
  // A release kfunc's arguments are trusted arguments too (is_kfunc_trusted_args).
  const trusted = has(k, KF.TRUSTED_ARGS) || has(k, KF.RELEASE);
  const trustedOrRcu = trusted || has(k, KF.RCU);
  if (trustedOrRcu && (isNullReg(reg) || mayBeNull(reg.type)) && p.suffix !== '__nullable') {
    throw reject(EACCES, `Possibly NULL pointer passed to trusted arg${i}`);
  }
  if (reg.refObjId) {
    if (has(k, KF.RELEASE) && meta.refObjId) {
      throw reject(14, `verifier internal error: more than one arg with ref_obj_id R${regno} ${reg.refObjId} ${meta.refObjId}`);
    }
    meta.refObjId = reg.refObjId;
    if (has(k, KF.RELEASE)) meta.releaseRegno = regno;
  }
  const refId = skipModifiers(btf, t.type);
  const ref = typeById(btf, refId);
  const kind = argKind(env, btf, k, p, i, reg, ref);
  switch (kind) {
    case 'null':
      return i;
    case 'ctx':
      if (reg.type !== RegType.PTR_TO_CTX) throw reject(EINVAL, `arg#${i} expected pointer to ctx, but got ${regTypeStr(reg.type)}`);
      checkZeroOffset(reg, regno);
      if (k.name === 'bpf_cast_to_kern_ctx') meta.retBtfId = kernCtxStructId(env.prog.progType);
      return i;
    case 'dynptr': {
      const info = processKfuncDynptrArg(env, { reg, regno, argno: i, uninit: p.suffix === '__uninit' }, k.name);
      if (info) meta.dynptr = info;
      return i;
    }
    case 'iter': {
      const at = processIterArg(env, btf, { reg, regno, argno: i, structId: refId }, iterUse(k.facts.flags));
      if (at) {
        meta.iter = at;
        meta.refObjId = at.refObjId;
      }
      return i;
    }
    case 'map': {
      // `__map`: the register must carry a map, then it is checked as a `struct bpf_map *`.
      if (!carriesMapPtr(reg)) throw reject(EINVAL, `pointer in R${regno} isn't map pointer`);
      const mapId = structIdByName(btf, 'bpf_map');
      // A map pointer is a trusted struct bpf_map (reg2btf_ids).
      if (reg.type === RegType.CONST_PTR_TO_MAP) return i;
      if (trustedOrRcu && !isTrustedReg(reg)) {
        if (!has(k, KF.RCU)) throw reject(EINVAL, `R${regno} must be referenced or trusted`);
        if (!(reg.type & MEM_RCU)) throw reject(EINVAL, `R${regno} must be a rcu pointer`);
      }
      if (baseType(reg.type) !== RegType.PTR_TO_BTF_ID) throw new NotImplementedError(`kfunc map argument R${regno} of type ${regTypeStr(reg.type)}`);
      checkZeroOffset(reg, regno);
      checkBtfIdArg(btf, k, i, regno, reg, mapId, typeById(btf, mapId));
      return i;
    }
    case 'btf_id':
      if (trustedOrRcu && !isTrustedReg(reg)) {
        if (!has(k, KF.RCU)) throw reject(EINVAL, `R${regno} must be referenced or trusted`);
        if (!(reg.type & MEM_RCU)) throw reject(EINVAL, `R${regno} must be a rcu pointer`);
      }
      checkZeroOffset(reg, regno);
      checkBtfIdArg(btf, k, i, regno, reg, refId, ref);
      return i;
    case 'mem_size': {
      const size = checkKfuncMemSize(env, regno, p, k.params[i + 1], i);
      if (size !== undefined) {
        if (meta.constant !== undefined) throw reject(14, 'verifier internal error: only one constant argument permitted');
        meta.constant = size;
      }
      return i + 1;
    }
    case 'mem':
      checkKfuncMem(env, regno, typeSize(btf, refId) ?? 0);
      return i;
  }
}

type ArgKind = 'null' | 'ctx' | 'dynptr' | 'iter' | 'btf_id' | 'map' | 'mem' | 'mem_size';

/** get_kfunc_ptr_arg_type, for the kinds modelled. */
function argKind(env: VerifierEnv, btf: Btf, k: KernelKfunc, p: KernelParam, i: number, reg: RegState, ref: BtfType): ArgKind {
  const refName = ref.name;
  // Its `void *` parameter is the program's context, whatever the program type.
  if (k.name === 'bpf_cast_to_kern_ctx') return 'ctx';
  if (ref.kind === 'STRUCT' && refName === ctxStructName(env.prog.progType)) return 'ctx';
  if (p.suffix === '__nullable' && isNullReg(reg)) return 'null';
  if (ref.kind === 'STRUCT' && refName === 'bpf_dynptr') return 'dynptr';
  const iterKfunc = has(k, KF.ITER_NEW | KF.ITER_NEXT | KF.ITER_DESTROY) && i === 0;
  if (p.suffix === '__iter' || iterKfunc) return 'iter';
  if (p.suffix === '__str') throw new NotImplementedError('kfunc const string arguments');
  if (p.suffix === '__map') return 'map';
  if (ref.kind === 'STRUCT' && /^bpf_(list_head|list_node|rb_root|rb_node|wq|refcount)$/.test(refName)) {
    throw new NotImplementedError(`kfunc ${refName} arguments`);
  }
  if (baseType(reg.type) === RegType.PTR_TO_BTF_ID) {
    if (ref.kind !== 'STRUCT') {
      throw reject(EINVAL, `kernel function ${k.name} args#${i} pointer type ${kindStr(ref)} ${refName} is not supported`);
    }
    return 'btf_id';
  }
  if (reg2btfIds(reg)) throw new NotImplementedError('socket pointers passed to kfuncs');
  if (ref.kind === 'FUNC_PROTO') throw new NotImplementedError('kfunc callback arguments');
  const next = k.params[i + 1];
  const memSize = next !== undefined && (next.suffix === '__sz' || next.suffix === '__szk');
  const scalarish = isScalarType(ref) || (ref.kind === 'STRUCT' && scalarStruct(btf, ref, 0));
  if (!scalarish && (memSize ? ref.kind !== 'UNKN' : true)) {
    throw reject(EINVAL, `arg#${i} pointer type ${kindStr(ref)} ${refName} must point to ${memSize ? 'void, ' : ''}scalar, or struct with scalar`);
  }
  return memSize ? 'mem_size' : 'mem';
}

/** __btf_type_is_scalar_struct: every member a scalar, an array of scalars, or such a struct. */
function scalarStruct(btf: Btf, t: BtfType, depth: number): boolean {
  if (t.kind !== 'STRUCT' || depth > 2) return false;
  return t.members.every((m) => {
    let mt = resolved(btf, m.type);
    if (mt.kind === 'ARRAY') mt = resolved(btf, mt.type);
    return isScalarType(mt) || scalarStruct(btf, mt, depth + 1);
  });
}

/** Does the register hold a map pointer? The kernel keeps map_ptr in a union with the BTF
 *  pointer, so BTF-typed registers pass this test too (and are then checked by type). */
function carriesMapPtr(reg: RegState): boolean {
  return reg.map !== undefined || baseType(reg.type) === RegType.PTR_TO_BTF_ID;
}

const structIdByName = (btf: Btf, name: string): number => {
  const id = idsByName(btf, name).find((i) => btf.types[i].kind === 'STRUCT');
  if (id === undefined) throw new NotImplementedError(`vmlinux BTF without struct ${name}`);
  return id;
};

/** Socket-ish register types the kernel maps to BTF ids (reg2btf_ids). */
const reg2btfIds = (reg: RegState): boolean => {
  const b = baseType(reg.type);
  return b === RegType.PTR_TO_SOCKET || b === RegType.PTR_TO_SOCK_COMMON || b === RegType.PTR_TO_TCP_SOCK || b === RegType.PTR_TO_XDP_SOCK;
};

/** is_trusted_reg: referenced, or PTR_TRUSTED without the untrusted flag. */
function isTrustedReg(reg: RegState): boolean {
  if (reg.refObjId) return true;
  return (reg.type & PTR_TRUSTED) !== 0 && (reg.type & PTR_UNTRUSTED) === 0;
}

/** check_func_arg_reg_off for pointers a kfunc takes as they are. */
function checkZeroOffset(reg: RegState, regno: number): void {
  if (reg.off || !isConst(reg.s) || constValue(reg.s) !== 0n) throw new NotImplementedError(`kfunc pointer argument R${regno} with an offset`);
}

/** process_kf_arg_ptr_to_btf_id: the register points at the parameter's struct, or (for
 *  kfuncs that neither acquire nor release) at a struct that starts with it. */
function checkBtfIdArg(btf: Btf, k: KernelKfunc, i: number, regno: number, reg: RegState, refId: number, ref: BtfType): void {
  const regId = reg.btfId ?? 0;
  if (regId === refId) return;
  const strict = has(k, KF.ACQUIRE) || has(k, KF.RELEASE);
  if (!strict) {
    let id = regId;
    for (let depth = 0; depth < 8 && id; depth++) {
      const t = resolved(btf, id);
      if (t.kind !== 'STRUCT' || !t.members.length || t.members[0].bitOffset !== 0) break;
      id = skipModifiers(btf, t.members[0].type);
      if (id === refId) return;
    }
  }
  const regT = typeById(btf, regId);
  // A kfunc declared on a context projection (`__sk_buff`, `xdp_md`) accepts the kernel
  // struct behind it (btf_is_projection_of).
  if (isProjectionOf(ref.name, regT.name)) return;
  throw reject(EINVAL, `kernel function ${k.name} args#${i} expected pointer to ${kindStr(ref)} ${ref.name} but R${regno} has a pointer to ${kindStr(regT)} ${regT.name}`);
}

const isProjectionOf = (proj: string, kern: string): boolean =>
  (proj === '__sk_buff' && kern === 'sk_buff') || (proj === 'xdp_md' && kern === 'xdp_buff');

/** The context struct a program type's kfunc parameters name (btf_is_prog_ctx_type). */
function ctxStructName(t: string): string | undefined {
  switch (t) {
    case 'SOCKET_FILTER': case 'SCHED_CLS': case 'SCHED_ACT': case 'CGROUP_SKB': case 'LWT_IN': case 'LWT_OUT':
    case 'LWT_XMIT': case 'LWT_SEG6LOCAL': case 'SK_SKB':
      return '__sk_buff';
    case 'XDP': return 'xdp_md';
    case 'CGROUP_SOCK_ADDR': return 'bpf_sock_addr';
    case 'NETFILTER': return 'bpf_nf_ctx';
    default: return undefined;
  }
}

/** r0 from the kfunc's BTF return type. */
function setReturn(env: VerifierEnv, btf: Btf, k: KernelKfunc, meta: Meta, insnIdx: number): void {
  const r0 = env.curState.frames[env.curState.curframe].regs[0];
  const t = resolved(btf, k.retTypeId);
  const isStructPtr = t.kind === 'PTR' && resolved(btf, t.type).kind === 'STRUCT';
  if (has(k, KF.ACQUIRE) && !isStructPtr) throw reject(EINVAL, 'acquire kernel function does not return PTR_TO_BTF_ID');
  if (t.kind === 'UNKN') {
    markNotInit(r0);
    return;
  }
  if (isScalarType(t)) {
    markUnknown(r0);
    return;
  }
  if (t.kind !== 'PTR') throw new NotImplementedError(`kfunc returning a ${t.kind}`);
  const ptrId = skipModifiers(btf, t.type);
  const pt = typeById(btf, ptrId);
  if (k.name === 'bpf_cast_to_kern_ctx' && meta.retBtfId) {
    markPtr(r0, RegType.PTR_TO_BTF_ID | PTR_TRUSTED);
    r0.btfId = meta.retBtfId;
    return;
  }
  if (k.name === 'bpf_rdonly_cast') {
    rdonlyCastReturn(btf, r0, meta.constant ?? 0n);
    return;
  }
  if (k.name === 'bpf_cast_to_kern_ctx' || /^bpf_(obj_new|percpu_obj_new|refcount_acquire|list_|rbtree_|dynptr_slice)/.test(k.name)) {
    throw new NotImplementedError(`kfunc ${k.name} return value`);
  }
  if (pt.kind === 'UNKN') {
    // `void *` reads as a scalar.
    markUnknown(r0);
    return;
  }
  if (pt.kind !== 'STRUCT') {
    const size = typeSize(btf, ptrId);
    if (!size) throw reject(EINVAL, `kernel function ${k.name} returns pointer type ${kindStr(pt)} ${pt.name} is not supported`);
    markPtr(r0, RegType.PTR_TO_MEM | MEM_RDONLY);
    r0.memSize = size;
    if (meta.refObjId) r0.refObjId = meta.refObjId;
  } else {
    markPtr(r0, RegType.PTR_TO_BTF_ID);
    r0.btfId = ptrId;
    if (has(k, KF.ITER_NEXT)) throw new NotImplementedError('iterators returning BTF pointers');
  }
  if (has(k, KF.RET_NULL)) {
    r0.type |= PTR_MAYBE_NULL;
    r0.id = ++env.idGen;
  }
  if (has(k, KF.ACQUIRE)) {
    const id = acquireReference(env, insnIdx);
    r0.refObjId = id;
    if (has(k, KF.RET_NULL)) r0.id = id;
  }
}

/** bpf_rdonly_cast(obj, btf_id) (6.18, seen live): an untrusted pointer to the struct or
 *  union `btf_id` names, or for 0 (void) read-only untrusted memory of size 0 that loads
 *  may read anywhere in (probe reads). Other kinds are refused. */
function rdonlyCastReturn(btf: Btf, r0: RegState, id: bigint): void {
  const t = id < BigInt(btf.types.length) ? btf.types[Number(id)] : undefined;
  if (!t) throw reject(EINVAL, `Unknown type ID ${id} passed to kfunc bpf_rdonly_cast`);
  if (id === 0n) {
    markPtr(r0, RegType.PTR_TO_MEM | MEM_RDONLY | PTR_UNTRUSTED);
    r0.memSize = 0;
    return;
  }
  if (t.kind !== 'STRUCT' && t.kind !== 'UNION') throw reject(EINVAL, 'kfunc bpf_rdonly_cast type ID argument must be of a struct or void');
  markPtr(r0, RegType.PTR_TO_BTF_ID | PTR_UNTRUSTED);
  r0.btfId = Number(id);
}
