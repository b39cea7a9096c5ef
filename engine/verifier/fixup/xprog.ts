// The program while the post-verification passes rewrite it: raw 8-byte slots (as the kernel
// indexes them, an LD_IMM64 taking two) with one aux record per slot, and the subprog starts.
//
// Two edits exist, with the kernel's bookkeeping (bpf_patch_insn_data / verifier_remove_insns):
//  - patch(at, insns): one slot becomes several. Jumps that cross the patch are re-aimed; a
//    jump to the patched slot lands on the first new one. The old slot's aux moves to the
//    *last* new slot; every new slot's zextDst (the last one's included) becomes "defines a
//    32-bit value", so later passes never poison the upper half of what the verifier wrote.
//  - remove(at, cnt): slots vanish; jumps across them shrink, subprogs starting after move.

import type { RawSlot } from '../../isa/insn.ts';
import {
  BPF_CALL, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, LD_IMM64,
  bpfClass, bpfOp,
} from '../../isa/opcodes.ts';
import type { MapRef } from '../state/types.ts';
import { insnHasDef32 } from './regs64.ts';

/** What a pass needs to know about one slot (a subset of bpf_insn_aux_data). */
export interface XAux {
  /** do_check reached it (the second half of an LD_IMM64 follows its first). */
  seen: boolean;
  /** Its 32-bit result is read as 64 bits somewhere: do not poison the upper half. */
  zextDst: boolean;
  /** Base type of the pointer a load/store goes through (RegType), if memory. */
  ptrType?: number;
  /** Helper call: the map in r1 ('poison' when paths disagree). */
  map?: MapRef | 'poison';
  /** Helper call: r3 as a known constant (tail-call key), 'poison' when it varies. */
  key?: bigint | 'poison';
  /** A 64-bit ALU operation on an arena pointer, to become a 32-bit one (fixup/arena.ts). */
  arenaZext?: boolean;
  /** Index this slot had in the program as loaded (for tests and debugging). */
  orig: number;
}

export class XProg {
  constructor(
    public slots: RawSlot[],
    public aux: XAux[],
    /** Slot where each subprog starts, ascending, [0] = 0. */
    public subprogStarts: number[],
    /** Each subprog's stack depth; passes that take stack (bpf_loop inlining, may_goto)
     *  add to it, as the kernel adds to subprog_info's stack_depth. */
    public stackDepths: number[] = subprogStarts.map(() => 0),
  ) {}

  get len(): number {
    return this.slots.length;
  }

  /** Replace slot `at` with `insns` (raw slots; an LD_IMM64 must bring its second half). */
  patch(at: number, insns: readonly RawSlot[]): void {
    const cnt = insns.length;
    // Whatever the slot held, the verifier now vouches for the last insn's own 32-bit def.
    this.aux[at].zextDst = insnHasDef32(insns[cnt - 1]);
    if (cnt === 1) {
      this.slots[at] = insns[0];
      return;
    }
    this.slots.splice(at, 1, ...insns);
    adjustBranches(this.slots, at, at + 1, at + cnt);
    const old = this.aux[at];
    const fresh: XAux[] = [];
    for (let k = 0; k < cnt - 1; k++) fresh.push({ seen: old.seen, zextDst: insnHasDef32(insns[k]), orig: old.orig });
    this.aux.splice(at, 0, ...fresh);
    this.subprogStarts = this.subprogStarts.map((s) => (s > at ? s + cnt - 1 : s));
  }

  /** Drop `cnt` slots starting at `at`. */
  remove(at: number, cnt: number): void {
    if (cnt <= 0) return;
    this.slots.splice(at, cnt);
    this.aux.splice(at, cnt);
    adjustBranches(this.slots, at, at + cnt, at);
    // A subprog whose body is gone entirely disappears; later ones move up.
    const oldLen = this.slots.length + cnt;
    const starts: number[] = [];
    const depths: number[] = [];
    this.subprogStarts.forEach((s, k) => {
      const end = this.subprogStarts[k + 1] ?? oldLen;
      if (s >= at && s < at + cnt) {
        if (end <= at + cnt && s !== 0) return;
        starts.push(at);
      } else starts.push(s >= at + cnt ? s - cnt : s);
      depths.push(this.stackDepths[k]);
    });
    this.subprogStarts = starts;
    this.stackDepths = depths;
  }

