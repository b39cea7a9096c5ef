// Linked scalars: registers (and spilled slots) known to hold the same value, or the same
// value plus a constant. A copy `rY = rX` gives both one id; `rY += K` (or `-= K`) right after
// keeps the link and records K: the id gains an ADD_CONST flag and `off` holds K. When a
// conditional jump narrows one member, every other member learns the narrowed bounds shifted
// by the difference of the two constants.
//
// 6.18 (6.18.44 stable, with the negative-offset / BPF_SUB / alu32 series): K is any s32,
// subtraction negates it, and a 32-bit add links too when the register fit in 32 bits
// beforehand; such a link carries its own flag because the sum wraps at 2^32 (zero-extended).
// Only one constant per link: a second add drops it, and so does `rY = rX` of an offset
// register (the source loses its offset link and gets a fresh id the copy shares).
// Verified on the live 6.18.44 kernel: see specs/linked_regs.yaml.

import { BPF_ADD, BPF_SUB } from '../../isa/opcodes.ts';
import { RegType, SlotType } from '../state/types.ts';
import type { LinkedReg, RegState, VerifierState } from '../state/types.ts';
import { isConst, isConstIn, constValueIn, scalarAlu, scalarConst } from '../scalar-api.ts';
import type { ScalarBounds } from '../scalar-api.ts';
import type { VerifierEnv } from '../env.ts';
import { frameInsnIdx } from '../scc.ts';
import { ADD_CONST, ADD_CONST32, ADD_CONST64, baseId } from '../state/scalar-id.ts';

export { ADD_CONST, ADD_CONST32, ADD_CONST64, baseId, scalarIdStr } from '../state/scalar-id.ts';

/** clear_scalar_id: the register is no longer linked to anything. */
export function clearScalarId(r: RegState): void {
  r.id = 0;
  r.off = 0;
}

/** Before `rY = rX` (or a spill): an offset link cannot be copied (it would need two
 *  constants), so the source drops it; then an unknown source gets an id the copy shares. */
export function assignScalarIdBeforeMov(env: VerifierEnv, src: RegState): void {
  if (src.type !== RegType.SCALAR_VALUE) return;
  if (src.id & ADD_CONST) clearScalarId(src);
  if (!src.id && !isConst(src.s)) src.id = ++env.idGen;
}

const S32_MIN = -0x80000000;

/**
 * After `dst op= src` on scalars (adjust_reg_min_max_vals): keep or drop dst's link.
 * `id` and `umaxBefore` are dst's id and umax before the operation (the caller has already
 * reset dst); `k` is the constant operand when there is one (undefined otherwise, and for
 * `rX += rX`).
 */
export function linkAfterAlu(env: VerifierEnv, dst: RegState, op: number, is64: boolean, id: number, umaxBefore: bigint, k: ScalarBounds | undefined): void {
  if (!id || !k || !env.bpfCapable || (op !== BPF_ADD && op !== BPF_SUB)) return;
  if (!isConstIn(k, !is64)) return;
  let off: number;
  if (is64) {
    const v = BigInt.asIntN(64, constValueIn(k, false));
    if (v < -0x80000000n || v > 0x7fffffffn) return;
    off = Number(v);
  } else {
    // The register must have had no upper bits: only then does the zero-extended sum still
    // relate to the other members.
    if (umaxBefore > 0xffffffffn) return;
    off = Number(BigInt.asIntN(32, constValueIn(k, true)));
  }
  if (op === BPF_SUB) {
    if (off === S32_MIN) return;
    off = -off;
  }
  // A second constant cannot be recorded.
  if (id & ADD_CONST) return;
  dst.id = id | (is64 ? ADD_CONST64 : ADD_CONST32);
  dst.off = off;
}

const MAX_LINKED = 6;

/** collect_linked_regs: scalars whose base id is `id`'s, in registers live at each frame's
 *  insn (6.18) and in spilled slots; past six, the extra ones lose their link. */
export function collectLinked(env: VerifierEnv, st: VerifierState, id: number, out: LinkedReg[]): void {
  const base = baseId(id);
  for (let fr = st.curframe; fr >= 0; fr--) {
    const live = env.aux[frameInsnIdx(st, fr)].liveBefore;
    const f = st.frames[fr];
    const add = (r: RegState, n: number, isReg: boolean): void => {
      if (r.type !== RegType.SCALAR_VALUE || baseId(r.id) !== base) return;
      if (out.length < MAX_LINKED) out.push({ frameno: fr, n, isReg });
      else clearScalarId(r);
    };
    for (let j = 0; j < 10; j++) if (live & (1 << j)) add(f.regs[j], j, true);
    for (let j = 0; j < f.allocatedStack / 8; j++) if (f.stack[j].slotType[7] === SlotType.SPILL) add(f.stack[j].spilled, j, false);
  }
}

/** sync_linked_regs: the collected members of `known`'s link take its new bounds, shifted by
 *  the difference of their constants. */
export function syncLinked(st: VerifierState, known: RegState, linked: readonly LinkedReg[]): void {
  if (known.type !== RegType.SCALAR_VALUE || !known.id) return;
  const base = baseId(known.id);
  for (const e of linked) {
    const f = st.frames[e.frameno];
    const r = e.isReg ? f.regs[e.n] : f.stack[e.n].spilled;
    if (r === known || r.type !== RegType.SCALAR_VALUE || baseId(r.id) !== base) continue;
    // One 32-bit and one 64-bit link: the distance does not hold across the two widths.
    if (((r.id ^ known.id) & ADD_CONST) === ADD_CONST) continue;
    if ((!(r.id & ADD_CONST) && !(known.id & ADD_CONST)) || r.off === known.off) {
      // Same value: a plain copy (the member takes the known register's id and offset too).
      Object.assign(r, known);
      continue;
    }
    const { id, off } = r;
    const delta = BigInt(off) - BigInt(known.off);
    // A 32-bit link on either side: the sum wraps at 2^32 and zero-extends.
    const is64 = !((r.id | known.id) & ADD_CONST32);
    Object.assign(r, known);
    r.id = id;
    r.off = off;
    r.s = scalarAlu(BPF_ADD, is64, known.s, scalarConst(delta), 0);
  }
}
