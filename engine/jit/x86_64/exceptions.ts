// BPF exceptions in a kernel load, from what the load reports (replay.ts).
//
// The xlated dump does not say that the program can throw, nor where the exception callback
// starts (nothing calls it). The kernel's image and counts do:
//  - the main function of a program that can throw (the exception boundary) pushes all five
//    callee-saved registers, r12 first, right after its frame setup;
//  - the hidden default callback (`r0 = r1; exit`, appended last) is in the verifier's
//    `stack depth` line but not in jited_func_lens;
//  - a program's own callback is in jited_func_lens, and its image starts by taking rsp and
//    rbp from the unwinder's arguments (mov rsp, rsi; mov rbp, rdx).

import type { Insn } from '../../isa/insn.ts';
import { slotOffsets } from '../../isa/insn.ts';
import { BPF_CALL, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_PSEUDO_KFUNC_CALL } from '../../isa/opcodes.ts';
import { isPseudoCall, isPseudoFunc } from './xlated.ts';

/** push r12; push rbx; push r13; push r14; push r15 */
const BOUNDARY_PUSHES = [0x41, 0x54, 0x53, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57];
/** mov rsp, rsi; mov rbp, rdx */
const CB_FRAME = [0x48, 0x89, 0xf4, 0x48, 0x89, 0xd5];
/** How far into a function its prologue may reach the byte patterns above. */
const PROLOGUE_WINDOW = 48;

export interface ExceptionFacts {
  readonly exceptionBoundary?: boolean;
  /** Slot where the callback starts in the dump. */
  readonly exceptionCbStart?: number;
  /** The callback is the hidden one: JITed, but absent from the kernel's func lengths. */
  readonly hidden?: boolean;
}

function findBytes(code: Uint8Array, from: number, to: number, pat: readonly number[]): boolean {
  for (let at = from; at + pat.length <= Math.min(to, code.length); at++) {
    if (pat.every((b, k) => code[at + k] === b)) return true;
  }
  return false;
}

const isHiddenCb = (a: Insn | undefined, b: Insn | undefined): boolean =>
  a?.code === 0xbf && a.dst === 0 && a.src === 1 && a.off === 0 && a.imm === 0 && b?.code === (BPF_JMP | BPF_EXIT);

/** Function starts the dump shows (call and function-address targets), by slot. */
function calledStarts(insns: readonly Insn[], slots: readonly number[]): Set<number> {
  const starts = new Set<number>([0]);
  insns.forEach((insn, k) => {
    if (isPseudoCall(insn)) starts.add(slots[k] + insn.off + 1);
    else if (isPseudoFunc(insn)) starts.add(slots[k] + insn.imm + 1);
  });
  return starts;
}

/** Slots right after an exit, an unconditional jump or a kfunc call (a function that ends
 *  in bpf_throw has no exit: the dead code after it is gone): where a function may start. */
function boundaries(insns: readonly Insn[], slots: readonly number[]): number[] {
  const out: number[] = [];
  insns.forEach((insn, k) => {
    const ends = insn.code === (BPF_JMP | BPF_EXIT) || insn.code === (BPF_JMP | BPF_JA) || insn.code === (BPF_JMP32 | BPF_JA) ||
      (insn.code === (BPF_JMP | BPF_CALL) && insn.src === BPF_PSEUDO_KFUNC_CALL);
    if (ends && k + 1 < insns.length) out.push(slots[k + 1]);
  });
  return out;
}

/** The exception facts of a load, or {} for a program that neither throws nor has a callback.
 *  With a program's own callback and several places it could start, every candidate is
 *  returned in order (the caller keeps the one whose image matches). */
export function exceptionFacts(
  insns: readonly Insn[], stackDepths: readonly number[], jited: Uint8Array, funcLens: readonly number[],
): ExceptionFacts[] {
  const boundary = findBytes(jited, 0, Math.min(PROLOGUE_WINDOW, funcLens[0] ?? 0), BOUNDARY_PUSHES);
  const slots = slotOffsets(insns);
  const starts = calledStarts(insns, slots);
  const base: ExceptionFacts = boundary ? { exceptionBoundary: true } : {};
  if (stackDepths.length !== starts.size + 1) return [base];
  const n = insns.length;
  if (funcLens.length === stackDepths.length - 1 && isHiddenCb(insns[n - 2], insns[n - 1])) {
    return [{ ...base, exceptionCbStart: slots[n - 2], hidden: true }];
  }
  // A callback of the program's own: the function whose image has the callback frame.
  let at = 0;
  const k = funcLens.findIndex((len) => {
    const hit = findBytes(jited, at, at + Math.min(PROLOGUE_WINDOW, len), CB_FRAME);
    at += len;
    return hit;
  });
  if (k <= 0) return [base];
  const sorted = [...starts].sort((a, b) => a - b);
  const lo = sorted[k - 1];
  const hi = sorted[k] ?? slots[n];
  const candidates = boundaries(insns, slots).filter((s) => s > lo && s < hi && !starts.has(s));
  return candidates.length ? candidates.map((s) => ({ ...base, exceptionCbStart: s })) : [base];
}
