// Loads through a pointer to a kernel struct (check_ptr_to_btf_access): privileged GPL
// programs may read fields at a constant, non-negative offset; a scalar field reads as an
// unknown scalar. Writes need a program type with its own struct access rules (not
// modelled); walking into pointer fields (the trusted / RCU / untrusted flavours of the
// result) is not modelled either.

import type { RegState } from '../state/types.ts';
import { MEM_USER, MEM_PERCPU } from '../state/types.ts';
import { markUnknown } from '../state/regs.ts';
import { isConst, constValue, fmtTnum } from '../scalar-api.ts';
import { reject, EACCES } from '../reject.ts';
import { NotImplementedError } from '../errors.ts';
import type { VerifierEnv } from '../env.ts';
import { btfTypeName, walkStruct } from '../btf-types.ts';
import { Access } from './mem.ts';

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
  if (t !== Access.READ) throw new NotImplementedError('writes through BTF pointers');
  const r = walkStruct(reg.btfId ?? 0, off, size);
  if (r.kind === 'bad') throw new NotImplementedError(`BTF struct access that is ${r.why}`);
  if (r.kind === 'ptr') throw new NotImplementedError('loads of pointer fields through BTF pointers');
  if (dst) markUnknown(dst);
}
