// The bpf_fastcall stack contract (6.18), apart from the pattern search in fastcall.ts so
// that the stack checks (checks/mem.ts) can call it without importing the helper and kfunc
// tables: a stack access from anything but a pattern's own spill or fill, into the slots the
// patterns of that function use, voids all of them.

import type { VerifierEnv } from './env.ts';

/** fastcall_stack_off of a function whose patterns were voided: below every offset. */
const S16_MIN = -32768;

/** What the pre-pass found (the kernel keeps it in insn_aux_data and subprog_info). */
export interface FastcallMarks {
  /** Per slot: a spill or fill of some pattern (fastcall_pattern). */
  readonly pattern: Uint8Array;
  /** Per call slot: how many spill/fill pairs may be removed (fastcall_spills_num). */
  readonly spills: Uint8Array;
  /** Per function: where the pattern slots end, [lowest .. stackOff) (fastcall_stack_off);
   *  0 with no pattern, S16_MIN once voided. */
  readonly stackOff: number[];
  /** Per function: a pattern around a call that is not inlined keeps the depth as is. */
  readonly keepStack: boolean[];
}

const marksOf = new WeakMap<VerifierEnv, FastcallMarks>();

/** The marks of this run, when the program has a pattern at all. */
export const fastcallMarks = (env: VerifierEnv): FastcallMarks | undefined => marksOf.get(env);

/** Set by markFastcallPatterns when the program has a pattern. */
export const setFastcallMarks = (env: VerifierEnv, m: FastcallMarks): void => {
  marksOf.set(env, m);
};

/** check_fastcall_stack_contract: a stack access at `off` in function `sub` from the insn
 *  being checked. Touching the pattern slots from anything but a pattern's own spill or
 *  fill voids every pattern of that function. */
export function checkFastcallStackContract(env: VerifierEnv, sub: number, off: number): void {
  const m = marksOf.get(env);
  if (!m || m.stackOff[sub] <= off || m.pattern[env.insnIdx]) return;
  m.stackOff[sub] = S16_MIN;
  const end = env.subprogs[sub + 1]?.start ?? env.insnCnt;
  m.pattern.fill(0, env.subprogs[sub].start, end);
  m.spills.fill(0, env.subprogs[sub].start, end);
}
