// save_aux_ptr_type: an instruction that loads or stores through a pointer is later rewritten
// for that pointer's type (context field conversion, socket field access, ...), so every
// path must reach it with a compatible type. Types that get no rewrite (stack, map value,
// packet, ...) may mix; the ones below may not.

import { RegType, PTR_UNTRUSTED, baseType } from '../state/types.ts';
import { reject, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';

/** Types whose accesses are rewritten per type (reg_type_mismatch_ok is false for them). */
const REWRITTEN = new Set<number>([
  RegType.PTR_TO_CTX, RegType.PTR_TO_SOCKET, RegType.PTR_TO_SOCK_COMMON, RegType.PTR_TO_TCP_SOCK,
  RegType.PTR_TO_XDP_SOCK, RegType.PTR_TO_BTF_ID, RegType.PTR_TO_ARENA,
]);

const mismatch = (cur: number, prev: number): boolean =>
  cur !== prev && (REWRITTEN.has(baseType(cur)) || REWRITTEN.has(baseType(prev)));

/** Record the pointer type `type` (the register's type before the access) at `idx`.
 *  `allowTrustMismatch` (loads): trusted and untrusted BTF pointers meet as untrusted. */
export function saveAuxPtrType(env: VerifierEnv, idx: number, type: number, allowTrustMismatch: boolean): void {
  const aux = env.aux[idx];
  const prev = aux.ptrType;
  if (prev === undefined || prev === RegType.NOT_INIT) {
    aux.ptrType = type;
    return;
  }
  if (!mismatch(type, prev)) return;
  if (allowTrustMismatch && baseType(type) === RegType.PTR_TO_BTF_ID && baseType(prev) === RegType.PTR_TO_BTF_ID) {
    aux.ptrType = RegType.PTR_TO_BTF_ID | PTR_UNTRUSTED;
    return;
  }
  throw reject(EINVAL, 'same insn cannot be used with different pointers');
}
