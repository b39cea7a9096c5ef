// Loads through a pointer to a kernel struct (check_ptr_to_btf_access): privileged GPL
// programs may read fields at a constant, non-negative offset; a scalar field reads as an
// unknown scalar, a pointer field as a BTF pointer (btf-walk.ts). Writes need a program
// type with its own struct access rules (not modelled). A pointer field read through a
// trusted or RCU pointer keeps the trust the kernel's safe lists give it (btf-trust.ts).

import type { RegState } from '../state/types.ts';
import { MEM_USER, MEM_PERCPU, MEM_RCU, PTR_TRUSTED, PTR_UNTRUSTED, PTR_MAYBE_NULL } from '../state/types.ts';
import { isConst, constValue, fmtTnum } from '../scalar-api.ts';
import { reject, EACCES } from '../reject.ts';
import { NotImplementedError } from '../errors.ts';
import type { VerifierEnv } from '../env.ts';
import { btfTypeName, kernelBtf } from '../btf-types.ts';
import { btfStructAccess } from '../btf-walk.ts';
import { markBtfLoad } from './map-ptr-access.ts';
import { Access } from './mem.ts';
import { isTrustedOrRcu, inheritedTrust } from './btf-trust.ts';
import { activeRcuLock } from '../kfunc/rcu.ts';
import { activeLock } from './refs.ts';
import { PROG_FLAGS } from '../../program/types.ts';

/** in_rcu_cs: non-sleepable programs run under RCU; sleepable ones inside
 *  bpf_rcu_read_lock() or while holding a spin lock. */
const inRcuCs = (env: VerifierEnv): boolean =>
  !(env.prog.flags & PROG_FLAGS.BPF_F_SLEEPABLE) || activeRcuLock(env.curState) || activeLock(env.curState) !== undefined;

const isGplCompatible = (l: string): boolean =>
  ['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL'].includes(l);

export function checkPtrToBtfAccess(env: VerifierEnv, regno: number, reg: RegState, off: number, size: number, t: Access, dst: RegState | undefined): void {
  const name = btfTypeName(reg.btfId ?? 0);
  if (!env.allowPtrLeaks) throw reject(EACCES, `'struct ${name}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN`);
  if (!isGplCompatible(env.prog.license)) throw reject(EACCES, `Cannot access kernel 'struct ${name}' from non-GPL compatible program`);
  if (off < 0) throw reject(EACCES, `R${regno} is ptr_${name} invalid negative access: off=${off}`);
  if (!isConst(reg.s) || constValue(reg.s) !== 0n) {
    throw reject(EACCES, `R${regno} is ptr_${name} invalid variable offset: off=${off}, var_off=${fmtTnum(reg.s.varOff)}`);
  }
  if (reg.type & MEM_USER) throw reject(EACCES, `R${regno} is ptr_${name} access user memory: off=${off}`);
  if (reg.type & MEM_PERCPU) throw reject(EACCES, `R${regno} is ptr_${name} access percpu memory: off=${off}`);
  if (t !== Access.READ) {
    // Only tc, xdp and struct_ops have their own rules for writing kernel structs.
    if (['SCHED_CLS', 'SCHED_ACT', 'XDP', 'STRUCT_OPS'].includes(env.prog.progType)) throw new NotImplementedError('writes through BTF pointers');
    throw reject(EACCES, 'only read is supported');
  }
  const r = btfStructAccess(kernelBtf(), reg.btfId ?? 0, off, size);
  if (r.kind === 'error') throw reject(r.errno, r.msg);
  if (r.kind !== 'ptr') {
    if (dst) markBtfLoad(env, dst, r);
    return;
  }
  // A pointer field: how far the result is trusted follows from the base pointer.
  let flags: number;
  if (reg.type & PTR_UNTRUSTED) flags = PTR_UNTRUSTED;
  else if (isTrustedOrRcu(reg)) {
    flags = inheritedTrust(kernelBtf(), reg, r.field, r.id, r.flags, inRcuCs(env));
  } else flags = r.flags & ~(PTR_TRUSTED | MEM_RCU); // an old-style plain PTR_TO_BTF_ID
  if (dst) {
    markBtfLoad(env, dst, { ...r, flags });
    if (flags & PTR_MAYBE_NULL) dst.id = ++env.idGen;
  }
}
