// A BPF arena for native execution, modelled on what the kernel does at load time:
//   - the verifier rewrites every load/store through an arena pointer (PTR_TO_ARENA) to
//     PROBE_MEM32 and `addr_space_cast(r, 0, 1)` to a 32-bit move; the JIT then adds the
//     32-bit offset to kern_vm_start, which it keeps in r12;
//   - kern_vm_start is a 4 GB window (plus a guard each side for the s16 insn offset) in
//     which allocated pages are mapped.
// Native runs have no verifier output, so `arenaRewrite` finds arena pointers with a small
// may-analysis of its own (registers and 8-byte stack spills, per function). As in the
// kernel, only allocated pages are accessible: the window is reserved PROT_NONE
// (MAP_NORESERVE), a page becomes read/write when bpf_arena_alloc_pages gives it and
// PROT_NONE again (its memory dropped) when freed. An access anywhere else faults, and the
// JIT's exception table (fault.ts) fixes it up as the kernel's does: a load reads 0, a store
// or atomic is skipped.

import type { Insn } from '../../isa/insn.ts';
import {
  BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_DW, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_LDX, BPF_LOAD_ACQ, BPF_MEM, BPF_MEMSX, BPF_MOV, BPF_ST, BPF_STX,
  BPF_X,
} from '../../isa/opcodes.ts';
import { BPF_ADDR_SPACE_CAST, BPF_PROBE_ATOMIC, BPF_PROBE_MEM32, BPF_PROBE_MEM32SX } from '../x86_64/body.ts';
import { getLibc, MADV_DONTNEED, MAP_NORESERVE, mapAnon, PROT_NONE, PROT_RW } from './libc.ts';
import { PAGE_SIZE } from '../../runtime/arena.ts';

/** The kernel's guard around the 4 GB window: an s16 offset either way. */
const GUARD = 1 << 16;
const WINDOW = 2 ** 32 + GUARD;

/** Native memory of one arena: kern_vm_start and the mapping behind it. */
export class NativeArenaWindow {
  private readonly base: bigint;
  /** Where 32-bit arena offset 0 is (r12 of the JIT'd code). */
  readonly kernVmStart: bigint;

  constructor() {
    this.base = mapAnon(WINDOW, MAP_NORESERVE, PROT_NONE);
    this.kernVmStart = this.base + BigInt(GUARD / 2);
  }

  /** Native address of the page with 32-bit offset `off32`. */
  at(off32: number): bigint {
    return this.kernVmStart + BigInt(off32 >>> 0);
  }

  /** Make the page at native address `page` accessible (an allocated arena page). */
  grant(page: bigint): void {
    if (getLibc().mprotect(page, PAGE_SIZE, PROT_RW) !== 0) throw new Error('mprotect of an arena page failed');
  }

  /** Make it inaccessible again, its contents dropped (a freed page: zeros if re-allocated). */
  revoke(page: bigint): void {
    const c = getLibc();
    c.madvise(page, PAGE_SIZE, MADV_DONTNEED);
    if (c.mprotect(page, PAGE_SIZE, PROT_NONE) !== 0) throw new Error('mprotect of an arena page failed');
  }

  /** Whether a native address lies in the window (with its guards). */
  holds(addr: bigint): boolean {
    return addr >= this.base && addr < this.base + BigInt(WINDOW);
  }

  unmap(): void {
    getLibc().munmap(this.base, WINDOW);
  }
}

const cls = (i: Insn): number => i.code & 7;
const mode = (i: Insn): number => i.code & 0xe0;
const isCastToKern = (i: Insn): boolean => i.code === (BPF_ALU64 | BPF_MOV | BPF_X) && i.off === BPF_ADDR_SPACE_CAST && i.imm === 1;

/** What is known to (maybe) hold an arena pointer before an instruction. */
interface State {
  regs: number; // bit r
  slots: Set<number>; // fp offsets of 8-byte spills
}

const joinInto = (to: State, from: State): boolean => {
  let changed = (to.regs | from.regs) !== to.regs;
  to.regs |= from.regs;
  for (const s of from.slots) if (!to.slots.has(s)) { to.slots.add(s); changed = true; }
  return changed;
};

const bit = (r: number): number => 1 << r;

/** The instructions with arena accesses as PROBE_MEM32 (and atomics as PROBE_ATOMIC), and
 *  addr_space_cast to the kernel's address space as a 32-bit move; same length and slots. */
