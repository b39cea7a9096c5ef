// A dynptr's stack slots as the state keeps them (STACK_DYNPTR, kfunc/dynptr.ts): two 8-byte
// slots whose spilled records say the kind (`skb`, `xdp`, ...), the shared id, and which of
// the two is the first (higher-address, main) one. A leaf module (types only) so that the
// printer, the pruner and the stack writes can use it without import cycles.

import type { RegState } from '../state/types.ts';

/** The dynptr facts a slot's spilled record carries beside RegState.dynptrType. */
export type DynptrReg = RegState & { dynptrFirst?: boolean; dynptrId?: number };

/** Slots one dynptr takes (16 bytes). */
export const DYNPTR_NR_SLOTS = 2;

/** `dynptr_skb(id=1,dynptr_id=1)` for a dynptr's main slot. */
export function dynptrSlotText(spilled: RegState): string {
  const parts: string[] = [];
  if (spilled.id) parts.push(`id=${spilled.id}`);
  if (spilled.refObjId) parts.push(`ref_id=${spilled.refObjId}`);
  // 6.18 (observed on the live kernel): the slot's dynptr_id is the id of the first dynptr
  // made there; destroying and re-creating the dynptr leaves it.
  const did = (spilled as DynptrReg).dynptrId;
  if (did) parts.push(`dynptr_id=${did}`);
  return `dynptr_${spilled.dynptrType ?? ''}(${parts.join(',')})`;
}

/** stacksafe for a STACK_DYNPTR slot: same kind, same slot of the pair, matching references. */
export function dynptrSlotSafe(old: RegState, cur: RegState, checkIds: (a: number, b: number) => boolean): boolean {
  return old.dynptrType === cur.dynptrType && !!(old as DynptrReg).dynptrFirst === !!(cur as DynptrReg).dynptrFirst &&
    checkIds(old.refObjId, cur.refObjId);
}
