// print_insn_state: the registers and stack slots the last instructions touched, either
// appended to the last instruction line (`; R0=1`) or on a line of their own (`N: R0=1`).

import { printVerifierState } from './state-print.ts';
import { vlogAlignment } from './log.ts';
import type { VerifierEnv } from '../env.ts';

export function printInsnState(env: VerifierEnv, insnIdx: number): void {
  const log = env.log;
  if (!log.level1) return;
  const st = env.curState;
  if (log.prevLogPos && log.prevLogPos === log.pos) {
    log.reset(log.prevLogPos - 1);
    log.verbose(' '.repeat(vlogAlignment(log.prevInsnPrintPos)) + ';');
  } else {
    log.verbose(`${insnIdx}:`);
  }
  log.verbose(printVerifierState(st, st.frames[st.curframe], false, env.scratch));
  env.scratch.clear();
}

