// The register types each pointer argument kind accepts (compatible_reg_types), for the
// kinds beyond the memory/map/ctx ones call.ts checks itself, and check_func_arg_reg_off's
// offset rules for them.

import { RegType, MEM_RINGBUF, MEM_RCU, PTR_TRUSTED } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import { isConst, constValue, fmtTnum } from '../scalar-api.ts';
import { regTypeStr } from '../log/state-print.ts';
import { reject, EACCES, EINVAL } from '../reject.ts';
import { Arg } from './protos.ts';

const SOCK = [RegType.PTR_TO_SOCK_COMMON, RegType.PTR_TO_SOCKET, RegType.PTR_TO_TCP_SOCK, RegType.PTR_TO_XDP_SOCK];

/** The accepted types per kind, in the kernel's order (the error lists them). */
export function compatibleTypes(arg: Arg): readonly number[] | undefined {
  switch (arg) {
    case Arg.PTR_TO_SOCK_COMMON: return SOCK;
    case Arg.PTR_TO_SOCKET: return [RegType.PTR_TO_SOCKET];
    case Arg.PTR_TO_BTF_ID_SOCK_COMMON: return [...SOCK, RegType.PTR_TO_BTF_ID, RegType.PTR_TO_BTF_ID | PTR_TRUSTED];
    // A map value, or an allocated object (MEM_ALLOC has no printed prefix).
    case Arg.PTR_TO_SPIN_LOCK: return [RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_BTF_ID];
    case Arg.PTR_TO_RINGBUF_MEM: return [RegType.PTR_TO_MEM | MEM_RINGBUF];
    case Arg.CONST_ALLOC_SIZE_OR_ZERO: return [RegType.SCALAR_VALUE];
    case Arg.PTR_TO_FUNC: return [RegType.PTR_TO_FUNC];
    case Arg.PTR_TO_TIMER: return [RegType.PTR_TO_MAP_VALUE];
    case Arg.PTR_TO_STACK_OR_NULL: return [RegType.PTR_TO_STACK];
    case Arg.PTR_TO_BTF_ID_TASK: return [RegType.PTR_TO_BTF_ID, RegType.PTR_TO_BTF_ID | PTR_TRUSTED, RegType.PTR_TO_BTF_ID | MEM_RCU];
    case Arg.PTR_TO_BTF_ID_SEQ_FILE: return [RegType.PTR_TO_BTF_ID, RegType.PTR_TO_BTF_ID | PTR_TRUSTED, RegType.PTR_TO_BTF_ID | MEM_RCU];
    default: return undefined;
  }
}

/** check_reg_type for the kinds above: true when `arg` is one of them (and the type fits). */
export function checkRegTypeOf(reg: RegState, regno: number, arg: Arg): boolean {
  const types = compatibleTypes(arg);
  if (!types) return false;
  // The BTF entry of spin_lock_types is an allocated object: a plain BTF pointer is not it.
  if (arg !== Arg.PTR_TO_SPIN_LOCK || reg.type !== RegType.PTR_TO_BTF_ID) {
    if (types.includes(reg.type)) return true;
  }
  throw reject(EACCES, `R${regno} type=${regTypeStr(reg.type)} expected=${types.map(regTypeStr).join(', ')}`);
}

/** __check_ptr_off_reg: a pointer passed where the kernel wants its start. */
export function checkPtrOffReg(reg: RegState, regno: number, fixedOffOk: boolean): void {
  const t = regTypeStr(reg.type);
  if (reg.off < 0) throw reject(EACCES, `negative offset ${t} ptr R${regno} off=${reg.off} disallowed`);
  if (!fixedOffOk && reg.off) throw reject(EACCES, `dereference of modified ${t} ptr R${regno} off=${reg.off} disallowed`);
  if (!isConst(reg.s) || constValue(reg.s) !== 0n) throw reject(EACCES, `variable ${t} access var_off=${fmtTnum(reg.s.varOff)} disallowed`);
}

/** check_func_arg_reg_off for a release argument and for the kinds above. */
export function checkFuncArgRegOff(reg: RegState, regno: number, arg: Arg, release: boolean): void {
  if (release) {
    if (reg.off) throw reject(EINVAL, `R${regno} must have zero offset when passed to release func or trusted arg to kfunc`);
    checkPtrOffReg(reg, regno, false);
    return;
  }
  switch (reg.type) {
    case RegType.PTR_TO_STACK:
    case RegType.PTR_TO_MAP_VALUE:
    case RegType.PTR_TO_MEM | MEM_RINGBUF:
    case RegType.SCALAR_VALUE:
      return;
    case RegType.PTR_TO_BTF_ID:
    case RegType.PTR_TO_BTF_ID | PTR_TRUSTED:
      checkPtrOffReg(reg, regno, true);
      return;
    default:
      checkPtrOffReg(reg, regno, false);
  }
  void arg;
}
