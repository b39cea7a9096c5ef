// check_attach_btf_id, the parts that need no attach target: a BPF_PROG_TYPE_SYSCALL
// program runs from the bpf() syscall, in process context, and must be loaded sleepable.

import { PROG_FLAGS } from '../../program/types.ts';
import { reject, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { checkAttachTarget } from '../checks/attach-target.ts';

export function checkAttachBtfId(env: VerifierEnv): void {
  const sleepable = (env.prog.flags & PROG_FLAGS.BPF_F_SLEEPABLE) !== 0;
  if (env.prog.progType === 'SYSCALL' && !sleepable) throw reject(EINVAL, 'Syscall programs can only be sleepable');
  checkAttachTarget(env.prog);
}
