// BTF-typed contexts (6.18 btf_ctx_access) for tp_btf, fentry/fexit/fmod_ret, lsm and iter
// programs: the ctx is an array of u64 slots, one per argument of the attach target's
// FUNC_PROTO (fexit/lsm: one more, the return value; a struct passed by value takes as many
// slots as it needs). What a load yields follows from the argument's type: scalars for
// ints, enums and structs by value, and for `void *` and int pointers; a pointer to a kernel
// struct otherwise. Iterator targets override some fields (iter-targets.ts): NULL-able
// buffers for map keys and values, NULL-able pointers for the object iterated over.
//
// A refused access logs why (the same lines as the kernel) before `invalid bpf_context
// access`. Loads are read-only, aligned to their size and 8-byte slots; pointers need
// full 8-byte loads.
//
// tp_btf arguments known to be NULL-able come from raw-tp-nullable.ts. Not modelled: module
// BTF (module tracepoint pointers are NULL-able), freplace targets, and the LSM
// return-value slot's range (is_retval): it reads as an unknown scalar.

import { RegType, PTR_TRUSTED, PTR_MAYBE_NULL, MEM_USER, MEM_PERCPU, baseType } from '../state/types.ts';
import { NotImplementedError } from '../errors.ts';
import type { Program } from '../../program/types.ts';
import type { Btf, BtfType, BtfParam } from '../../btf/index.ts';
import { typeById, skipModifiers, isModifier } from '../../btf/index.ts';
import { attachTarget, type AttachTarget } from './attach-target.ts';
import { iterTarget, type IterCtxArgs } from './iter-targets.ts';
import { rawTpArgNullable } from './raw-tp-nullable.ts';
import type { CtxAccess } from './ctx.ts';

const SCALAR: CtxAccess = { regType: RegType.SCALAR_VALUE };
const MAX_BPF_FUNC_ARGS = 12;

/** Programs whose ctx is the attach target's argument array. */
export function hasBtfCtx(p: Program): boolean {
  return p.progType === 'LSM' || p.progType === 'TRACING';
}

/** __btf_name_by_offset: unnamed types print as `(anon)`. */
const nameOf = (t: BtfType): string => t.name || '(anon)';
const isStructOrUnion = (t: BtfType): boolean => t.kind === 'STRUCT' || t.kind === 'UNION';
/** btf_type_is_small_int: an int that fits a u64 slot. */
const isSmallInt = (t: BtfType): boolean => t.kind === 'INT' && t.size <= 8;

/** Bytes an argument (or the return value) takes in the ctx: pointers one slot, values
 *  rounded up to whole slots. */
function slotBytes(btf: Btf, typeId: number): number {
  const t = typeById(btf, skipModifiers(btf, typeId));
  if (t.kind === 'PTR') return 8;
  const size = 'size' in t && typeof t.size === 'number' ? t.size : 0;
  return Math.ceil(size / 8) * 8;
}

/** get_ctx_arg_idx: the argument `off` falls in (params.length for the return slot,
 *  params.length + 1 beyond it). */
export function ctxArgIndex(btf: Btf, params: readonly BtfParam[], retType: number, off: number): number {
  let end = 0;
  for (let i = 0; i < params.length; i++) {
    end += slotBytes(btf, params[i].type);
    if (off < end) return i;
  }
  end += slotBytes(btf, retType);
  return off < end ? params.length : params.length + 1;
}

/** Byte offset of the argument named `name` in the ctx (btf_ctx_arg_offset), or -1. */
export function ctxArgOffset(btf: Btf, params: readonly BtfParam[], name: string): number {
  let off = 0;
  for (const p of params) {
    if (p.name === name) return off;
    off += slotBytes(btf, p.type);
  }
  return -1;
}

/** prog_args_trusted: raw tracepoints, iterators and most LSM hooks pass live objects. */
const UNTRUSTED_LSM_HOOKS = new Set(['bpf_map_free', 'bpf_prog_free', 'file_alloc_security', 'file_free_security',
  'sk_alloc_security', 'sk_free_security', 'task_free'].map((h) => `bpf_lsm_${h}`));

function argsTrusted(p: Program, t: AttachTarget): boolean {
  if (p.progType === 'LSM') return !UNTRUSTED_LSM_HOOKS.has(t.name);
  return p.expectedAttachType === 'TRACE_RAW_TP' || p.expectedAttachType === 'TRACE_ITER';
}

/** The name the kernel's messages use: tp_btf targets without their `btf_trace_` prefix. */
const funcName = (p: Program, t: AttachTarget): string =>
  p.expectedAttachType === 'TRACE_RAW_TP' ? t.name.replace(/^btf_trace_/, '') : t.name;

