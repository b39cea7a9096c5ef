// check_ptr_to_map_access: a privileged program may read the kernel struct behind a map
// (struct bpf_array, bpf_htab, ... as vmlinux BTF describes it) through a CONST_PTR_TO_MAP
// at a constant non-negative offset; what it reads is what btf_struct_access finds there.

import type { RegState } from '../state/types.ts';
import { RegType, MEM_RDONLY, PTR_UNTRUSTED } from '../state/types.ts';
import { markPtr, markUnknown } from '../state/regs.ts';
import { reject, EACCES, ENOTSUPP } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { kernelBtf, structIdByName } from '../btf-types.ts';
import { btfStructAccess, type BtfAccess } from '../btf-walk.ts';
import { checkMapPtrAccessUnpriv, mapStructName } from '../unpriv/map-ptr.ts';
import { MAP_TYPES } from '../../program/types.ts';
import { Access } from './mem.ts';

export function checkPtrToMapAccess(env: VerifierEnv, regno: number, reg: RegState, off: number, size: number, t: Access, dst: RegState | undefined): void {
  const def = reg.map!.def;
  const name = mapStructName(def);
  if (!name) throw reject(ENOTSUPP, `map_ptr access not supported for map type ${MAP_TYPES[def.type]}`);
  checkMapPtrAccessUnpriv(env, def);
  if (off < 0) throw reject(EACCES, `R${regno} is ${name} invalid negative access: off=${off}`);
  if (t !== Access.READ) throw reject(EACCES, `only read from ${name} is supported`);
  const got = btfStructAccess(kernelBtf(), structIdByName(name), off, size);
  if (got.kind === 'error') throw reject(got.errno, got.msg);
  if (dst) markBtfLoad(env, dst, got);
}

/** mark_btf_ld_reg: the register a load through a kernel struct fills. */
export function markBtfLoad(env: VerifierEnv, dst: RegState, got: Exclude<BtfAccess, { kind: 'error' }>): void {
  if (got.kind === 'scalar') return markUnknown(dst);
  if (got.kind === 'untrusted_mem') {
    markPtr(dst, RegType.PTR_TO_MEM | MEM_RDONLY | PTR_UNTRUSTED);
    dst.memSize = 0;
    return;
  }
  markPtr(dst, RegType.PTR_TO_BTF_ID | got.flags);
  dst.btfId = got.id;
  void env;
}