  /**
   * Drop every slot flagged in `gone` at once, with the same result as removing them one
   * run at a time, in linear time (a million-slot program may lose most of its slots).
   * A reference to a dropped slot lands on the next slot kept.
   */
  removeAll(gone: Uint8Array): void {
    const oldLen = this.slots.length;
    // before[k]: dropped slots in [0, k).
    const before = new Int32Array(oldLen + 1);
    for (let k = 0; k < oldLen; k++) before[k + 1] = before[k] + (gone[k] ? 1 : 0);
    if (before[oldLen] === 0) return;
    const to = (k: number): number => k - before[Math.max(0, Math.min(k, oldLen))];
    const slots: RawSlot[] = [];
    const aux: XAux[] = [];
    for (let i = 0; i < oldLen; i++) {
      if (gone[i]) continue;
      slots.push(this.slots[i]);
      aux.push(this.aux[i]);
    }
    forEachRelativeRef(this.slots, (i, rel) => (gone[i] ? rel : to(i + rel + 1) - to(i) - 1), (i, s) => {
      if (!gone[i]) slots[to(i)] = s;
    });
    const starts: number[] = [];
    const depths: number[] = [];
    this.subprogStarts.forEach((st, k) => {
      const end = this.subprogStarts[k + 1] ?? oldLen;
      // A subprog whose body is gone entirely disappears.
      if (st !== 0 && before[end] - before[st] === end - st) return;
      starts.push(to(st));
      depths.push(this.stackDepths[k]);
    });
    this.slots = slots;
    this.aux = aux;
    this.subprogStarts = starts;
    this.stackDepths = depths;
  }

  /** Index of the subprog holding slot `i`. */
  subprogOf(i: number): number {
    let k = 0;
    while (k + 1 < this.subprogStarts.length && this.subprogStarts[k + 1] <= i) k++;
    return k;
  }
}

const isJmpClass = (code: number): boolean => bpfClass(code) === BPF_JMP || bpfClass(code) === BPF_JMP32;

/**
 * Re-aim every relative reference after the slots [pos, endOld) became [pos, endNew), in the
 * already edited array. A reference from before the edit to at/after its old end moves by the
 * size change; one from after the edit back to before it moves the other way. References
 * inside a patch are the patch's own business.
 */
function adjustBranches(slots: RawSlot[], pos: number, endOld: number, endNew: number): void {
  const delta = endNew - endOld;
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i];
    const isFunc = s.code === LD_IMM64 && s.src === BPF_PSEUDO_FUNC;
    if (s.code === LD_IMM64) {
      if (isFunc) slots[i] = { ...s, imm: moved(i, s.imm) };
      i++; // never read the second half as an instruction
      continue;
    }
    if (!isJmpClass(s.code) || bpfOp(s.code) === BPF_EXIT) continue;
    if (bpfOp(s.code) === BPF_CALL) {
      if (s.src === BPF_PSEUDO_CALL) slots[i] = { ...s, imm: moved(i, s.imm) };
      continue;
    }
    if (s.code === (BPF_JMP32 | BPF_JA)) slots[i] = { ...s, imm: moved(i, s.imm) };
    else slots[i] = { ...s, off: moved(i, s.off) };
  }

  function moved(cur: number, off: number): number {
    if (cur < pos && cur + off + 1 >= endOld) return off + delta;
    if (cur >= endNew && cur + off + 1 < endNew) return off - delta;
    return off;
  }
}

/** Call `edit` with the relative reference (jump offset, call or ld_imm64 func imm) of each
 *  slot that has one and `put` with the slot rewritten to `edit`'s new value when it changed. */
function forEachRelativeRef(
  slots: readonly RawSlot[], edit: (i: number, rel: number) => number, put: (i: number, s: RawSlot) => void,
): void {
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i];
    if (s.code === LD_IMM64) {
      if (s.src === BPF_PSEUDO_FUNC) {
        const imm = edit(i, s.imm);
        if (imm !== s.imm) put(i, { ...s, imm });
      }
      i++; // never read the second half as an instruction
      continue;
    }
    if (!isJmpClass(s.code) || bpfOp(s.code) === BPF_EXIT) continue;
    const useImm = bpfOp(s.code) === BPF_CALL || s.code === (BPF_JMP32 | BPF_JA);
    if (bpfOp(s.code) === BPF_CALL && s.src !== BPF_PSEUDO_CALL) continue;
    if (useImm) {
      const imm = edit(i, s.imm);
      if (imm !== s.imm) put(i, { ...s, imm });
    } else {
      const off = edit(i, s.off);
      if (off !== s.off) put(i, { ...s, off });
    }
  }
}
