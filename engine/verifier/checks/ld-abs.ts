// Legacy packet loads BPF_LD | BPF_ABS / BPF_IND (check_ld_abs): socket filters and tc
// programs only; the skb comes implicitly from r6, which must be the unmodified context;
// r1..r5 are clobbered (a helper is called behind the scenes) and r0 gets the data.

import type { Insn } from '../../isa/insn.ts';
import { BPF_ABS, BPF_IND, BPF_DW, bpfMode, bpfSize } from '../../isa/opcodes.ts';
import { RegType } from '../state/types.ts';
import { cloneState } from '../state/types.ts';
import { markKnown, markNotInit, markUnknown } from '../state/regs.ts';
import { pushStack } from '../branch-stack.ts';
import { prepareFuncExit } from './call.ts';
import { isConst, fmtTnum } from '../scalar-api.ts';
import { reject, EACCES, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { checkRegRead, checkRegWrite } from './regs.ts';
import { checkResourceLeak } from './refs.ts';

const MAY_ACCESS_SKB = new Set(['SOCKET_FILTER', 'SCHED_CLS', 'SCHED_ACT']);

/** Returns true when the load is in a subprogram: a failed load returns 0 from it there
 *  (ldAbsEarlyExit explores that), in the main program it ends the program, which is safe. */
export function checkLdAbs(env: VerifierEnv, insn: Insn): boolean {
  const regs = env.curState.frames[env.curState.curframe].regs;
  const mode = bpfMode(insn.code);
  if (!MAY_ACCESS_SKB.has(env.prog.progType)) throw reject(EINVAL, 'BPF_LD_[ABS|IND] instructions not allowed for this program type');
  if (insn.dst !== 0 || insn.off !== 0 || bpfSize(insn.code) === BPF_DW || (mode === BPF_ABS && insn.src !== 0)) {
    throw reject(EINVAL, 'BPF_LD_[ABS|IND] uses reserved fields');
  }
  checkRegRead(env, 6);
  // The program may end inside the insn (packet too short): nothing may be held.
  checkResourceLeak(env, true, 'BPF_LD_[ABS|IND]');
  if (regs[6].type !== RegType.PTR_TO_CTX) throw reject(EINVAL, 'at the time of BPF_LD_ABS|IND R6 != pointer to skb');
  if (mode === BPF_IND) checkRegRead(env, insn.src);
  if (regs[6].off) throw reject(EACCES, `dereference of modified ctx ptr R6 off=${regs[6].off} disallowed`);
  if (!isConst(regs[6].s)) throw reject(EACCES, `variable ctx access var_off=${fmtTnum(regs[6].s.varOff)} disallowed`);
  for (let r = 0; r <= 5; r++) {
    markNotInit(regs[r]);
    checkRegWrite(env, r);
  }
  markUnknown(regs[0]);
  return env.curState.curframe > 0;
}

/** 6.18: the load's failure path, `return 0` from the current function, is walked first;
 *  the loaded value continues at the next insn later. Returns the insn to go on with. */
export function ldAbsEarlyExit(env: VerifierEnv, idx: number): number {
  pushStack(env, cloneState(env.curState), idx + 1, idx);
  markKnown(env.curState.frames[env.curState.curframe].regs[0], 0n);
  return prepareFuncExit(env);
}
