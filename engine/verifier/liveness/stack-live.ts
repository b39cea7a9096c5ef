// 6.18 stack liveness (kernel/bpf/liveness.c): which stack slots may still be read at an
// instruction, used to forget dead slots in explored states before comparing them.
//
// Facts are kept per *call chain* (the call sites leading to a subprog, plus its start) and
// per frame of that chain: for each instruction, the slots it may read and the slots it
// surely writes (a full 8-byte store), collected while do_check walks paths. A backward data
// flow then gives, per instruction,
//   liveBefore   = (liveBefore of successors - mustWrite) | mayRead
//   mustWriteAcc = (intersection of successors' mustWriteAcc) | mustWrite
// and a callee's entry facts flow to its call site in the caller's chain. The fixed point is
// recomputed lazily when a path ends or a subprog returns; at log level 2 every change is
// printed as `(chain) frame F insn I +live -8` / `+written -16`.

import { BPF_JMP, BPF_JMP32, BPF_EXIT, BPF_JA, BPF_CALL, LD_IMM64, bpfClass, bpfOp } from '../../isa/opcodes.ts';
import type { VerifierState } from '../state/types.ts';
import type { VerifierEnv } from '../env.ts';
import { fmtStackMask } from '../precision/backtrack.ts';
import { callsCallback } from '../loop-prune.ts';

const ALL = (1n << 64n) - 1n;

interface Masks {
  mayRead: bigint;
  mustWrite: bigint;
  mustWriteAcc: bigint;
  liveBefore: bigint;
}

interface Instance {
  /** Call site per outer frame, then the subprog start for the last frame. */
  readonly callsites: readonly number[];
  readonly curframe: number;
  /** First insn of the subprog this instance describes. */
  readonly start: number;
  readonly insnCnt: number;
  updated: boolean;
  mustWriteDropped: boolean;
  /** Per frame of the chain, per insn of the subprog; allocated on first mark. */
  readonly frames: (Masks[] | undefined)[];
  readonly mustWriteSet: Uint8Array;
}

/** bpf_insn_successors: fall-through and/or jump target (calls fall through). */
export function insnSuccessors(env: VerifierEnv, idx: number): number[] {
  const s = env.slots[idx];
  const cls = bpfClass(s.code);
  const size = s.code === LD_IMM64 ? 2 : 1;
  if (cls !== BPF_JMP && cls !== BPF_JMP32) return [idx + size];
  const op = bpfOp(s.code);
  if (op === BPF_EXIT) return [];
  if (op === BPF_CALL) return [idx + 1];
  const target = idx + (s.code === (BPF_JMP32 | BPF_JA) ? s.imm : s.off) + 1;
  if (op === BPF_JA) return [target];
  return [idx + 1, target];
}

export class StackLiveness {
  private readonly instances = new Map<string, Instance>();
  private cur: Instance | undefined;
  private writeAcc: bigint[] = [];
  private writeInsnIdx = 0;
  /** Per subprog: its insns in DFS post-order (compute_postorder). */
  private postorder: number[][] | undefined;
  private query: { instances: Instance[]; curframe: number; insnIdx: number } | undefined;

  constructor(private readonly env: VerifierEnv) {}

  private subprogEnd(sp: number): number {
    const subs = this.env.subprogs;
    return sp + 1 < subs.length ? subs[sp + 1].start : this.env.insnCnt;
  }

  private lookup(st: VerifierState, frameno: number): Instance {
    const callsites: number[] = [];
    for (let i = 0; i < frameno; i++) callsites.push(st.frames[i + 1].callsite);
    const sp = st.frames[frameno].subprogno;
    const start = this.env.subprogs[sp].start;
    callsites.push(start);
    const key = callsites.join(',');
    let inst = this.instances.get(key);
    if (!inst) {
      const n = this.subprogEnd(sp) - start;
      inst = { callsites, curframe: frameno, start, insnCnt: n, updated: false, mustWriteDropped: false, frames: [], mustWriteSet: new Uint8Array(n) };
      this.instances.set(key, inst);
    }
    return inst;
  }

  private outer(inst: Instance): Instance {
    const callsites = inst.callsites.slice(0, inst.curframe);
    // The outer chain ends in its own subprog's start, found from the call site.
    const outerStart = this.env.subprogs[this.env.subprogOf(callsites[callsites.length - 1])].start;
    callsites[callsites.length - 1] = outerStart;
    const key = callsites.join(',');
    let o = this.instances.get(key);
    if (!o) {
      const sp = this.env.subprogOf(outerStart);
      const n = this.subprogEnd(sp) - outerStart;
      o = { callsites, curframe: inst.curframe - 1, start: outerStart, insnCnt: n, updated: false, mustWriteDropped: false, frames: [], mustWriteSet: new Uint8Array(n) };
      this.instances.set(key, o);
    }
    return o;
  }

