// Precision tracking (6.18 mark_chain_precision / backtrack_insn / propagate_precision).
//
// Scalars start imprecise: pruning ignores their values. When a decision depends on a
// scalar's value (a branch decided by its range, pointer + scalar, a return-code range, a
// helper's constant argument), the verifier walks the current path backwards through the
// jmp history and marks every register and spilled slot that fed that value as precise in
// the *checkpointed* parent states, so later states are compared on those values. The current
// state itself is never marked: only checkpoints are ever compared.
//
// The walk keeps one register mask and one stack-slot mask per frame (`Bt`); each insn, read
// backwards, moves marks from what it defines to what it uses.

import type { Insn } from '../../isa/insn.ts';
import {
  BPF_ALU, BPF_ALU64, BPF_LDX, BPF_STX, BPF_ST, BPF_JMP, BPF_JMP32, BPF_LD, BPF_MOV, BPF_NEG, BPF_END, BPF_X,
  BPF_CALL, BPF_EXIT, BPF_IMM, BPF_ABS, BPF_IND, BPF_ATOMIC, BPF_FETCH, BPF_CMPXCHG, BPF_LOAD_ACQ,
  BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_REG_FP, bpfClass, bpfMode, bpfOp, bpfSrc,
} from '../../isa/opcodes.ts';
import { printInsn } from '../../isa/disasm.ts';
import { RegType, SlotType, HIST_DST_STACK, HIST_SRC_STACK } from '../state/types.ts';
import type { HistEntry, VerifierState } from '../state/types.ts';
import { printVerifierState, Scratch } from '../log/state-print.ts';
import { insnTextOpts } from '../cfg/liveness.ts';
import { reject, EFAULT } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { histEntryAt, prevInsnIdx } from './history.ts';
import { markStackArgsPrecise } from '../stack-arg/precision.ts';
import { callsCallback } from '../loop-prune.ts';
import { isGlobal } from '../calls/global.ts';

const MAX_FRAMES = 8;
const ARGS_MASK = 0x3e; // r1..r5

/** Registers and stack slots still looking for the insn that defined them, per frame. */
export class Bt {
  frame = 0;
  readonly regs = new Array<number>(MAX_FRAMES).fill(0);
  // Stack slots 0-31 and 32-63 as two number masks: BigInt masks allocated at every test.
  private readonly slotsLo = new Array<number>(MAX_FRAMES).fill(0);
  private readonly slotsHi = new Array<number>(MAX_FRAMES).fill(0);
  /** Outgoing stack-argument slots per frame (merged stack_arg_masks; v4 alike). */
  readonly argSlots = new Array<number>(MAX_FRAMES).fill(0);

  reset(): void {
    this.frame = 0;
    this.regs.fill(0);
    this.slotsLo.fill(0);
    this.slotsHi.fill(0);
    this.argSlots.fill(0);
  }
  empty(): boolean {
    for (let i = 0; i <= this.frame; i++) if (this.regs[i] || this.slotsLo[i] || this.slotsHi[i] || this.argSlots[i]) return false;
    return true;
  }
  setReg(r: number, fr = this.frame): void {
    this.regs[fr] |= 1 << r;
  }
  clearReg(r: number, fr = this.frame): void {
    this.regs[fr] &= ~(1 << r);
  }
  hasReg(r: number, fr = this.frame): boolean {
    return (this.regs[fr] & (1 << r)) !== 0;
  }
  setSlot(spi: number, fr = this.frame): void {
    if (spi < 32) this.slotsLo[fr] |= 1 << spi;
    else this.slotsHi[fr] |= 1 << (spi - 32);
  }
  clearSlot(spi: number, fr = this.frame): void {
    if (spi < 32) this.slotsLo[fr] &= ~(1 << spi);
    else this.slotsHi[fr] &= ~(1 << (spi - 32));
  }
  hasSlot(spi: number, fr = this.frame): boolean {
    return spi < 32 ? (this.slotsLo[fr] & (1 << spi)) !== 0 : (this.slotsHi[fr] & (1 << (spi - 32))) !== 0;
  }
  /** Any slot marked in frame `fr`. */
  anySlot(fr = this.frame): boolean {
    return (this.slotsLo[fr] | this.slotsHi[fr]) !== 0;
  }
  /** One past the highest marked slot of frame `fr` (0 when none). */
  slotsEnd(fr = this.frame): number {
    const hi = this.slotsHi[fr];
    return hi ? 64 - Math.clz32(hi) : 32 - Math.clz32(this.slotsLo[fr]);
  }
  /** Frame `fr`'s slot mask as the kernel's u64 (bit i = fp-8*(i+1)), for the log. */
  slotMask(fr = this.frame): bigint {
    return (BigInt(this.slotsHi[fr] >>> 0) << 32n) | BigInt(this.slotsLo[fr] >>> 0);
  }
}

