// Loops the verifier lets run without a bound it can see (6.18 is_state_visited, the part
// about checkpoints still being explored): an open-coded iterator's `_next` call, and a
// call that runs a callback more than once (bpf_loop and friends). Going around such a
// loop and arriving in a state that matches (RANGE_WITHIN) a checkpoint of an earlier pass
// proves the loop converged: the path is pruned and recorded as a back-edge. Anything else
// at those insns is not an infinite loop either (iterators and callbacks end by contract),
// so the exact-match infinite-loop check is skipped there.

import { BPF_CALL, BPF_JMP, BPF_PSEUDO_KFUNC_CALL, BPF_REG_1 } from '../isa/opcodes.ts';
import { SlotType } from './state/types.ts';
import type { VerifierState } from './state/types.ts';
import type { VerifierEnv } from './env.ts';
import { isIterNextCall } from './kfunc/meta.ts';
import type { IterReg } from './kfunc/iter-slot.ts';
import { constValue } from './scalar-api.ts';

/** is_iter_next_insn: a kfunc call to some iterator's `_next`. */
export function isIterNextInsn(env: VerifierEnv, idx: number): boolean {
  const s = env.slots[idx];
  return s.code === (BPF_JMP | BPF_CALL) && s.src === BPF_PSEUDO_KFUNC_CALL && isIterNextCall(env.prog.progType, s);
}

/** At an iterator's `_next` (its state already found equal to the checkpoint's): the loop
 *  converged when the iterator is still active; a drained one only repeats the exit. */
export function iterLoopConverged(cur: VerifierState): boolean {
  const reg = cur.frames[cur.curframe].regs[BPF_REG_1];
  const off = reg.off + Number(BigInt.asIntN(64, constValue(reg.s)));
  const spi = Math.floor((-off - 1) / 8);
  const it = (cur.frames[reg.frameno].stack[spi]?.spilled as IterReg | undefined)?.iter;
  return it?.state === 'active';
}

/** iter_active_depths_differ: an active iterator one pass deeper means progress, so an
 *  otherwise identical state is not an infinite loop. */
export function iterActiveDepthsDiffer(old: VerifierState, cur: VerifierState): boolean {
  for (let fr = old.curframe; fr >= 0; fr--) {
    const f = old.frames[fr];
    for (let spi = 0; spi < f.allocatedStack / 8; spi++) {
      if (f.stack[spi].slotType[0] !== SlotType.ITER) continue;
      const o = (f.stack[spi].spilled as IterReg).iter;
      if (o?.state !== 'active') continue;
      const c = (cur.frames[fr].stack[spi]?.spilled as IterReg | undefined)?.iter;
      if (c?.depth !== o.depth) return true;
    }
  }
  return false;
}

/** Helpers that run a callback synchronously, maybe many times (is_sync_callback_calling_
 *  function): for_each_map_elem, find_vma, loop, user_ringbuf_drain. */
export const SYNC_CALLBACK_HELPERS: ReadonlySet<number> = new Set([164, 180, 181, 209]);

/** calls_callback: a helper call that re-enters a callback (the CFG pass makes it a forced
 *  checkpoint, so that callback passes can be found equal). */
export function callsCallback(env: VerifierEnv, idx: number): boolean {
  const s = env.slots[idx];
  return s.code === (BPF_JMP | BPF_CALL) && s.src === 0 && SYNC_CALLBACK_HELPERS.has(s.imm);
}