  private masksOf(inst: Instance, frame: number, insnIdx: number, alloc: boolean): Masks | undefined {
    let arr = inst.frames[frame];
    if (!arr) {
      if (!alloc) return undefined;
      arr = [];
      for (let i = 0; i < inst.insnCnt; i++) arr.push({ mayRead: 0n, mustWrite: 0n, mustWriteAcc: 0n, liveBefore: 0n });
      inst.frames[frame] = arr;
    }
    return arr[insnIdx - inst.start];
  }

  private ensureCur(): Instance {
    if (!this.cur) this.cur = this.lookup(this.env.curState, this.env.curState.curframe);
    return this.cur;
  }

  /** The cached chain of the current state is stale (a call, a return, a popped path). */
  resetCallchain(): void {
    this.cur = undefined;
  }

  /** bpf_mark_stack_read: insn `insnIdx` may read these slots of frame `frame`. */
  markRead(frame: number, insnIdx: number, mask: bigint): void {
    this.readInto(this.ensureCur(), frame, insnIdx, mask);
  }

  private readInto(inst: Instance, frame: number, insnIdx: number, mask: bigint): void {
    const m = this.masksOf(inst, frame, insnIdx, true)!;
    const next = m.mayRead | mask;
    if (next !== m.mayRead && (next | m.liveBefore) !== m.liveBefore) inst.updated = true;
    m.mayRead = next;
  }

  /** Start collecting the writes of the insn about to be checked. */
  resetWriteMarks(insnIdx: number): void {
    this.startWrites(this.ensureCur(), insnIdx);
  }

  private startWrites(inst: Instance, insnIdx: number): void {
    this.writeInsnIdx = insnIdx;
    // Runs for every insn: reuse the array when the frame count is unchanged.
    const n = inst.curframe + 1;
    if (this.writeAcc.length === n) for (let i = 0; i < n; i++) this.writeAcc[i] = 0n;
    else this.writeAcc = new Array<bigint>(n).fill(0n);
  }

  /** A full 8-byte store to these slots of `frame`. */
  markWrite(frame: number, mask: bigint): void {
    this.writeAcc[frame] = (this.writeAcc[frame] ?? 0n) | mask;
  }

  /** The insn checked fine: merge its writes (intersected over the paths that reach it). */
  commitWriteMarks(): void {
    this.commitInto(this.cur);
  }

  private commitInto(inst: Instance | undefined): void {
    if (!inst) return;
    const idx = this.writeInsnIdx - inst.start;
    for (let frame = 0; frame <= inst.curframe; frame++) {
      let mask = this.writeAcc[frame] ?? 0n;
      if (mask === 0n && !inst.mustWriteSet[idx]) continue;
      const m = this.masksOf(inst, frame, this.writeInsnIdx, true)!;
      const old = m.mustWrite;
      if (mask === 0n) {
        // Nothing written this time (the common case), without BigInt arithmetic.
        if (old !== 0n) {
          m.mustWrite = 0n;
          inst.updated = true;
          inst.mustWriteDropped = true;
        }
        continue;
      }
      if (inst.mustWriteSet[idx]) mask &= old;
      if (old !== mask) {
        m.mustWrite = mask;
        inst.updated = true;
      }
      if (old & ~mask) inst.mustWriteDropped = true;
    }
    inst.mustWriteSet[idx] = 1;
    this.writeInsnIdx = 0;
  }

  /** bpf_update_live_stack: bring every chain of the current state to its fixed point. */
  update(): void {
    this.resetCallchain();
    const st = this.env.curState;
    for (let frame = st.curframe; frame >= 0; frame--) {
      const inst = this.lookup(st, frame);
      if (!inst.updated) continue;
      this.updateInstance(inst);
      inst.updated = false;
      inst.mustWriteDropped = false;
    }
  }

  private chainText(inst: Instance): string {
    return `(${inst.callsites.join(',')})`;
  }

  private logChange(inst: Instance, what: string, frame: number, insnIdx: number, old: bigint, now: bigint): void {
    const changed = old ^ now;
    if (!changed) return;
    const ones = now & changed;
    const zeros = ~now & changed & ALL;
    let line = `${this.chainText(inst)} frame ${frame} insn ${insnIdx} `;
    if (ones) line += `+${what} ${fmtStackMask(ones)} `;
    if (zeros) line += `-${what} ${fmtStackMask(zeros)}`;
    this.env.log.verbose(`${line}\n`);
  }

