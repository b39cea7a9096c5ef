// merged: the value lattice of "arg tracking", the forward pre-pass bpf-next's liveness.c
// runs before the main walk. It follows which values are derived from a frame pointer: the
// frame (absolute call depth) they point into and the byte offsets from that frame's r10.
//
// Lattice, from most to least precise (UNVISITED sits below everything, NONE is "not a
// stack pointer"):
//   fp  {frame, offs: 1..4 sorted offsets}  one frame, a few known offsets
//   fp  {frame, offs: []}                   one frame, unknown offset
//   imprecise {mask}                        unknown frame; mask = frames it may be
// Joining keeps what both sides agree on and moves down otherwise. Not in 6.18 or v4.
//
// Values are plain immutable objects; every function here is pure.

/** Offsets kept per value before it becomes offset-imprecise (merged MAX_ARG_OFFSETS). */
export const MAX_ARG_OFFSETS = 4;
/** Spill slots of the current frame followed per value: fp-8 .. fp-512. */
export const MAX_ARG_SPILL_SLOTS = 64;
/** Outgoing stack-argument slots (sa0 = r11-8 .. sa6 = r11-56). */
export const STACK_ARG_SLOTS = 7;
/** r0..r10; the tracked-value array puts the stack-argument slots right after them, so
 *  index 11 is sa0 (the kernel extends its register array the same way). */
export const TRACKED_REGS = 11;
export const TRACKED = TRACKED_REGS + STACK_ARG_SLOTS;

export type ArgTrack =
  | { readonly kind: 'unvisited' }
  | { readonly kind: 'none' }
  | { readonly kind: 'imprecise'; readonly mask: number }
  /** `offs` empty = offset-imprecise (known frame, unknown offset). */
  | { readonly kind: 'fp'; readonly frame: number; readonly offs: readonly number[] };

export const UNVISITED: ArgTrack = { kind: 'unvisited' };
export const NONE: ArgTrack = { kind: 'none' };

export const fpAt = (frame: number, off: number): ArgTrack => ({ kind: 'fp', frame, offs: [off] });
export const fpUnknown = (frame: number): ArgTrack => ({ kind: 'fp', frame, offs: [] });
export const imprecise = (mask: number): ArgTrack => ({ kind: 'imprecise', mask });

export const isVisited = (a: ArgTrack): boolean => a.kind !== 'unvisited';
/** May point into some frame's stack (precise or not). */
export const isFp = (a: ArgTrack): boolean => a.kind === 'fp' || a.kind === 'imprecise';

export function argTrackEq(a: ArgTrack, b: ArgTrack): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'imprecise') return a.mask === (b as typeof a).mask;
  if (a.kind !== 'fp') return true;
  const o = b as typeof a;
  return a.frame === o.frame && a.offs.length === o.offs.length && a.offs.every((v, i) => v === o.offs[i]);
}

/** Union of two sorted offset lists of one frame; more than four gives an unknown offset. */
export function mergeOffsets(frame: number, a: readonly number[], b: readonly number[]): ArgTrack {
  const all = [...new Set([...a, ...b])].sort((x, y) => x - y);
  return all.length > MAX_ARG_OFFSETS ? fpUnknown(frame) : { kind: 'fp', frame, offs: all };
}

/** The frames a value may point into, as a bit mask (none/unvisited: 0). */
const frameBits = (a: ArgTrack): number => (a.kind === 'fp' ? 1 << a.frame : a.kind === 'imprecise' ? a.mask : 0);

export const joinImprecise = (a: ArgTrack, b: ArgTrack): ArgTrack => imprecise(frameBits(a) | frameBits(b));

/** Least upper bound at a CFG merge point. */
export function join(a: ArgTrack, b: ArgTrack): ArgTrack {
  if (!isVisited(b)) return a;
  if (!isVisited(a)) return b;
  if (a.kind === 'fp' && b.kind === 'fp' && a.frame === b.frame) {
    if (a.offs.length === 0 || b.offs.length === 0) return fpUnknown(a.frame);
    return mergeOffsets(a.frame, a.offs, b.offs);
  }
  if (a.kind === 'none' && b.kind === 'none') return a;
  // A stack pointer on one path only: still a pointer, but a single offset also gains a fake
  // +0 so that a later store through it cannot count as a definite write of that slot.
  const ptr = a.kind === 'fp' && b.kind === 'none' ? a : b.kind === 'fp' && a.kind === 'none' ? b : undefined;
  if (ptr && ptr.kind === 'fp') return ptr.offs.length === 1 ? mergeOffsets(ptr.frame, ptr.offs, [0]) : ptr;
  return joinImprecise(a, b);
}

/** off + delta in s16, or undefined when delta or the sum leaves the s16 range. */
export function addOff(off: number, delta: number): number | undefined {
  if (delta < -0x8000 || delta > 0x7fff) return undefined;
  const r = off + delta;
  return r < -0x8000 || r > 0x7fff ? undefined : r;
}

/** Pointer plus a constant: every candidate moves; any overflow forgets the offsets. */
export function addConst(a: ArgTrack, delta: number): ArgTrack {
  if (a.kind !== 'fp' || a.offs.length === 0) return a;
  const offs: number[] = [];
  for (const o of a.offs) {
    const r = addOff(o, delta);
    if (r === undefined) return fpUnknown(a.frame);
    offs.push(r);
  }
  return { kind: 'fp', frame: a.frame, offs };
}

/** dst op= src for a 64-bit ALU op that is not a plain add of a constant: a single frame
 *  survives with an unknown offset, two different frames become imprecise. */
export function alu64(dst: ArgTrack, src: ArgTrack): ArgTrack {
  if (dst.kind === 'fp' && (src.kind === 'none' || (src.kind === 'fp' && src.frame === dst.frame))) return fpUnknown(dst.frame);
  if (src.kind === 'fp' && dst.kind === 'none') return fpUnknown(src.frame);
  if (dst.kind === 'none' && src.kind === 'none') return dst;
  return joinImprecise(dst, src);
}

/** Spill slot of an r10-relative offset: fp-8 is 0 .. fp-512 is 63; else -1. */
export function fpOffToSlot(off: number): number {
  if (off >= 0 || off < -MAX_ARG_SPILL_SLOTS * 8 || off % 8) return -1;
  return -off / 8 - 1;
}

/** Stack-argument slot of an r11 offset (either sign): 8 is slot 0; beyond 7 slots -1. */
export function stackArgOffToSlot(off: number): number {
  const a = Math.abs(off);
  return Math.trunc(a / 8) > STACK_ARG_SLOTS ? -1 : Math.trunc(a / 8) - 1;
}
