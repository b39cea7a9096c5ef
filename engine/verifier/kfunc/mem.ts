// Memory a kfunc reads and writes: a pointer to a scalar (or a struct of scalars) of its
// BTF size (check_mem_reg), or a buffer sized by the next argument (`__sz`, `__szk`:
// check_kfunc_mem_size_reg). Both are checked for reading and then for writing; a NULL-able
// pointer is checked as if it were not NULL.

import { PTR_MAYBE_NULL, RegType } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import { isConst, constValue } from '../scalar-api.ts';
import { Reject, reject, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { Access } from '../checks/mem.ts';
import { checkHelperMemAccess, checkMemSizeReg, type CallMeta } from '../checks/call.ts';
import type { KernelParam } from './meta.ts';

// The size checks only fill in the raw-buffer fields; the cast leaves the helper-only
// fields (which other helpers' work keeps adding) at their defaults.
const newMeta = (): CallMeta => ({ map: undefined, constKey: -1n, rawRegno: -1, rawSize: 0 }) as CallMeta;

/** Run `check` with the pointer in `regno` treated as non-NULL, then restore its type. */
function asNonNull(env: VerifierEnv, regno: number, check: () => void): void {
  const reg = env.curState.frames[env.curState.curframe].regs[regno];
  const saved = reg.type;
  reg.type &= ~PTR_MAYBE_NULL;
  try {
    check();
  } finally {
    reg.type = saved;
  }
}

/** check_mem_reg: `size` bytes at the pointer in `regno`. */
export function checkKfuncMem(env: VerifierEnv, regno: number, size: number): void {
  asNonNull(env, regno, () => {
    checkHelperMemAccess(env, regno, size, Access.READ, true, undefined, false);
    checkHelperMemAccess(env, regno, size, Access.WRITE, true, undefined, false);
  });
}

const isNull = (r: RegState): boolean => r.type === RegType.SCALAR_VALUE && isConst(r.s) && constValue(r.s) === 0n;

/** A memory + size pair at argument i (registers regno, regno+1). Returns the size when it
 *  is a `__szk` constant. */
export function checkKfuncMemSize(env: VerifierEnv, regno: number, buf: KernelParam, size: KernelParam, i: number): bigint | undefined {
  const regs = env.curState.frames[env.curState.curframe].regs;
  if (!isNull(regs[regno]) || buf.suffix !== '__opt') {
    try {
      asNonNull(env, regno, () => {
        checkMemSizeReg(env, regno + 1, Access.READ, true, newMeta(), false);
        checkMemSizeReg(env, regno + 1, Access.WRITE, true, newMeta(), false);
      });
    } catch (e) {
      if (!(e instanceof Reject)) throw e;
      const text = `${e.text ? `${e.text}\n` : ''}arg#${i} arg#${i + 1} memory, len pair leads to invalid memory access`;
      throw new Reject(e.errno, text);
    }
  }
  if (size.suffix !== '__szk') return undefined;
  const sreg = regs[regno + 1];
  if (!isConst(sreg.s)) throw reject(EINVAL, `R${regno + 1} must be a known constant`);
  return constValue(sreg.s);
}