/** `r0,r2,r4` */
export function fmtRegMask(mask: number): string {
  const out: string[] = [];
  for (let i = 0; i < 32; i++) if (mask & (1 << i)) out.push(`r${i}`);
  return out.join(',');
}

/** `-8,-24` (bpf_fmt_stack_mask) */
export function fmtStackMask(mask: bigint): string {
  const out: string[] = [];
  for (let i = 0; i < 64; i++) if (mask & (1n << BigInt(i))) out.push(String(-(i + 1) * 8));
  return out.join(',');
}

const NOT_SUPPORTED = Symbol('ENOTSUPP');

/** If any member of the jump's linked set is tracked, track them all. */
function syncLinked(bt: Bt, hist: HistEntry | undefined): void {
  if (!hist?.linked) return;
  let some = false;
  for (const e of hist.linked) {
    if (e.isReg ? bt.hasReg(e.n, e.frameno) : bt.hasSlot(e.n, e.frameno)) {
      some = true;
      break;
    }
  }
  if (!some) return;
  for (const e of hist.linked) {
    if (e.isReg) bt.setReg(e.n, e.frameno);
    else bt.setSlot(e.n, e.frameno);
  }
}

const isAtomicFetch = (i: Insn): boolean =>
  bpfClass(i.code) === BPF_STX && bpfMode(i.code) === BPF_ATOMIC && (i.imm & BPF_FETCH) !== 0;

