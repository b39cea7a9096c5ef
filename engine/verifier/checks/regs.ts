// check_reg_arg: may an instruction read or write this register?

import { BPF_REG_FP, MAX_BPF_REG } from '../../isa/opcodes.ts';
import { RegType } from '../state/types.ts';
import type { VerifierEnv } from '../env.ts';
import { reject, EACCES, EINVAL } from '../reject.ts';

/** A source operand: must exist and be initialised. */
export function checkRegRead(env: VerifierEnv, regno: number): void {
  // 6.18: r11/r12/... are rejected here, when reached (see kernel-oracle.md).
  if (regno >= MAX_BPF_REG) throw reject(EINVAL, `R${regno} is invalid`);
  env.scratch.markReg(regno);
  const f = env.curState.frames[env.curState.curframe];
  if (f.regs[regno].type === RegType.NOT_INIT) throw reject(EACCES, `R${regno} !read_ok`);
}

/** A destination operand: must exist and not be the frame pointer. */
export function checkRegWrite(env: VerifierEnv, regno: number): void {
  if (regno >= MAX_BPF_REG) throw reject(EINVAL, `R${regno} is invalid`);
  env.scratch.markReg(regno);
  if (regno === BPF_REG_FP) throw reject(EACCES, 'frame pointer is read only');
}
