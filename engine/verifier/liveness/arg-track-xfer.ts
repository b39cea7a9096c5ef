// merged: what one instruction does to the arg-tracking state (bpf-next liveness.c's
// forward transfer). The state is the tracked values of r0..r10 and the outgoing
// stack-argument slots sa0..sa6 (one array, sa0 at index 11), plus the current frame's
// 8-byte spill slots fp-8..fp-512. Only full 8-byte stores and loads keep a pointer's
// identity; calls clear r0..r5 but leave spill slots alone (a stale pointer there only
// over-approximates liveness).

import type { RawSlot } from '../../isa/insn.ts';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_DW, BPF_FETCH, BPF_IMM, BPF_JMP, BPF_K, BPF_LD,
  BPF_LDX, BPF_LOAD_ACQ, BPF_MEM, BPF_MOV, BPF_REG_FP, BPF_REG_PARAMS, BPF_ST, BPF_STX, BPF_SUB,
  bpfClass, bpfMode, bpfOp, bpfSize, bpfSrc, sizeBytes,
} from '../../isa/opcodes.ts';
import {
  type ArgTrack, MAX_ARG_SPILL_SLOTS, NONE, TRACKED_REGS, addConst, addOff, alu64, fpOffToSlot, fpUnknown, imprecise,
  join, stackArgOffToSlot,
} from './arg-track.ts';

/** merged is_stack_arg_stx/st/ldx: the only r11 forms the verifier accepts. */
const DW_MEM = BPF_MEM | BPF_DW;
export const isStackArgStore = (i: RawSlot): boolean =>
  (i.code === (BPF_STX | DW_MEM) || i.code === (BPF_ST | DW_MEM)) && i.dst === BPF_REG_PARAMS && i.off < 0 && i.off % 8 === 0;
export const isStackArgLoad = (i: RawSlot): boolean =>
  i.code === (BPF_LDX | DW_MEM) && i.src === BPF_REG_PARAMS && i.off > 0 && i.off % 8 === 0;

export interface XferCtx {
  /** Absolute call depth of the function instance being analysed. */
  readonly depth: number;
  /** Incoming stack arguments as the caller left them (all NONE for a root). */
  readonly stackArgEntry: readonly ArgTrack[];
  /** Spill slots of an outer frame at the call that leads here (loads through a caller's
   *  stack pointer read them). */
  readonly parentStack: (frame: number) => readonly ArgTrack[] | undefined;
}

export interface ArgState {
  readonly regs: readonly ArgTrack[];
  readonly stack: readonly ArgTrack[];
}

/** Every frame up to `depth`: what a value of unknown origin may point into. */
const allFrames = (depth: number): ArgTrack => imprecise((1 << (depth + 1)) - 1);

/** Could this base register point into the current frame? */
function maybeLocal(depth: number, reg: number, a: ArgTrack): boolean {
  return reg === BPF_REG_FP || (a.kind === 'fp' && a.frame === depth) || (a.kind === 'imprecise' && (a.mask & (1 << depth)) !== 0);
}

/** The r10-relative offsets an access `base + off` may hit: [] for an unknown offset,
 *  undefined when some candidate overflows. */
function candidateOffs(regs: readonly ArgTrack[], base: number, off: number): number[] | undefined {
  if (base === BPF_REG_FP) return [off];
  const b = regs[base];
  if (b.kind !== 'fp') return [];
  const out: number[] = [];
  for (const o of b.offs) {
    const r = addOff(o, off);
    if (r === undefined) return undefined;
    out.push(r);
  }
  return out;
}

/** A full 8-byte load from a stack: the joined contents of every slot it may read. */
function fill(insn: RawSlot, regs: readonly ArgTrack[], stack: readonly ArgTrack[], depth: number): ArgTrack {
  const imp = allFrames(depth);
  if (insn.src === BPF_REG_FP) {
    const slot = fpOffToSlot(insn.off);
    return slot >= 0 ? stack[slot] : imp;
  }
  const b = regs[insn.src];
  if (b.kind !== 'fp' || b.offs.length === 0) return imp;
  let out: ArgTrack = NONE;
  for (const o of b.offs) {
    const r = addOff(o, insn.off);
    const slot = r === undefined ? -1 : fpOffToSlot(r);
    if (slot < 0) return imp;
    out = join(out, stack[slot]);
  }
  return out;
}

/** A store of `val` (sz bytes) through `dst + off` into the current frame's spill slots:
 *  one known slot is overwritten, several or unknown ones only joined. */
function spill(insn: RawSlot, regs: readonly ArgTrack[], stack: ArgTrack[], val: ArgTrack, sz: number): void {
  const v = sz === 8 ? val : NONE;
  if (insn.dst === BPF_REG_FP) {
    const slot = fpOffToSlot(insn.off);
    if (slot >= 0) stack[slot] = v;
    return;
  }
  const b = regs[insn.dst];
  const offs = b.kind === 'fp' ? b.offs : [];
  if (offs.length === 0) {
    for (let s = 0; s < MAX_ARG_SPILL_SLOTS; s++) stack[s] = join(stack[s], v);
    return;
  }
  for (const o of offs) {
    const r = addOff(o, insn.off);
    const slot = r === undefined ? -1 : fpOffToSlot(r);
    if (slot < 0) continue;
    stack[slot] = offs.length === 1 ? v : join(stack[slot], v);
  }
}

/** Forget pointers in the slots overlapping [off, off+sz); `cnt` candidates (0 = unknown
 *  address) decide between overwriting and joining with NONE. */