/** One insn, read backwards: what must be precise before it. */
function backtrackInsn(env: VerifierEnv, idx: number, subseqIdx: number, hist: HistEntry | undefined, bt: Bt): typeof NOT_SUPPORTED | void {
  const insn = env.insn(idx);
  const cls = bpfClass(insn.code);
  const op = bpfOp(insn.code);
  const dreg = insn.dst;
  const sreg = insn.src;
  if (insn.code === 0) return;
  if (env.log.level2) {
    env.log.verbose(`mark_precise: frame${bt.frame}: regs=${fmtRegMask(bt.regs[bt.frame])} stack=${fmtStackMask(bt.slotMask(bt.frame))} before `);
    env.log.verbose(`${idx}: ${printInsn(insn, insnTextOpts(env))}\n`);
  }
  syncLinked(bt, hist);

  if (cls === BPF_ALU || cls === BPF_ALU64) {
    if (!bt.hasReg(dreg)) return;
    if (op === BPF_END || op === BPF_NEG) return;
    if (op === BPF_MOV) {
      // dst = src: src carries the precision from here on; dst = K ends the chain.
      bt.clearReg(dreg);
      if (bpfSrc(insn.code) === BPF_X && sreg !== BPF_REG_FP) bt.setReg(sreg);
    } else if (bpfSrc(insn.code) === BPF_X && sreg !== BPF_REG_FP) {
      bt.setReg(sreg);
    }
  } else if (cls === BPF_LDX || isAtomicFetch(insn) || (cls === BPF_STX && bpfMode(insn.code) === BPF_ATOMIC && insn.imm === BPF_LOAD_ACQ)) {
    let loadReg = dreg;
    if (isAtomicFetch(insn)) loadReg = insn.imm === BPF_CMPXCHG ? 0 : sreg;
    if (!bt.hasReg(loadReg)) return;
    bt.clearReg(loadReg);
    // A stack-arg load: the value came from an outgoing slot (the caller's, for an incoming arg).
    if (hist?.stackArg) {
      bt.argSlots[hist.stackArg.frameno] |= 1 << hist.stackArg.spi;
      return;
    }
    // Only a fill from the stack keeps the value; other loads start fresh here.
    if (!hist?.stack) return;
    bt.setSlot(hist.stack.spi, hist.stack.frameno);
  } else if (cls === BPF_STX || cls === BPF_ST) {
    // A scalar used as the address of a store: pointer subtraction; give up.
    if (bt.hasReg(dreg)) return NOT_SUPPORTED;
    if (hist?.stackArg) {
      const { frameno, spi } = hist.stackArg;
      if (!(bt.argSlots[frameno] & (1 << spi))) return;
      bt.argSlots[frameno] &= ~(1 << spi);
      if (cls === BPF_STX) bt.setReg(sreg);
      return;
    }
    if (!hist?.stack) return;
    const { spi, frameno } = hist.stack;
    if (!bt.hasSlot(spi, frameno)) return;
    bt.clearSlot(spi, frameno);
    if (cls === BPF_STX) bt.setReg(sreg);
  } else if (cls === BPF_JMP || cls === BPF_JMP32) {
    if (op === BPF_CALL && insn.src === BPF_PSEUDO_CALL && isGlobal(env, env.subprogOf(idx + insn.imm + 1))) {
      // A global subprog is verified on its own: the path goes straight from the call to the
      // next insn, and r0 is whatever it returned (no value to chase, r1-r5 are clobbered).
      if (subseqIdx !== idx + 1) throw verifierBug(env, 'extra insn from subprog');
      if (bt.regs[bt.frame] & ARGS_MASK) throw verifierBug(env, `global subprog unexpected regs ${bt.regs[bt.frame].toString(16)}`);
      bt.clearReg(0);
      return;
    }
    if (op === BPF_CALL && insn.src === BPF_PSEUDO_CALL) {
      // Backwards over a static call means leaving the callee: only its arguments can
      // still be wanted, and they belong to the caller now.
      if (bt.regs[bt.frame] & ~ARGS_MASK) throw verifierBug(env, `regs ${bt.regs[bt.frame].toString(16)}`);
      if (bt.anySlot()) throw verifierBug(env, `stack slots ${bt.slotMask().toString(16)}`);
      for (let r = 1; r <= 5; r++) {
        if (bt.hasReg(r)) {
          bt.clearReg(r);
          bt.setReg(r, bt.frame - 1);
        }
      }
      if (bt.frame === 0) throw verifierBug(env, 'subprog exit from frame 0');
      bt.frame--;
      return;
    }
    if (op === BPF_CALL && callsCallback(env, idx) && idx !== subseqIdx - 1) {
      // Backwards from a callback's first insn to the helper call that queued it: leaving
      // the callback frame. Its r1-r5 came from the helper, not from the caller's registers.
      if (bt.regs[bt.frame] & ~ARGS_MASK) throw verifierBug(env, `regs ${bt.regs[bt.frame].toString(16)}`);
      if (bt.anySlot()) return NOT_SUPPORTED;
      for (let r = 1; r <= 5; r++) bt.clearReg(r);
      if (bt.frame === 0) throw verifierBug(env, 'subprog exit from frame 0');
      bt.frame--;
      return;
    }
    if (op === BPF_CALL) {
      if (insn.src === BPF_PSEUDO_KFUNC_CALL && insn.imm === 0) return NOT_SUPPORTED;
      bt.clearReg(0);
      if (bt.regs[bt.frame] & ARGS_MASK) throw verifierBug(env, `regs ${bt.regs[bt.frame].toString(16)}`);
      return;
    }
    if (op === BPF_EXIT) {
      // Backwards over a subprog exit means entering the callee; r0 is its return value.
      const fromCall = subseqIdx - 1 >= 0 && isPseudoCall(env, subseqIdx - 1);
      // A callback's exit goes back to its helper call, which set r1-r5 for the callback.
      if (subseqIdx >= 0 && callsCallback(env, subseqIdx)) for (let r = 1; r <= 5; r++) bt.clearReg(r);
      const r0 = fromCall && bt.hasReg(0);
      if (fromCall && bt.regs[bt.frame] & ARGS_MASK) throw verifierBug(env, `regs ${bt.regs[bt.frame].toString(16)}`);
      bt.clearReg(0);
      if (bt.frame === MAX_FRAMES - 1) throw verifierBug(env, `subprog enter from frame ${bt.frame}`);
      bt.frame++;
      if (r0) bt.setReg(0);
      return;
    }
    if (bpfSrc(insn.code) === BPF_X) {
      if (!bt.hasReg(dreg) && !bt.hasReg(sreg)) return;
      // Compared against each other: both or neither; a stack pointer operand (r10 or a
      // copy) is no scalar to make precise (6.18 flags it in the jump history).
      const stackOps = hist?.regStack ?? 0;
      if (!(stackOps & HIST_SRC_STACK)) bt.setReg(sreg);
      if (!(stackOps & HIST_DST_STACK)) bt.setReg(dreg);
    }
  } else if (cls === BPF_LD) {
    const mode = bpfMode(insn.code);
    if (mode === BPF_IMM) {
      bt.clearReg(dreg);
      return;
    }
    if (mode === BPF_ABS || mode === BPF_IND) {
      if (bt.hasReg(dreg)) return NOT_SUPPORTED;
      // The implicit exit of LD_ABS: backwards it enters the frame it left.
      if (subseqIdx !== idx + 1) bt.frame++;
      return;
    }
  }
  syncLinked(bt, hist);
}

