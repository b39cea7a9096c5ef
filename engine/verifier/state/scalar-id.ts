// A scalar's link id (checks/linked-regs.ts) and its ADD_CONST flags, kept in a leaf module:
// printing and pruning read them without pulling in the jump code.

import type { RegState } from './types.ts';

// Flags above the id counter's range, so that flags plus id still fit in a V8 small integer
// (the kernel uses the top two bits of its u32 id).
/** Linked by a 64-bit `+= K` (BPF_ADD_CONST64). */
export const ADD_CONST64 = 1 << 29;
/** Linked by a 32-bit `+= K` (BPF_ADD_CONST32): the value wraps and zero-extends. */
export const ADD_CONST32 = 1 << 28;
export const ADD_CONST = ADD_CONST64 | ADD_CONST32;

/** The id without its ADD_CONST flags: what members of one link share. */
export const baseId = (id: number): number => id & ~ADD_CONST;

/** The id as the log prints it: `1`, or `1+4` / `1-4` for an offset link. */
export function scalarIdStr(r: RegState): string {
  if (!(r.id & ADD_CONST)) return String(r.id);
  return `${baseId(r.id)}${r.off < 0 ? '' : '+'}${r.off}`;
}
