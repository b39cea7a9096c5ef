// An iterator's stack slots as the state keeps them (STACK_ITER, kfunc/iter.ts): the
// facts, their log text and their comparison in state pruning. A leaf module (types only)
// so that the printer and the pruner can use it without import cycles.

import type { Btf } from '../../btf/index.ts';
import type { RegState } from '../state/types.ts';

/** What the first (main) slot of an iterator remembers. */
export interface IterState {
  /** The iterator struct's vmlinux type id. */
  readonly btfId: number;
  readonly state: 'active' | 'drained';
  readonly depth: number;
}

/** A stack slot's iterator facts live next to the spilled-register record. */
export type IterReg = RegState & { iter?: IterState };

/** `bits` for struct bpf_iter_bits (iter_type_str). */
export function iterKind(btf: Btf, structId: number): string {
  return btf.types[structId].name.replace(/^bpf_iter_/, '');
}

/** ` fp-16=iter_bits(ref_id=1,state=active,depth=0)` for the main slot of an iterator, or
 *  undefined for any other slot. */
export function iterSlotText(btf: Btf | undefined, spilled: RegState): string | undefined {
  const it = (spilled as IterReg).iter;
  if (!it || !spilled.refObjId || !btf) return undefined;
  return `iter_${iterKind(btf, it.btfId)}(ref_id=${spilled.refObjId},state=${it.state},depth=${it.depth})`;
}

/** stacksafe for a STACK_ITER slot: same kind, same state, matching references; the depth
 *  is ignored (that is how loops over an iterator converge). */
export function iterSlotSafe(old: RegState, cur: RegState, checkIds: (a: number, b: number) => boolean): boolean {
  const o = (old as IterReg).iter;
  const c = (cur as IterReg).iter;
  if (!o || !c) return false;
  return o.btfId === c.btfId && o.state === c.state && checkIds(old.refObjId, cur.refObjId);
}