const isPseudoCall = (env: VerifierEnv, i: number): boolean => {
  const s = env.slots[i];
  return s.code === (BPF_JMP | BPF_CALL) && s.src === BPF_PSEUDO_CALL;
};

function verifierBug(env: VerifierEnv, what: string): Error {
  void env;
  return reject(EFAULT, `verifier bug: backtracking ${what}`);
}

const isSpilledScalar = (env: VerifierEnv, st: VerifierState, fr: number, spi: number): boolean => {
  void env;
  const s = st.frames[fr].stack[spi];
  return s.slotType[7] === SlotType.SPILL && s.spilled.type === RegType.SCALAR_VALUE;
};

/** The conservative fallback: every scalar in every checkpoint above `st` becomes precise. */
export function markAllScalarsPrecise(env: VerifierEnv, st: VerifierState): void {
  if (env.log.level2) env.log.verbose(`mark_precise: frame${st.curframe}: falling back to forcing all scalars precise\n`);
  for (let cp = st.parent; cp; cp = cp.parent) {
    const s = cp.st;
    for (let i = 0; i <= s.curframe; i++) {
      const f = s.frames[i];
      for (let j = 0; j < BPF_REG_FP; j++) {
        const r = f.regs[j];
        if (r.type !== RegType.SCALAR_VALUE || r.precise) continue;
        r.precise = true;
        if (env.log.level2) env.log.verbose(`force_precise: frame${i}: forcing r${j} to be precise\n`);
      }
      for (let j = 0; j < f.allocatedStack / 8; j++) {
        if (f.stack[j].slotType[7] !== SlotType.SPILL) continue;
        const r = f.stack[j].spilled;
        if (r.type !== RegType.SCALAR_VALUE || r.precise) continue;
        r.precise = true;
        if (env.log.level2) env.log.verbose(`force_precise: frame${i}: forcing fp${-(j + 1) * 8} to be precise\n`);
      }
    }
  }
}

/** Forget inherited precision before a state becomes a checkpoint (6.18: bpf_capable only). */
export function markAllScalarsImprecise(st: VerifierState): void {
  for (let i = 0; i <= st.curframe; i++) {
    const f = st.frames[i];
    for (let j = 0; j < BPF_REG_FP; j++) if (f.regs[j].type === RegType.SCALAR_VALUE) f.regs[j].precise = false;
    for (let j = 0; j < f.allocatedStack / 8; j++) {
      const s = f.stack[j];
      if (s.slotType[7] === SlotType.SPILL && s.spilled.type === RegType.SCALAR_VALUE) s.spilled.precise = false;
    }
  }
}

/** __mark_chain_precision from `start` with the marks already in env.bt (plus `regno` of
 *  the current frame when >= 0). Returns whether some checkpoint gained a precise mark. */
