// merged: how arg tracking prints at log level 2 (bpf-next liveness.c). Pure string
// builders; the pass (arg-track-pass.ts) decides when each line is written.
//
//   _            not a stack pointer          ?        not reached yet
//   IMP3         unknown frame, mask 0x3      fp1 ?    frame 1, unknown offset
//   fp0-8|fp0+0  frame 0, offset -8 or 0

import { type ArgTrack, TRACKED_REGS, isFp, isVisited } from './arg-track.ts';

const signed = (n: number): string => (n < 0 ? String(n) : `+${n}`);

export function argTrackText(a: ArgTrack): string {
  switch (a.kind) {
    case 'none': return '_';
    case 'unvisited': return '?';
    case 'imprecise': return `IMP${a.mask.toString(16)}`;
    case 'fp':
      if (a.offs.length === 0) return `fp${a.frame} ?`;
      return a.offs.map((o) => `fp${a.frame}${signed(o)}`).join('|');
  }
}

/** Name of tracked index `r`: r0..r10, then sa0..sa6; a negative index -n names spill
 *  slot n-1 (fp-8 for -1). */
export function trackLabel(r: number): string {
  if (r >= TRACKED_REGS) return `sa${r - TRACKED_REGS}`;
  if (r >= 0) return `r${r}`;
  return `fp${signed(r * 8)}`;
}

/** `arg JOIN insn 8 -> 9 sa0: fp0-8 + _ => fp0-8|fp0+0` */
export function joinLine(from: number, to: number, r: number, old: ArgTrack, incoming: ArgTrack, result: ArgTrack): string {
  return `arg JOIN insn ${from} -> ${to} ${trackLabel(r)}: ${argTrackText(old)} + ${argTrackText(incoming)} => ${argTrackText(result)}\n`;
}

const pad3 = (n: number): string => String(n).padStart(3);

/** One instruction's changes, `  5: (07) r0 += -8\tr0: fp0+0 -> fp0-8`, or '' when the
 *  instruction changed nothing. Registers first, then stack-argument slots, then spills. */
export function transitionLine(
  idx: number, insnText: string,
  regsIn: readonly ArgTrack[], regsOut: readonly ArgTrack[],
  stackIn: readonly ArgTrack[], stackOut: readonly ArgTrack[],
  eq: (a: ArgTrack, b: ArgTrack) => boolean,
): string {
  let parts = '';
  for (let r = 0; r < regsIn.length; r++) {
    if (eq(regsOut[r], regsIn[r])) continue;
    parts += `\t${trackLabel(r)}: ${argTrackText(regsIn[r])} -> ${argTrackText(regsOut[r])}`;
  }
  for (let s = 0; s < stackIn.length; s++) {
    if (eq(stackOut[s], stackIn[s])) continue;
    parts += `\t${trackLabel(-s - 1)}: ${argTrackText(stackIn[s])} -> ${argTrackText(stackOut[s])}`;
  }
  return parts ? `${pad3(idx)}: ${insnText}${parts}\n` : '';
}

/** The converged listing line for one instruction: the disassembly, and for loads, stores
 *  and calls the stack pointers held on entry (`  6: (7b) *(u64 *)(r11 -8) = r0 // r0=fp0-8`).
 *  r10 is left out: it always is fp+0 of its own frame. */
export function listingLine(idx: number, insnText: string, memOrCall: boolean, regsIn: readonly ArgTrack[], stackIn: readonly ArgTrack[]): string {
  let extra = '';
  if (memOrCall && isVisited(regsIn[0])) {
    for (let r = 0; r < TRACKED_REGS - 1; r++) if (isFp(regsIn[r])) extra += ` r${r}=${argTrackText(regsIn[r])}`;
    for (let r = TRACKED_REGS; r < regsIn.length; r++) if (isFp(regsIn[r])) extra += ` ${trackLabel(r)}=${argTrackText(regsIn[r])}`;
  }
  if (memOrCall) {
    for (let s = 0; s < stackIn.length; s++) if (isFp(stackIn[s])) extra += ` ${trackLabel(-s - 1)}=${argTrackText(stackIn[s])}`;
  }
  return `${pad3(idx)}: ${insnText}${extra ? ` //${extra}` : ''}\n`;
}