  private updateInsn(inst: Instance, frame: number, idx: number): boolean {
    const succ = insnSuccessors(this.env, idx);
    if (succ.length === 0) return false;
    const m = this.masksOf(inst, frame, idx, false)!;
    let after = 0n;
    let acc = ALL;
    for (const s of succ) {
      const sm = this.masksOf(inst, frame, s, false)!;
      after |= sm.liveBefore;
      acc &= sm.mustWriteAcc;
    }
    acc |= m.mustWrite;
    const before = (after & ~m.mustWrite) | m.mayRead;
    const changed = before !== m.liveBefore || acc !== m.mustWriteAcc;
    const env = this.env;
    if (env.log.level2 && (m.mayRead || m.mustWrite || idx === inst.start || env.aux[idx].prunePoint)) {
      this.logChange(inst, 'live', frame, idx, m.liveBefore, before);
      this.logChange(inst, 'written', frame, idx, m.mustWriteAcc, acc);
    }
    m.liveBefore = before;
    m.mustWriteAcc = acc;
    return changed;
  }

  private updateInstance(inst: Instance): void {
    if (inst.mustWriteDropped) {
      for (const arr of inst.frames) if (arr) for (const m of arr) m.mustWriteAcc = 0n;
    }
    const order = this.postorderOf(this.env.subprogOf(inst.start));
    let cnt = 0;
    let changed: boolean;
    do {
      cnt++;
      changed = false;
      for (let frame = 0; frame <= inst.curframe; frame++) {
        if (!inst.frames[frame]) continue;
        for (const i of order) if (this.updateInsn(inst, frame, i)) changed = true;
      }
    } while (changed);
    if (this.env.log.level2) this.env.log.verbose(`${this.chainText(inst)} live stack update done in ${cnt} iterations\n`);
    if (inst.curframe > 0) this.propagateToOuter(inst);
  }

  /** A callee's entry facts become its call site's facts in the caller's chain. */
  private propagateToOuter(inst: Instance): void {
    const outer = this.outer(inst);
    const callsite = inst.callsites[inst.curframe - 1];
    this.startWrites(outer, callsite);
    for (let frame = 0; frame < inst.curframe; frame++) {
      const m = this.masksOf(inst, frame, inst.start, false);
      if (!m) continue;
      this.markWrite(frame, m.mustWriteAcc);
      this.readInto(outer, frame, callsite, m.liveBefore);
    }
    this.commitInto(outer);
  }

  /** compute_postorder for one subprog (computed once for all). */
  private postorderOf(sp: number): number[] {
    this.postorder ??= subprogPostorder(this.env);
    return this.postorder[sp];
  }

  /** bpf_live_stack_query_init: answer slot queries for explored state `st`. */
  queryInit(st: VerifierState): void {
    const instances: Instance[] = [];
    for (let f = 0; f <= st.curframe; f++) instances.push(this.lookup(st, f));
    this.query = { instances, curframe: st.curframe, insnIdx: st.insnIdx };
  }

  private liveBefore(inst: Instance, insnIdx: number, frame: number, spi: number): boolean {
    const m = this.masksOf(inst, frame, insnIdx, false);
    return m !== undefined && (m.liveBefore & (1n << BigInt(spi))) !== 0n;
  }

  /** May slot `spi` of frame `frameno` still be read from the queried state on? */
  slotAlive(frameno: number, spi: number): boolean {
    const q = this.query!;
    const top = q.instances[q.curframe];
    if (this.liveBefore(top, q.insnIdx, frameno, spi)) return true;
    for (let i = frameno; i < q.curframe; i++) {
      // A caller's slot matters after its call returns; a callback returns to the call.
      const callsite = top.callsites[i];
      if (this.liveBefore(q.instances[i], callsCallback(this.env, callsite) ? callsite : callsite + 1, frameno, spi)) return true;
    }
    return false;
  }
}

/** compute_postorder: per subprog, an iterative DFS from its start; successors are pushed
 *  in order (fall-through first), a node is emitted when popped the second time. */
export function subprogPostorder(env: VerifierEnv): number[][] {
  const state = new Uint8Array(env.insnCnt);
  return env.subprogs.map((s) => {
    const out: number[] = [];
    const stack = [s.start];
    while (stack.length) {
      const top = stack[stack.length - 1];
      state[top] |= 1;
      if (state[top] & 2) {
        out.push(top);
        stack.pop();
        continue;
      }
      for (const w of insnSuccessors(env, top)) {
        if (w < env.insnCnt && !state[w]) {
          stack.push(w);
          state[w] |= 1;
        }
      }
      state[top] |= 2;
    }
    return out;
  });
}
