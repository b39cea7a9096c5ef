// check_btf_info's rules on subprograms: LD_ABS/LD_IND and tail calls may end a function
// abnormally (an implicit `return 0`, or never returning), so a subprogram using them needs a
// BTF prototype, and one that returns an integer.

import type { VerifierEnv } from '../env.ts';
import { reject, EINVAL } from '../reject.ts';

/** Whether the load carries BTF func_info: the caller says so (a libbpf object built with
 *  -g), or a global subprogram forces it; failing that, a subprogram whose return type is
 *  known can only have come from BTF. */
export function hasFuncInfo(env: VerifierEnv): boolean {
  if (env.opts.funcInfo !== undefined) return env.opts.funcInfo || env.prog.funcs.some((f) => f.start > 0 && f.linkage === 'global');
  return env.prog.funcs.some((f) => f.start > 0 && (f.linkage === 'global' || f.ret !== undefined));
}

/** C return types BTF calls a small int or an enum (btf_type_is_small_int / enum). */
const isScalarReturn = (ret: string | undefined): boolean =>
  ret === undefined || (!ret.includes('*') && ret !== 'void' && !/^(struct|union)\b/.test(ret.trim()));

/** check_abnormal_return (no func_info) and the return-type part of check_btf_func. */
export function checkSubprogAbnormalReturns(env: VerifierEnv): void {
  const btf = hasFuncInfo(env);
  for (let i = 1; i < env.subprogs.length; i++) {
    const sp = env.subprogs[i];
    if (!btf) {
      if (sp.hasLdAbs) throw reject(EINVAL, 'LD_ABS is not allowed in subprogs without BTF');
      if (sp.hasTailCall) throw reject(EINVAL, 'tail_call is not allowed in subprogs without BTF');
      continue;
    }
    const ret = env.prog.funcs.find((f) => f.start === sp.start)?.ret;
    if (isScalarReturn(ret)) continue;
    if (sp.hasLdAbs) throw reject(EINVAL, "LD_ABS is only allowed in functions that return 'int'.");
    if (sp.hasTailCall) throw reject(EINVAL, "tail_call is only allowed in functions that return 'int'.");
  }
}