function clearOverlap(stack: ArgTrack[], off: number, sz: number, cnt: number): void {
  for (let s = 0; s < MAX_ARG_SPILL_SLOTS; s++) {
    const lo = -(s + 1) * 8;
    if (cnt !== 0 && !(lo < off + sz && lo + 8 > off)) continue;
    stack[s] = cnt === 1 ? NONE : join(stack[s], NONE);
  }
}

function clearStores(insn: RawSlot, regs: readonly ArgTrack[], stack: ArgTrack[], sz: number): void {
  const offs = candidateOffs(regs, insn.dst, insn.off);
  if (offs === undefined || offs.length === 0) {
    // unknown or overflowing candidate: the kernel first clears the candidates before the
    // overflow, then everything weakly; the weak clear of all slots subsumes them.
    if (offs === undefined) clearPrefix(insn, regs, stack, sz);
    clearOverlap(stack, 0, sz, 0);
    return;
  }
  for (const o of offs) clearOverlap(stack, o, sz, offs.length);
}

/** Candidates before the first overflowing one (they are cleared before giving up). */
function clearPrefix(insn: RawSlot, regs: readonly ArgTrack[], stack: ArgTrack[], sz: number): void {
  const b = regs[insn.dst];
  if (b.kind !== 'fp') return;
  for (const o of b.offs) {
    const r = addOff(o, insn.off);
    if (r === undefined) return;
    clearOverlap(stack, r, sz, b.offs.length);
  }
}

/** State after `insn`, from the state before it. */
export function argTrackXfer(insn: RawSlot, st: ArgState, ctx: XferCtx): ArgState {
  const regs = [...st.regs];
  const stack = [...st.stack];
  const cls = bpfClass(insn.code);
  const op = bpfOp(insn.code);
  const mode = bpfMode(insn.code);
  // dst/src may name r11: outside the stack-argument forms that index sa0, as the kernel's
  // extended array does (such programs are refused later with "R11 is invalid").
  const dst = regs[insn.dst] ?? NONE;
  const src = regs[insn.src] ?? NONE;
  const setDst = (v: ArgTrack): void => {
    if (insn.dst < regs.length) regs[insn.dst] = v;
  };

  if (isStackArgStore(insn)) {
    const slot = stackArgOffToSlot(insn.off);
    if (slot >= 0) regs[TRACKED_REGS + slot] = cls === BPF_STX ? src : NONE;
  } else if (isStackArgLoad(insn)) {
    const slot = stackArgOffToSlot(insn.off);
    setDst(slot >= 0 ? ctx.stackArgEntry[slot] : NONE);
  } else if (cls === BPF_ALU64 && bpfSrc(insn.code) === BPF_K) {
    if (op === BPF_MOV) setDst(NONE);
    else if (dst.kind === 'fp') setDst(op === BPF_ADD ? addConst(dst, insn.imm) : op === BPF_SUB ? addConst(dst, -insn.imm) : fpUnknown(dst.frame));
  } else if (cls === BPF_ALU64) {
    // a MOV with an offset is a sign extension or an address-space cast: not a pointer.
    if (op === BPF_MOV) setDst(insn.off === 0 ? src : NONE);
    else setDst(alu64(dst, src));
  } else if (cls === BPF_ALU) {
    setDst(NONE); // 32-bit results never hold a pointer
  } else if (cls === BPF_JMP && op === BPF_CALL) {
    for (let r = 0; r <= 5; r++) regs[r] = NONE;
  } else if (cls === BPF_LDX) {
    setDst(loadResult(insn, regs, stack, src, ctx));
  } else if (cls === BPF_LD && mode === BPF_IMM) {
    setDst(NONE);
  } else if (cls === BPF_STX) {
    const sz = sizeBytes(bpfSize(insn.code));
    const local = maybeLocal(ctx.depth, insn.dst, dst);
    if (local && mode === BPF_MEM) spill(insn, regs, stack, src, sz);
    if (mode === BPF_ATOMIC) {
      if (local && insn.imm !== BPF_LOAD_ACQ) clearStores(insn, regs, stack, sz);
      if (insn.imm === BPF_CMPXCHG) regs[0] = NONE;
      else if (insn.imm === BPF_LOAD_ACQ) setDst(NONE);
      else if (insn.imm & BPF_FETCH && insn.src < regs.length) regs[insn.src] = NONE;
    }
  } else if (cls === BPF_ST && mode === BPF_MEM) {
    if (maybeLocal(ctx.depth, insn.dst, dst)) clearStores(insn, regs, stack, sizeBytes(bpfSize(insn.code)));
  }
  return { regs, stack };
}

function loadResult(insn: RawSlot, regs: readonly ArgTrack[], stack: readonly ArgTrack[], src: ArgTrack, ctx: XferCtx): ArgTrack {
  if (bpfMode(insn.code) !== BPF_MEM || sizeBytes(bpfSize(insn.code)) !== 8) return NONE;
  if (maybeLocal(ctx.depth, insn.src, src)) return fill(insn, regs, stack, ctx.depth);
  if (src.kind === 'fp' && src.frame < ctx.depth) {
    const parent = ctx.parentStack(src.frame);
    return parent ? fill(insn, regs, parent, src.frame) : allFrames(src.frame);
  }
  // only outer frames, which one unknown: the value may be any of their pointers
  if (src.kind === 'imprecise' && src.mask !== 0) return src;
  return NONE;
}
