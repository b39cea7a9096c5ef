// check_cond_jmp_op: decide the branch when the operands allow it, otherwise push the taken
// branch and refine both sides (scalar ranges, NULL checks, packet ranges).

import type { Insn } from '../../isa/insn.ts';
import {
  BPF_JMP, BPF_JCOND, BPF_MAY_GOTO, BPF_JMP32, BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JGE, BPF_JLT, BPF_JLE, BPF_JSGT, BPF_JSGE, BPF_JSLT, BPF_JSLE,
  BPF_X, bpfClass, bpfOp, bpfSrc,
} from '../../isa/opcodes.ts';
import { RegType, HIST_DST_STACK, HIST_SRC_STACK, PTR_MAYBE_NULL, PTR_TRUSTED, PTR_UNTRUSTED, baseType, cloneReg, cloneState, mayBeNull } from '../state/types.ts';
import type { RegState, VerifierState } from '../state/types.ts';
import { isPointer, markKnown } from '../state/regs.ts';
import { scalarConst, immBounds, isBranchTaken, refineBranch, isConst, constValue } from '../scalar-api.ts';
import { NotImplementedError } from '../errors.ts';
import { reject, EACCES, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { checkRegRead } from './regs.ts';
import { pushStack } from '../branch-stack.ts';
import { findPrevEntry, widenImpreciseScalars } from '../prune.ts';
import { markChainPrecision } from '../precision/backtrack.ts';
import { pushJmpHistory } from '../precision/history.ts';
import type { LinkedReg } from '../state/types.ts';
import { printInsnState } from '../log/insn-state.ts';
import { pushSpeculativePath } from '../unpriv/speculative.ts';
import { isPointerValue } from '../unpriv/sanitize.ts';
import { releaseRefState } from './refs.ts';
import { fieldOf } from './map-fields.ts';
import { markPtrNotNull } from './not-null.ts';
import { collectLinked, syncLinked } from './linked-regs.ts';

const NOT_NULL_TYPES = new Set<number>([RegType.PTR_TO_SOCKET, RegType.PTR_TO_TCP_SOCK, RegType.PTR_TO_XDP_SOCK, RegType.PTR_TO_BUF, RegType.PTR_TO_MAP_VALUE, RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_SOCK_COMMON, RegType.PTR_TO_MEM, RegType.CONST_PTR_TO_MAP]);

/** Every register and spilled register of every frame. */
function* allRegs(st: VerifierState): Generator<RegState> {
  for (const f of st.frames) {
    for (const r of f.regs) yield r;
    for (const s of f.stack) if (s.slotType[7] === 1) yield s.spilled;
    // Outgoing stack-argument slots hold register copies too (bpf_for_each_reg_in_vstate).
    yield* f.stackArgs;
  }
}

/** mark_ptr_or_null_regs: after a NULL check, every copy (same id) becomes the non-null
 *  pointer or the scalar 0; on the NULL side an acquired reference is gone. */
function markPtrOrNull(st: VerifierState, id: number, refObjId: number, isNull: boolean): void {
  if (isNull && refObjId && refObjId === id) releaseRefState(st, id);
  for (const r of allRegs(st)) {
    if (r.id !== id || !mayBeNull(r.type)) continue;
    if (isNull) markKnown(r, 0n);
    else {
      markPtrNotNull(r);
      // Known non-null, the id has done its job, except on a map value holding a spin
      // lock (the lock is identified by it).
      if (!(r.type === RegType.PTR_TO_MAP_VALUE && r.map && fieldOf(r.map.def, 'bpf_spin_lock'))) r.id = 0;
    }
  }
}

function findGoodPktPointers(st: VerifierState, dst: RegState, rightOpen: boolean): void {
  if (dst.off < 0 || (dst.off === 0 && rightOpen)) return;
  // An offset that could wrap proves nothing.
  if (dst.s.umax > MAX_PACKET_OFF || dst.s.umax + BigInt(dst.off) > MAX_PACKET_OFF) return;
  const newRange = dst.off + (rightOpen ? 1 : 0);
  for (const r of allRegs(st)) if (r.type === dst.type && r.id === dst.id) r.range = Math.max(r.range, newRange);
}

const MAX_PACKET_OFF = 0xffffn;
const AT_PKT_END = -1;
const BEYOND_PKT_END = -2;

function markPktEnd(st: VerifierState, regno: number, beyond: boolean): void {
  const r = st.frames[st.curframe].regs[regno];
  // Only data pointers learn they reached pkt_end (meta pointers never do).
  if (r.type !== RegType.PTR_TO_PACKET) return;
  r.range = beyond ? BEYOND_PKT_END : AT_PKT_END;
}

const isPkt = (r: RegState): boolean => r.type === RegType.PTR_TO_PACKET;
const isPktEnd = (r: RegState): boolean => r.type === RegType.PTR_TO_PACKET_END;
const isPktMeta = (r: RegState): boolean => r.type === RegType.PTR_TO_PACKET_META;
/** reg_is_init_pkt_pointer: `data` itself as loaded from the context, not moved. */
const isInitPkt = (r: RegState): boolean => isPkt(r) && r.id === 0 && r.off === 0 && isConst(r.s) && constValue(r.s) === 0n;

function tryMatchPktPointers(insn: Insn, dst: RegState, src: RegState, thisB: VerifierState, other: VerifierState): boolean {
  if (bpfSrc(insn.code) !== BPF_X || bpfClass(insn.code) === BPF_JMP32) return false;
  const op = bpfOp(insn.code);
  // data' against data_end, or data_meta' against data: the left one is the pointer that
  // gains a range (fwd), or the right one (rev).
  const fwd = (isPkt(dst) && isPktEnd(src)) || (isPktMeta(dst) && isInitPkt(src));
  const rev = (isPktEnd(dst) && isPkt(src)) || (isInitPkt(dst) && isPktMeta(src));
  if (!fwd && !rev) return false;
  const pick = (s: VerifierState, regno: number): RegState => s.frames[s.curframe].regs[regno];
  switch (op) {
    case BPF_JGT:
      if (fwd) { findGoodPktPointers(thisB, pick(thisB, insn.dst), false); markPktEnd(other, insn.dst, true); }
      else { findGoodPktPointers(other, pick(other, insn.src), true); markPktEnd(thisB, insn.src, false); }
      return true;
    case BPF_JLT:
      if (fwd) { findGoodPktPointers(other, pick(other, insn.dst), true); markPktEnd(thisB, insn.dst, false); }
      else { findGoodPktPointers(thisB, pick(thisB, insn.src), false); markPktEnd(other, insn.src, true); }
      return true;
    case BPF_JGE:
      if (fwd) { findGoodPktPointers(thisB, pick(thisB, insn.dst), true); markPktEnd(other, insn.dst, false); }
      else { findGoodPktPointers(other, pick(other, insn.src), false); markPktEnd(thisB, insn.src, true); }
      return true;
    case BPF_JLE:
      if (fwd) { findGoodPktPointers(other, pick(other, insn.dst), false); markPktEnd(thisB, insn.dst, true); }
      else { findGoodPktPointers(thisB, pick(thisB, insn.src), true); markPktEnd(other, insn.src, false); }
      return true;
    default:
      return false;
  }
}

/** may_goto: the fall-through (the budget ran out) is explored later one level deeper; the
 *  jump is taken now. Scalars that keep changing between passes are widened. */
function checkMayGoto(env: VerifierEnv, insn: Insn, insnIdx: number): number {
  if (insn.code !== (BPF_JMP | BPF_JCOND) || insn.src !== BPF_MAY_GOTO || insn.dst || insn.imm) {
    throw reject(EINVAL, `invalid may_goto imm ${insn.imm}`);
  }
  const st = env.curState;
  const prev = findPrevEntry(env, st.parent, insnIdx);
  const queued = cloneState(st);
  pushStack(env, queued, insnIdx + 1, insnIdx);
  queued.mayGotoDepth++;
  if (prev) widenImpreciseScalars(env, prev, queued);
  return insnIdx + insn.off + 1;
}

/** Returns the next instruction index. */
export function checkCondJmpOp(env: VerifierEnv, insn: Insn, insnIdx: number): number {
  const st = env.curState;
  const regs = st.frames[st.curframe].regs;
  const op = bpfOp(insn.code);
  const is32 = bpfClass(insn.code) === BPF_JMP32;
  if (op > BPF_JCOND) throw reject(EINVAL, `invalid BPF_JMP/JMP32 opcode ${op.toString(16)}`);
  if (op === BPF_JCOND) return checkMayGoto(env, insn, insnIdx);
  const srcX = bpfSrc(insn.code) === BPF_X;
  if (srcX) {
    if (insn.imm !== 0) throw reject(EINVAL, 'BPF_JMP/JMP32 uses reserved fields');
    checkRegRead(env, insn.src);
    // Packet pointers may be compared with each other and with pkt_end (6.18 also lets
    // pkt_end through here; try_match_pkt_pointers decides below).
    const pktPair = isPktAny(regs[insn.dst]) && isPktAny(regs[insn.src]);
    if (!pktPair && isPointerValue(env, regs[insn.src])) throw reject(EACCES, `R${insn.src} pointer comparison prohibited`);
  } else if (insn.src !== 0) {
    throw reject(EINVAL, 'BPF_JMP/JMP32 uses reserved fields');
  }
  checkRegRead(env, insn.dst);
  const dst = regs[insn.dst];
  let src: RegState;
  if (srcX) src = regs[insn.src];
  else {
    // The kernel's fake register for K: dst's fields, as a precise-less scalar constant.
    src = cloneReg(dst);
    src.type = RegType.SCALAR_VALUE;
    src.s = immBounds(insn.imm);
    src.id = 0;
    src.precise = false;
  }

  // Stack pointer operands are flagged in the jump history before any precision marking.
  const regStack = (dst.type === RegType.PTR_TO_STACK ? HIST_DST_STACK : 0) | (srcX && src.type === RegType.PTR_TO_STACK ? HIST_SRC_STACK : 0);
  if (regStack) pushJmpHistory(env, st, undefined, undefined, regStack);

  const pred = branchTaken(dst, src, op, is32);
  if (pred !== -1) {
    // The decision rests on the operands' values: they must be precise.
    if (!isPointer(dst)) markChainPrecision(env, insn.dst);
    if (srcX && !isPointer(src)) markChainPrecision(env, insn.src);
    // Without bypass_spec_v1 the branch not taken is still walked, speculatively.
    if (!env.bypassSpecV1) pushSpeculativePath(env, insn, pred === 1 ? insnIdx + 1 : insnIdx + insn.off + 1, insnIdx);
    printInsnState(env, insnIdx);
    return pred === 1 ? insnIdx + insn.off + 1 : insnIdx + 1;
  }

  // Scalars linked to the operands are recorded before the fork, so both branches share it.
  const linked: LinkedReg[] = [];
  if (srcX && src.type === RegType.SCALAR_VALUE && src.id) collectLinked(env, st, src.id, linked);
  if (dst.type === RegType.SCALAR_VALUE && dst.id) collectLinked(env, st, dst.id, linked);
  if (linked.length > 1) pushJmpHistory(env, st, undefined, linked);

  const other = cloneState(st);
  pushStack(env, other, insnIdx + insn.off + 1, insnIdx);
  const oregs = other.frames[other.curframe].regs;

  if (dst.type === RegType.SCALAR_VALUE && src.type === RegType.SCALAR_VALUE) {
    const same = srcX && insn.src === insn.dst;
    const taken = refineBranch(op, is32, dst.s, src.s, true, same);
    const fall = refineBranch(op, is32, dst.s, src.s, false, same);
    if (!taken || !fall) throw new NotImplementedError('pruning of impossible branches');
    oregs[insn.dst].s = taken.dst;
    if (srcX) oregs[insn.src].s = taken.src;
    dst.s = fall.dst;
    if (srcX) src.s = fall.src;
    // Live members of a refined scalar's link learn its bounds (shifted by their constant).
    if (srcX) for (const [s2, r] of [[st, src], [other, oregs[insn.src]]] as const) syncLinked(s2, r, linked);
    for (const [s2, r] of [[st, dst], [other, oregs[insn.dst]]] as const) syncLinked(s2, r, linked);
    return insnIdx + 1;
  }

  // Two pointers found equal: a maybe-NULL one equal to one that cannot be NULL is not NULL
  // either (on the equal side only; its copies learn nothing).
  if (!is32 && srcX && (op === BPF_JEQ || op === BPF_JNE) && isPointer(src) && isPointer(dst) &&
    baseType(src.type) !== RegType.PTR_TO_BTF_ID && baseType(dst.type) !== RegType.PTR_TO_BTF_ID) {
    const eq = (op === BPF_JEQ ? other : st).frames[st.curframe].regs;
    if (regNotNull(dst) && mayBeNull(src.type)) markPtrNotNull(eq[insn.src]);
    if (regNotNull(src) && mayBeNull(dst.type)) markPtrNotNull(eq[insn.dst]);
  }

  // NULL checks: `if rX == 0` / `if rX != 0` (an immediate) on a maybe-null pointer.
  if (!is32 && !srcX && (op === BPF_JEQ || op === BPF_JNE) && insn.imm === 0 && mayBeNull(dst.type) && dst.id) {
    const id = dst.id;
    markPtrOrNull(st, id, dst.refObjId, op === BPF_JNE);
    markPtrOrNull(other, id, dst.refObjId, op === BPF_JEQ);
    return insnIdx + 1;
  }
  if (tryMatchPktPointers(insn, dst, src, st, other)) return insnIdx + 1;
  if (isPointer(dst) || isPointer(src)) {
    if (!env.allowPtrLeaks) throw reject(EACCES, `R${insn.dst} pointer comparison prohibited`);
    return insnIdx + 1;
  }
  throw new NotImplementedError('conditional jump on these operand types');
}

function branchTaken(dst: RegState, src: RegState, op: number, is32: boolean): 1 | 0 | -1 {
  if (dst.type === RegType.SCALAR_VALUE && src.type === RegType.SCALAR_VALUE) return isBranchTaken(op, is32, dst.s, src.s);
  if (isPktAny(dst) && isPktAny(src) && !is32) return pktPtrBranchTaken(dst, src, op);
  if (!isPointer(dst) && !isPointer(src)) return -1;
  // A pointer that cannot be NULL against 0 (either side); a 32-bit half may be zero.
  if (is32) return -1;
  const [ptr, k, o] = isConstScalar(src) ? [dst, src, op] : [src, dst, flipOpcode(op)];
  if (!isConstScalar(k) || !regNotNull(ptr) || constValue(k.s) !== 0n) return -1;
  if (o === BPF_JEQ) return 0;
  if (o === BPF_JNE) return 1;
  return -1;
}

const isConstScalar = (r: RegState): boolean => r.type === RegType.SCALAR_VALUE && isConst(r.s);
const isPktAny = (r: RegState): boolean =>
  r.type === RegType.PTR_TO_PACKET || r.type === RegType.PTR_TO_PACKET_META || r.type === RegType.PTR_TO_PACKET_END;

/** `a op b` as `b op' a` (flip_opcode). */
function flipOpcode(op: number): number {
  const FLIP: Record<number, number> = {
    [BPF_JGE]: BPF_JLE, [BPF_JGT]: BPF_JLT, [BPF_JLE]: BPF_JGE, [BPF_JLT]: BPF_JGT,
    [BPF_JSGE]: BPF_JSLE, [BPF_JSGT]: BPF_JSLT, [BPF_JSLE]: BPF_JSGE, [BPF_JSLT]: BPF_JSGT,
  };
  return FLIP[op] ?? op;
}

const BPF_MAX_VAR_OFF = 1n << 29n;

/** reg_not_null: types whose base is never NULL, while the offset cannot wrap it to 0.
 *  (ctx and stack pointers are not among them: 6.18 explores both branches.) */
function regNotNull(r: RegState): boolean {
  if (mayBeNull(r.type)) return false;
  if (r.s.smin <= -BPF_MAX_VAR_OFF || r.s.smax >= BPF_MAX_VAR_OFF) return false;
  const t = baseType(r.type);
  if (t === RegType.PTR_TO_BTF_ID) return r.refObjId !== 0 || ((r.type & PTR_TRUSTED) !== 0 && (r.type & PTR_UNTRUSTED) === 0);
  return NOT_NULL_TYPES.has(t);
}

/** is_pkt_ptr_branch_taken: a packet pointer already known at or past pkt_end. */
function pktPtrBranchTaken(dst: RegState, src: RegState, op: number): 1 | 0 | -1 {
  let pkt: RegState;
  if (src.type === RegType.PTR_TO_PACKET_END) pkt = dst;
  else if (dst.type === RegType.PTR_TO_PACKET_END) {
    pkt = src;
    op = flipOpcode(op);
  } else return -1;
  if (pkt.range >= 0) return -1;
  if ((op === BPF_JLE || op === BPF_JGT) && pkt.range === BEYOND_PKT_END) return op === BPF_JGT ? 1 : 0;
  if ((op === BPF_JLT || op === BPF_JGE) && (pkt.range === BEYOND_PKT_END || pkt.range === AT_PKT_END)) return op === BPF_JGE ? 1 : 0;
  return -1;
}
