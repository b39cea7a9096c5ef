// Speculative paths (Spectre v1): without bypass_spec_v1 the verifier also walks the
// branch a CPU may mispredict. Such a state is marked speculative; pruning never lets it
// stand for a real one, and since 6.17 an error on it becomes a barrier instead of a
// rejection (do-check's hooks below).

import type { Insn } from '../../isa/insn.ts';
import { BPF_K, BPF_X, bpfSrc } from '../../isa/opcodes.ts';
import { cloneState } from '../state/types.ts';
import { markUnknown } from '../state/regs.ts';
import { pushStack } from '../branch-stack.ts';
import { Reject, EACCES, EINVAL, EPERM } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { specAux, peekSpecAux } from './aux.ts';

/** sanitize_speculative_path: queue `next` as a speculative continuation of the current
 *  state. For a decided jump the compared registers become unknown there (the CPU did not
 *  know them either). */
export function pushSpeculativePath(env: VerifierEnv, insn: Insn | undefined, next: number, cur: number): void {
  const st = cloneState(env.curState);
  st.speculative = true;
  if (insn) {
    const regs = st.frames[st.curframe].regs;
    markUnknownLike(env, regs[insn.dst]);
    if (bpfSrc(insn.code) === BPF_X) markUnknownLike(env, regs[insn.src]);
    else if (bpfSrc(insn.code) !== BPF_K) throw new Error('unreachable');
  }
  pushStack(env, st, next, cur);
}

/** mark_reg_unknown: an unprivileged loader's unknowns start precise. */
export function markUnknownLike(env: VerifierEnv, r: Parameters<typeof markUnknown>[0]): void {
  markUnknown(r);
  r.precise = !env.bpfCapable;
}

/** error_recoverable_with_nospec: on a speculative path these errors end the path behind
 *  a barrier (6.18); anything else still fails the load. */
export const recoverableWithNospec = (errno: number): boolean => errno === EPERM || errno === EACCES || errno === EINVAL;

/** A speculative path stops at a barrier already placed before `idx`. */
export const stopsBeforeInsn = (env: VerifierEnv, idx: number): boolean =>
  env.curState.speculative && !!peekSpecAux(env, idx)?.nospec;

/** ... or right after an insn followed by a barrier (a Spectre v4 store). */
export const stopsAfterInsn = (env: VerifierEnv, idx: number): boolean =>
  env.curState.speculative && !!peekSpecAux(env, idx)?.nospecResult;

/** A check failed at `idx`: on a speculative path a recoverable failure puts a barrier
 *  there, drops any masking and ends the path (its message stays in the log). */
export function recoverSpeculative(env: VerifierEnv, e: unknown, idx: number): boolean {
  if (!(e instanceof Reject) || !env.curState.speculative || !recoverableWithNospec(e.errno)) return false;
  if (e.text) env.log.verbose(`${e.text}\n`);
  const a = specAux(env, idx);
  a.nospec = true;
  a.aluState = 0;
  return true;
}

/** How `from X to Y` names a speculative state. */
export const specSuffix = (env: VerifierEnv): string => (env.curState.speculative ? ' (speculative execution)' : '');
