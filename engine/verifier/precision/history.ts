// The jmp history (6.18 bpf_jmp_history_entry): per state, the instructions since its parent
// checkpoint that backtracking cannot reconstruct from the program text alone: jump targets
// (where the previous insn is not idx-1), spills/fills of scalars (which stack slot), and the
// scalars a conditional jump linked. One entry per instruction; a second push for the same
// instruction merges into it (env.curHistEnt).

import type { HistEntry, LinkedReg, VerifierState } from '../state/types.ts';
import type { VerifierEnv } from '../env.ts';

/** Record the current instruction in `st`'s history, or add to its entry. */
export function pushJmpHistory(
  env: VerifierEnv, st: VerifierState, stack?: { frameno: number; spi: number }, linked?: readonly LinkedReg[], regStack = 0,
): void {
  const cur = env.curHistEnt;
  if (cur) {
    if (stack) cur.stack = stack;
    if (linked) cur.linked = linked;
    if (regStack) cur.regStack = (cur.regStack ?? 0) | regStack;
    return;
  }
  // All fields present (stackArg too) so that every entry has one hidden class.
  const e: HistEntry = { idx: env.insnIdx, prevIdx: env.prevInsnIdx, stack, stackArg: undefined, linked, regStack };
  st.jmpHistory.push(e);
  env.curHistEnt = e;
}

/** The entry for `idx` when it is the last one not yet walked back over. */
export function histEntryAt(st: VerifierState, histEnd: number, idx: number): HistEntry | undefined {
  return histEnd > 0 && st.jmpHistory[histEnd - 1].idx === idx ? st.jmpHistory[histEnd - 1] : undefined;
}

/** The insn executed before `idx` on this path, or -1 at the start of the state's segment.
 *  `cursor.end` counts the history entries not yet consumed. */
export function prevInsnIdx(st: VerifierState, idx: number, cursor: { end: number }): number {
  const cnt = cursor.end;
  if (idx === st.firstInsnIdx) {
    if (cnt === 0) return -1;
    if (cnt === 1 && st.jmpHistory[0].idx === idx) return -1;
  }
  if (cnt && st.jmpHistory[cnt - 1].idx === idx) {
    cursor.end--;
    return st.jmpHistory[cnt - 1].prevIdx;
  }
  return idx - 1;
}
