// BTF-typed contexts (6.18 btf_ctx_access) for tp_btf, fentry/fexit/fmod_ret and lsm
// programs: the ctx is an array of u64 slots, one per argument of the attach target's
// FUNC_PROTO (fexit: one more, the return value). Scalars read as scalars; pointers to
// structs become trusted BTF pointers.

import { RegType, PTR_TRUSTED } from '../state/types.ts';
import { NotImplementedError } from '../errors.ts';
import type { Program } from '../../program/types.ts';
import { resolved, isScalarType } from '../btf-types.ts';
import { attachTarget } from './attach-target.ts';
import type { CtxAccess } from './ctx.ts';

const SCALAR: CtxAccess = { regType: RegType.SCALAR_VALUE };
const MAX_BPF_FUNC_ARGS = 12;

/** Programs whose ctx is the attach target's argument array (iter contexts are not). */
export function hasBtfCtx(p: Program): boolean {
  if (p.progType === 'LSM') return true;
  return p.progType === 'TRACING' && p.expectedAttachType !== 'TRACE_ITER';
}

export function btfCtxAccess(p: Program, off: number, size: number, write: boolean): CtxAccess | undefined {
  // bpf_tracing_ctx_access: read only, aligned, inside the argument array.
  if (off < 0 || off >= 8 * MAX_BPF_FUNC_ARGS || write || off % size !== 0) return undefined;
  const t = attachTarget(p);
  if (!t) throw new NotImplementedError(`BTF context of ${p.progType} without an attach target`);
  const arg = Math.floor(off / 8);
  const nargs = t.params.length;
  const retSlot = p.expectedAttachType === 'TRACE_FEXIT' || p.expectedAttachType === 'MODIFY_RETURN' || p.progType === 'LSM';
  let typeId: number;
  if (arg < nargs) typeId = t.params[arg].type;
  else if (arg === nargs && retSlot) typeId = t.proto.type;
  else throw new NotImplementedError(`btf_ctx_access beyond the arguments of ${t.name}`);
  if (off % 8 !== 0 || size !== 8) {
    const ty = resolved(t.btf, typeId);
    if (isScalarType(ty)) return SCALAR;
    throw new NotImplementedError('narrow loads of BTF ctx pointer arguments');
  }
  if (typeId === 0) return SCALAR;
  const ty = resolved(t.btf, typeId);
  if (isScalarType(ty)) return SCALAR;
  if (ty.kind !== 'PTR') throw new NotImplementedError(`BTF ctx argument of kind ${ty.kind}`);
  const pointee = resolved(t.btf, ty.type);
  if (pointee.kind === 'INT') return SCALAR; // int pointers read as plain numbers
  if (pointee.kind !== 'STRUCT') throw new NotImplementedError(`BTF ctx pointer to ${pointee.kind}`);
  return { regType: RegType.PTR_TO_BTF_ID | PTR_TRUSTED, btfStruct: pointee.name };
}
