// verbose_invalid_scalar's text: which bounds a return register has, for the "should have
// been in [lo, hi]" refusals at program exit, callback return and async callback return.

import type { RegState } from '../state/types.ts';

/** `<ctx> the register <name> has smin=.. smax=..` (or `unknown scalar value`). */
export function invalidScalarText(ctx: string, name: string, r: RegState): string {
  let text = `${ctx} the register ${name} has`;
  let unknown = true;
  if (r.s.smin > -(1n << 63n)) {
    text += ` smin=${r.s.smin}`;
    unknown = false;
  }
  if (r.s.smax < (1n << 63n) - 1n) {
    text += ` smax=${r.s.smax}`;
    unknown = false;
  }
  return unknown ? `${text} unknown scalar value` : text;
}
