// Stack stores without CAP_PERFMON: a spilled pointer may not be partly overwritten (its
// bytes would leak through the rest), and without bypass_spec_v4 a store that replaces a
// pointer or non-data bytes gets a barrier after it, so a speculatively bypassed store
// cannot expose the old contents (6.18 checks the bytes actually written).

import { RegType, SlotType } from '../state/types.ts';
import type { RegState, StackSlot } from '../state/types.ts';
import { isPointer } from '../state/regs.ts';
import { reject, EACCES } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { specAux } from './aux.ts';

const BPF_REG_SIZE = 8;

/** The unprivileged rules of check_stack_write_fixed_off, before the slot changes. `off`
 *  is the frame offset of the first byte; `reg` the stored register (none for BPF_ST). */
export function checkStackWriteUnpriv(env: VerifierEnv, slot: StackSlot, off: number, size: number, reg: RegState | undefined): void {
  const spilledPtr = slot.slotType[BPF_REG_SIZE - 1] === SlotType.SPILL && slot.spilled.type !== RegType.SCALAR_VALUE;
  if (!env.allowPtrLeaks && spilledPtr && size !== BPF_REG_SIZE) throw reject(EACCES, 'attempt to corrupt spilled pointer on stack');
  if (env.bypassSpecV4) return;
  let barrier = !!reg && isPointer(reg);
  const first = -off - 1;
  for (let i = 0; i < size && !barrier; i++) {
    const t = slot.slotType[(first - i) & 7];
    if (t !== SlotType.MISC && t !== SlotType.ZERO) barrier = true;
  }
  if (barrier) specAux(env, env.insnIdx).nospecResult = true;
}