/** An iterator's special fields, keyed by ctx offset. */
function iterFields(p: Program, t: AttachTarget): Map<number, { regType: number; param: BtfParam }> {
  const fields = new Map<number, { regType: number; param: BtfParam }>();
  if (p.expectedAttachType !== 'TRACE_ITER' || !p.attachTo) return fields;
  const args: IterCtxArgs | undefined = iterTarget(p.attachTo);
  for (const [name, regType] of Object.entries(args ?? {})) {
    const off = ctxArgOffset(t.btf, t.params, name);
    if (off < 0) throw new NotImplementedError(`iterator ${t.name} without a '${name}' argument`);
    fields.set(off, { regType, param: t.params.find((q) => q.name === name)! });
  }
  return fields;
}

/** The pointee of a pointer argument, past modifiers, with the id the kernel reports and
 *  the __user / __percpu tag right under the pointer. */
function pointee(btf: Btf, ptrTarget: number): { id: number; t: BtfType; tagFlags: number } {
  let id = ptrTarget;
  let t = typeById(btf, id);
  let tagFlags = 0;
  if (t.kind === 'TYPE_TAG') {
    if (t.name === 'user') tagFlags |= MEM_USER;
    if (t.name === 'percpu') tagFlags |= MEM_PERCPU;
  }
  for (let depth = 0; isModifier(t) && depth < 32; depth++) {
    id = t.type;
    t = typeById(btf, id);
  }
  return { id, t, tagFlags };
}

/** tracing_prog_is_valid_access / btf_ctx_access: what a load of `size` bytes at `off`
 *  yields, or undefined (after logging the kernel's reason, when it gives one). */
export function btfCtxAccess(p: Program, off: number, size: number, write: boolean, log: (s: string) => void = () => {}): CtxAccess | undefined {
  if (off < 0 || off >= 8 * MAX_BPF_FUNC_ARGS || write || off % size !== 0) return undefined;
  const t = attachTarget(p);
  if (!t) throw new NotImplementedError(`BTF context of ${p.progType} without an attach target`);
  const btf = t.btf;
  const name = funcName(p, t);
  const refuse = (msg: string): undefined => {
    log(`${msg}\n`);
    return undefined;
  };
  if (off % 8) return refuse(`func '${name}' offset ${off} is not multiple of 8`);

  // tp_btf: slots are counted over the whole prototype, `void *__data` included, and then
  // indexed into the arguments after it (the kernel's own off-by-one).
  const arg = ctxArgIndex(btf, t.proto.params, t.proto.type, off);
  const nargs = t.params.length;
  if (arg > nargs) return refuse(`func '${name}' doesn't have ${arg + 1}-th argument`);

  let ty: BtfType;
  if (arg === nargs) {
    switch (p.expectedAttachType) {
      case 'LSM_MAC': case 'LSM_CGROUP': case 'TRACE_FEXIT':
        ty = typeById(btf, t.proto.type);
        break;
      case 'MODIFY_RETURN':
        ty = typeById(btf, skipModifiers(btf, t.proto.type));
        if (!isSmallInt(ty)) return refuse(`ret type ${ty.kind} not allowed for fmod_ret`);
        break;
      default:
        return refuse(`func '${name}' doesn't have ${arg + 1}-th argument`);
    }
  } else {
    ty = typeById(btf, t.params[arg].type);
  }
  for (let depth = 0; isModifier(ty) && depth < 32; depth++) ty = typeById(btf, ty.type);

  if (isSmallInt(ty) || ty.kind === 'ENUM' || ty.kind === 'ENUM64' || isStructOrUnion(ty)) return SCALAR;
  if (ty.kind !== 'PTR') {
    return refuse(`func '${name}' arg${arg} '${nameOf(ty)}' has type ${ty.kind}. Only pointer access is allowed`);
  }
  if (size !== 8) return refuse(`func '${name}' size ${size} must be 8`);

  const special = iterFields(p, t).get(off);
  if (special && baseType(special.regType) === RegType.PTR_TO_BUF) return { regType: special.regType };
  // `void *` and pointers to ints carry no type to walk: plain numbers.
  if (ty.type === 0) return SCALAR;
  if (typeById(btf, skipModifiers(btf, ty.type)).kind === 'INT') return SCALAR;
  if (special) {
    const target = pointee(btf, ty.type);
    if (!isStructOrUnion(target.t)) return refuse(`invalid btf_id for context argument offset ${off}`);
    return { regType: special.regType, btfId: target.id };
  }

  let regType: number = RegType.PTR_TO_BTF_ID;
  if (argsTrusted(p, t)) regType |= PTR_TRUSTED;
  if (arg < nargs && t.params[arg].name.endsWith('__nullable')) regType |= PTR_MAYBE_NULL;
  if (p.expectedAttachType === 'TRACE_RAW_TP' && rawTpArgNullable(name, arg)) regType |= PTR_MAYBE_NULL;
  const target = pointee(btf, ty.type);
  regType |= target.tagFlags;
  if (!isStructOrUnion(target.t)) return refuse(`func '${name}' arg${arg} type ${target.t.kind} is not a struct`);
  log(`func '${name}' arg${arg} has btf_id ${target.id} type ${target.t.kind} '${nameOf(target.t)}'\n`);
  return { regType, btfId: target.id };
}