export function markChainPrecisionFrom(env: VerifierEnv, start: VerifierState, regno: number): boolean {
  if (!env.bpfCapable) return false;
  const bt = env.bt;
  let changed = false;
  let st: VerifierState = start;
  let firstIdx = st.firstInsnIdx;
  let lastIdx = start.insnIdx;
  let subseqIdx = -1;
  let skipFirst = true;
  bt.frame = start.curframe;
  if (regno >= 0) {
    const reg = st.frames[bt.frame].regs[regno];
    if (reg.type !== RegType.SCALAR_VALUE) throw verifierBug(env, 'misuse');
    bt.setReg(regno);
  }
  if (bt.empty()) return false;

  const log = env.log;
  for (;;) {
    if (log.level2) log.verbose(`mark_precise: frame${bt.frame}: last_idx ${lastIdx} first_idx ${firstIdx} subseq_idx ${subseqIdx} \n`);
    if (lastIdx < 0) {
      // The entry of a global subprog verified on its own: its arguments are precise.
      throw verifierBug(env, `func entry subprog ${st.frames[0].subprogno}`);
    }
    const cursor = { end: st.jmpHistory.length };
    for (let i = lastIdx; ;) {
      if (skipFirst) skipFirst = false;
      else if (backtrackInsn(env, i, subseqIdx, histEntryAt(st, cursor.end, i), bt) === NOT_SUPPORTED) {
        markAllScalarsPrecise(env, start);
        bt.reset();
        return changed;
      }
      if (bt.empty()) return changed;
      subseqIdx = i;
      i = prevInsnIdx(st, i, cursor);
      if (i < 0) break;
    }
    const cp = st.parent;
    if (!cp) break;
    st = cp.st;
    for (let fr = bt.frame; fr >= 0; fr--) {
      const f = st.frames[fr];
      // Only the set bits: most walks carry one register and no slot (BigInt shifts for
      // 64 empty slots per checkpoint were a third of the walk's time).
      for (let i = 0; i < 32 && bt.regs[fr] >>> i; i++) {
        if (!bt.hasReg(i, fr)) continue;
        const r = f.regs[i];
        if (r.type !== RegType.SCALAR_VALUE || r.precise) bt.clearReg(i, fr);
        else {
          r.precise = true;
          changed = true;
        }
      }
      for (let i = 0, end = bt.slotsEnd(fr); i < end; i++) {
        if (!bt.hasSlot(i, fr)) continue;
        if (i >= f.allocatedStack / 8) throw verifierBug(env, `stack slot ${i}, total slots ${f.allocatedStack / 8}`);
        if (!isSpilledScalar(env, st, fr, i)) {
          bt.clearSlot(i, fr);
          continue;
        }
        const r = f.stack[i].spilled;
        if (r.precise) bt.clearSlot(i, fr);
        else {
          r.precise = true;
          changed = true;
        }
      }
      changed = markStackArgsPrecise(bt, f, fr) || changed;
      if (log.level2) {
        log.verbose(`mark_precise: frame${fr}: parent state regs=${fmtRegMask(bt.regs[fr])} stack=${fmtStackMask(bt.slotMask(fr))}: `);
        log.verbose(printVerifierState(st, f, true, FULL));
      }
    }
    if (bt.empty()) return changed;
    subseqIdx = firstIdx;
    lastIdx = st.lastInsnIdx;
    firstIdx = st.firstInsnIdx;
  }
  // Something was missed (a stack access through another register): be conservative.
  if (!bt.empty()) {
    markAllScalarsPrecise(env, start);
    bt.reset();
  }
  return changed;
}

const FULL = new Scratch();

/** mark_chain_precision: the current state's `regno` feeds a decision. */
export function markChainPrecision(env: VerifierEnv, regno: number): void {
  markChainPrecisionFrom(env, env.curState, regno);
}

/** A pruned path must carry the precision the matching checkpoint relied on back into its
 *  own parents (propagate_precision). */
export function propagatePrecision(env: VerifierEnv, old: VerifierState, cur: VerifierState): boolean {
  const bt = env.bt;
  const log = env.log;
  for (let fr = old.curframe; fr >= 0; fr--) {
    const f = old.frames[fr];
    let first = true;
    const note = (what: string): void => {
      if (log.level2) log.verbose(first ? `frame ${fr}: propagating ${what}` : `,${what}`);
      first = false;
    };
    for (let i = 0; i < BPF_REG_FP; i++) {
      const r = f.regs[i];
      if (r.type !== RegType.SCALAR_VALUE || !r.precise) continue;
      note(`r${i}`);
      bt.setReg(i, fr);
    }
    for (let i = 0; i < f.allocatedStack / 8; i++) {
      const s = f.stack[i];
      if (s.slotType[7] !== SlotType.SPILL || s.spilled.type !== RegType.SCALAR_VALUE || !s.spilled.precise) continue;
      note(`fp${(-i - 1) * 8}`);
      bt.setSlot(i, fr);
    }
    f.stackArgs.forEach((r, i) => {
      if (r.type === RegType.SCALAR_VALUE && r.precise) bt.argSlots[fr] |= 1 << i;
    });
    if (!first && log.level2) log.verbose('\n');
  }
  return markChainPrecisionFrom(env, cur, -1);
}