export function arenaRewrite(insns: readonly Insn[]): Insn[] {
  const slotOf: number[] = [];
  const atSlot = new Map<number, number>();
  let s = 0;
  insns.forEach((insn, k) => {
    slotOf.push(s);
    atSlot.set(s, k);
    s += insn.next ? 2 : 1;
  });
  const states: (State | undefined)[] = new Array(insns.length);
  const arena = new Set<number>(); // insn indexes whose memory base is an arena pointer
  const work: number[] = [];
  const reach = (k: number | undefined, st: State): void => {
    if (k === undefined) return;
    const cur = states[k];
    if (!cur) {
      states[k] = { regs: st.regs, slots: new Set(st.slots) };
      work.push(k);
    } else if (joinInto(cur, st)) work.push(k);
  };
  // Every function starts without arena pointers (arg:arena subprog args are not modelled).
  reach(0, { regs: 0, slots: new Set() });
  insns.forEach((i, k) => {
    if (cls(i) === BPF_JMP && (i.code & 0xf0) === BPF_CALL && i.src === 1) reach(atSlot.get(slotOf[k] + 1 + i.imm), { regs: 0, slots: new Set() });
  });
  while (work.length > 0) {
    const k = work.pop() as number;
    const i = insns[k];
    const st: State = { regs: (states[k] as State).regs, slots: new Set((states[k] as State).slots) };
    const c = cls(i);
    const def = (r: number, isArena: boolean): void => {
      st.regs = isArena ? st.regs | bit(r) : st.regs & ~bit(r);
    };
    const next = atSlot.get(slotOf[k] + (i.next ? 2 : 1));
    if (c === BPF_ALU64 || c === BPF_ALU) {
      const op = i.code & 0xf0;
      if (isCastToKern(i)) def(i.dst, true);
      else if (op === BPF_MOV) def(i.dst, c === BPF_ALU64 && (i.code & BPF_X) !== 0 && i.off === 0 && (st.regs & bit(i.src)) !== 0);
      // Other arithmetic keeps an arena pointer one (the kernel allows any on them).
      reach(next, st);
    } else if (c === BPF_LDX) {
      if (mode(i) === BPF_MEM || mode(i) === BPF_MEMSX) {
        if (st.regs & bit(i.src)) arena.add(k);
        const spill = i.src === 10 && (i.code & 0x18) === BPF_DW && mode(i) === BPF_MEM && st.slots.has(i.off);
        def(i.dst, spill);
      } else def(i.dst, false);
      reach(next, st);
    } else if (c === BPF_ST || c === BPF_STX) {
      if (mode(i) === BPF_MEM || mode(i) === BPF_ATOMIC) {
        // load_acquire addresses memory through src (dst = *(src + off)); the rest through dst.
        const loadAcq = mode(i) === BPF_ATOMIC && i.imm === BPF_LOAD_ACQ;
        if (st.regs & bit(loadAcq ? i.src : i.dst)) arena.add(k);
        if (i.dst === 10) {
          const spill = c === BPF_STX && mode(i) === BPF_MEM && (i.code & 0x18) === BPF_DW && (st.regs & bit(i.src)) !== 0;
          for (const o of [...st.slots]) if (o > i.off - 8 && o < i.off + 8) st.slots.delete(o);
          if (spill) st.slots.add(i.off);
        }
        if (loadAcq) def(i.dst, false);
        else if (mode(i) === BPF_ATOMIC && (i.imm & 1)) def(i.imm === 0xf1 ? 0 : i.src, false); // fetch results are scalars
      }
      reach(next, st);
    } else if (c === BPF_JMP || c === BPF_JMP32) {
      const op = i.code & 0xf0;
      if (op === BPF_EXIT) continue;
      if (op === BPF_CALL) {
        for (let r = 0; r <= 5; r++) def(r, false);
        reach(next, st);
        continue;
      }
      const target = atSlot.get(slotOf[k] + 1 + (c === BPF_JMP32 && op === BPF_JA ? i.imm : i.off));
      reach(target, st);
      if (op !== BPF_JA) reach(next, st);
    } else {
      if (i.dst <= 10) def(i.dst, false); // LD_IMM64 and legacy packet loads
      reach(next, st);
    }
  }
  return insns.map((i, k) => {
    if (isCastToKern(i)) return { ...i, code: BPF_ALU | BPF_MOV | BPF_X, off: 0, imm: 0 };
    if (!arena.has(k)) return i;
    const c = cls(i);
    const m = mode(i);
    const to = c === BPF_LDX ? (m === BPF_MEMSX ? BPF_PROBE_MEM32SX : BPF_PROBE_MEM32) : m === BPF_ATOMIC ? BPF_PROBE_ATOMIC : BPF_PROBE_MEM32;
    return { ...i, code: (i.code & ~0xe0) | to };
  });
}
