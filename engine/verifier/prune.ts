// State pruning (6.18 is_state_visited / states_equal): at a prune point, a path whose state
// is contained in a fully explored checkpoint at the same instruction is safe.
//
// What "contained" means (regsafe / stacksafe):
// - registers dead at the insn (liveness pre-pass) and stack slots dead from it (6.18 stack
//   liveness) were cleared in the checkpoint (clean_live_states), so they match anything;
// - a scalar the checkpoint never needed precisely matches any scalar; a precise one must
//   contain the current range and tnum, with ids mapping one to one;
// - pointers must agree on type, fixed offset and ids, and contain the variable offset.
// A hit carries the checkpoint's precision back into the pruned path's parents.

import { otherAsyncEntry } from './calls/timer.ts';
import { iterSlotSafe } from './kfunc/iter-slot.ts';
import { dynptrSlotSafe } from './kfunc/dynptr-slot.ts';
import { BPF_JMP, BPF_JCOND, BPF_MAY_GOTO, BPF_REG_FP } from '../isa/opcodes.ts';
import { RegType, SlotType, baseType, cloneState } from './state/types.ts';
import type { Checkpoint, FuncState, RegState, StackSlot, VerifierState } from './state/types.ts';
import { boundsWithin, boundsEqual, scalarUnknown } from './scalar-api.ts';
import { exploreAluLimits } from './unpriv/aux.ts';
import { markNotInit, markUnknown } from './state/regs.ts';
import { printVerifierState, Scratch } from './log/state-print.ts';
import { markAllScalarsImprecise, propagatePrecision } from './precision/backtrack.ts';
import { pushJmpHistory } from './precision/history.ts';
import { frameInsnIdx, maybeEnterScc, maybeExitScc, addBackedge, incompleteReadMarks } from './scc.ts';
import { reject, EINVAL } from './reject.ts';
import type { VerifierEnv } from './env.ts';
import { stackArgsSafe } from './stack-arg/prune.ts';
import { callsCallback, isIterNextInsn, iterActiveDepthsDiffer, iterLoopConverged } from './loop-prune.ts';
import { bucketStatesCount, noteCheckpoint } from './explored-bucket.ts';
import { ADD_CONST, baseId } from './state/scalar-id.ts';

export const enum Exact {
  /** Imprecise scalars match anything. */
  NOT_EXACT,
  /** Everything identical (loop detection). */
  EXACT,
  /** Every scalar compared as if precise (states whose precision is not final yet). */
  RANGE_WITHIN,
}

/** One-to-one mapping of ids between the old and the current state (bpf_idmap). Pairs are
 *  kept in two number arrays and the map is reused (reset) across comparisons: pruning
 *  compares states at every prune point. */
class IdMap {
  private readonly olds: number[] = [];
  private readonly curs: number[] = [];
  private n = 0;
  private tmp = 0;

  reset(tmp: number): this {
    this.n = 0;
    this.tmp = tmp;
    return this;
  }

  check(old: number, cur: number): boolean {
    if (!old !== !cur) return false;
    if (!old) return true;
    for (let i = 0; i < this.n; i++) {
      if (this.olds[i] === old) return this.curs[i] === cur;
      if (this.curs[i] === cur) return false;
    }
    this.olds[this.n] = old;
    this.curs[this.n] = cur;
    this.n++;
    return true;
  }

  /** Like check, but a zero id gets a fresh one (`0 vs unique` pairs are fine). An offset
   *  link's base id must map consistently too (its members share the base). */
  checkScalar(old: number, cur: number): boolean {
    // Two fresh ids always pair up and are never asked about again: nothing to record.
    if (!old && !cur) {
      this.tmp += 2;
      return true;
    }
    if (!this.check(old || ++this.tmp, cur || ++this.tmp)) return false;
    return !(old & ADD_CONST) || this.check(baseId(old), baseId(cur));
  }
}

const sharedIdMap = new IdMap();

/** The fields before `id` in the kernel's struct (type, off, map/range/size, bounds). */
function sameShape(a: RegState, b: RegState): boolean {
  return a.type === b.type && a.off === b.off && a.map?.index === b.map?.index && a.range === b.range && a.subprogno === b.subprogno &&
    a.memSize === b.memSize && (a.btfId ?? 0) === (b.btfId ?? 0) && boundsEqual(a.s, b.s);
}

function regsExact(old: RegState, cur: RegState, idmap: IdMap): boolean {
  return sameShape(old, cur) && idmap.check(old.id, cur.id) && idmap.check(old.refObjId, cur.refObjId);
}

function regsafe(env: VerifierEnv, old: RegState, cur: RegState, idmap: IdMap, exact: Exact): boolean {
  if (exact === Exact.EXACT) return regsExact(old, cur, idmap);
  if (old.type === RegType.NOT_INIT && (exact === Exact.NOT_EXACT || cur.type === RegType.NOT_INIT)) return true;
  if (old.type !== cur.type) return false;
  switch (baseType(old.type)) {
    case RegType.SCALAR_VALUE:
      // Unprivileged pointer masking seen (unpriv/aux.ts): scalars must match exactly.
      if (exploreAluLimits(env)) return old.off === cur.off && boundsEqual(old.s, cur.s) && idmap.checkScalar(old.id, cur.id);
      if (!old.precise && exact === Exact.NOT_EXACT) return true;
      // Offset links (linked-regs.ts): a linked old value needs the same kind of link, at the
      // same distance.
      if (old.id && (old.id & ADD_CONST) !== (cur.id & ADD_CONST)) return false;
      if (old.id & ADD_CONST && old.off !== cur.off) return false;
      if (!idmap.checkScalar(old.id, cur.id)) return false;
      return boundsWithin(old.s, cur.s);
    case RegType.PTR_TO_MAP_KEY:
    case RegType.PTR_TO_MAP_VALUE:
    case RegType.PTR_TO_MEM:
    case RegType.PTR_TO_BUF:
    case RegType.PTR_TO_TP_BUFFER:
      return old.off === cur.off && old.map?.index === cur.map?.index && old.memSize === cur.memSize &&
        boundsWithin(old.s, cur.s) && idmap.check(old.id, cur.id) && idmap.check(old.refObjId, cur.refObjId);
    case RegType.PTR_TO_PACKET_META:
    case RegType.PTR_TO_PACKET:
      // At least the old readable range, at the same offset.
      if (old.range > cur.range) return false;
      if (old.off !== cur.off) return false;
      if (!idmap.check(old.id, cur.id)) return false;
      return boundsWithin(old.s, cur.s);
    case RegType.PTR_TO_STACK:
      return regsExact(old, cur, idmap) && old.frameno === cur.frameno;
    case RegType.PTR_TO_ARENA:
      return true;
    default:
      return regsExact(old, cur, idmap);
  }
}

const UNBOUND: RegState = {
  type: RegType.SCALAR_VALUE, off: 0, s: scalarUnknown(), id: 0, refObjId: 0, map: undefined, range: 0, frameno: 0, memSize: 0, precise: false,
  btfId: 0, subprogno: undefined, dynptrType: undefined,
};

/** A slot read as a 64-bit scalar: the spilled scalar, or an unknown one for all-misc. */
function scalarRegForStack(env: VerifierEnv, slot: StackSlot): RegState | undefined {
  if (slot.slotType.every((t) => t === SlotType.SPILL) && slot.spilled.type === RegType.SCALAR_VALUE) return slot.spilled;
  if (slot.slotType.every((t) => t === SlotType.MISC || (env.allowUninitStack && t === SlotType.INVALID))) return UNBOUND;
  return undefined;
}

function stacksafe(env: VerifierEnv, old: FuncState, cur: FuncState, idmap: IdMap, exact: Exact): boolean {
  for (let i = 0; i < old.allocatedStack; i++) {
    const spi = i >> 3;
    const j = i & 7;
    const ot = old.stack[spi].slotType[j];
    if (exact === Exact.EXACT && (i >= cur.allocatedStack || ot !== cur.stack[spi].slotType[j])) return false;
    if (ot === SlotType.INVALID) continue;
    if (env.allowUninitStack && ot === SlotType.MISC) continue;
    if (i >= cur.allocatedStack) return false;
    const oreg = scalarRegForStack(env, old.stack[spi]);
    const creg = scalarRegForStack(env, cur.stack[spi]);
    if (oreg && creg) {
      if (!regsafe(env, oreg, creg, idmap, exact)) return false;
      i += 7 - j;
      continue;
    }
    const ct = cur.stack[spi].slotType[j];
    if (ot === SlotType.MISC && ct === SlotType.ZERO) continue;
    if (ot !== ct) return false;
    if (j !== 7) continue;
    switch (ot) {
      case SlotType.SPILL:
        if (!regsafe(env, old.stack[spi].spilled, cur.stack[spi].spilled, idmap, exact)) return false;
        break;
      case SlotType.MISC:
      case SlotType.ZERO:
        continue;
      case SlotType.DYNPTR:
        if (!dynptrSlotSafe(old.stack[spi].spilled, cur.stack[spi].spilled, (a, b) => idmap.check(a, b))) return false;
        break;
      case SlotType.ITER:
        if (!iterSlotSafe(old.stack[spi].spilled, cur.stack[spi].spilled, (a, b) => idmap.check(a, b))) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function funcStatesEqual(env: VerifierEnv, old: FuncState, cur: FuncState, insnIdx: number, idmap: IdMap, exact: Exact): boolean {
  // More callback passes queued than now: bpf_loop's count may not be reached yet.
  if ((old.callbackDepth ?? 0) > (cur.callbackDepth ?? 0)) return false;
  const live = env.aux[insnIdx].liveBefore;
  for (let i = 0; i < old.regs.length; i++) {
    // r10 is outside the liveness mask; it is the same frame pointer in both.
    if (i < BPF_REG_FP && !(live & (1 << i))) continue;
    if (!regsafe(env, old.regs[i], cur.regs[i], idmap, exact)) return false;
  }
  return stacksafe(env, old, cur, idmap, exact) && stackArgsSafe(old, cur, (o, c) => regsafe(env, o, c, idmap, exact));
}

export function statesEqual(env: VerifierEnv, old: VerifierState, cur: VerifierState, exact: Exact): boolean {
  if (old.curframe !== cur.curframe) return false;
  const idmap = sharedIdMap.reset(env.idGen);
  if (old.speculative && !cur.speculative) return false;
  if (old.refs.length !== cur.refs.length) return false;
  for (let i = 0; i < old.refs.length; i++) if (!idmap.check(old.refs[i].id, cur.refs[i].id)) return false;
  for (let i = 0; i <= old.curframe; i++) {
    if (old.frames[i].callsite !== cur.frames[i].callsite) return false;
    if (!funcStatesEqual(env, old.frames[i], cur.frames[i], frameInsnIdx(old, i), idmap, exact)) return false;
  }
  return true;
}

function sameCallsites(a: VerifierState, b: VerifierState): boolean {
  if (a.curframe !== b.curframe) return false;
  for (let i = a.curframe; i >= 0; i--) if (a.frames[i].callsite !== b.frames[i].callsite) return false;
  return true;
}

/** clean_verifier_state: forget registers and stack slots nothing reads from here on. */
function cleanVerifierState(env: VerifierEnv, st: VerifierState): void {
  env.stackLive.queryInit(st);
  st.cleaned = true;
  for (let i = 0; i <= st.curframe; i++) {
    const f = st.frames[i];
    const live = env.aux[frameInsnIdx(st, i)].liveBefore;
    for (let r = 0; r < BPF_REG_FP; r++) if (!(live & (1 << r))) markNotInit(f.regs[r]);
    for (let spi = 0; spi < f.allocatedStack / 8; spi++) {
      if (env.stackLive.slotAlive(i, spi)) continue;
      markNotInit(f.stack[spi].spilled);
      f.stack[spi].slotType.fill(SlotType.INVALID);
    }
  }
}

function cleanLiveStates(env: VerifierEnv, insnIdx: number, cur: VerifierState): void {
  for (const sl of env.explored.get(insnIdx) ?? []) {
    if (sl.branches) continue;
    if (sl.st.insnIdx !== insnIdx || !sameCallsites(sl.st, cur)) continue;
    if (sl.st.cleaned) continue;
    if (incompleteReadMarks(env, sl.st)) continue;
    cleanVerifierState(env, sl.st);
  }
}

/** Same registers in the top frame, field for field (a cheap pre-check for loops). */
function statesMaybeLooping(old: VerifierState, cur: VerifierState): boolean {
  const fr = cur.curframe;
  if (old.curframe !== fr) return false;
  const a = old.frames[fr].regs;
  const b = cur.frames[fr].regs;
  for (let i = 0; i < a.length; i++) {
    if (!sameShape(a[i], b[i]) || a[i].id !== b[i].id || a[i].refObjId !== b[i].refObjId || a[i].frameno !== b[i].frameno) return false;
  }
  return true;
}

const isMayGotoAt = (env: VerifierEnv, i: number): boolean => {
  const s = env.slots[i];
  return s.code === (BPF_JMP | BPF_JCOND) && s.src === BPF_MAY_GOTO;
};

const FULL = new Scratch();

function updatePeakStates(env: VerifierEnv): void {
  const n = env.exploredStates + env.freeListSize + env.numBackedges;
  if (n > env.peakStates) env.peakStates = n;
}

/** An evicted checkpoint goes away once nothing below it is still being explored. */
function maybeFree(env: VerifierEnv, cp: Checkpoint): void {
  if (cp.inFreeList && cp.branches === 0) {
    cp.inFreeList = false;
    env.freeListSize--;
  }
}

/** 1 when the current path can be pruned here, else 0 (maybe after saving a checkpoint). */
export function isStateVisited(env: VerifierEnv, insnIdx: number): 0 | 1 {
  const cur = env.curState;
  const forceCheckpoint = env.aux[insnIdx].forceCheckpoint;
  // Long histories are checkpointed to keep backtracking short.
  const forceNew = forceCheckpoint || env.testStateFreq || cur.jmpHistory.length > 40;
  let addNew = forceNew;
  if (env.jmpsProcessed - env.prevJmpsProcessed >= 2 && env.insnProcessed - env.prevInsnProcessed >= 8) addNew = true;

  cleanLiveStates(env, insnIdx, cur);

  const list = env.explored.get(insnIdx) ?? [];
  // Every state in the hash bucket is walked, other insns' too (explored-bucket.ts).
  const statesCnt = bucketStatesCount(env, insnIdx, cur);
  // By index: the only change to `list` in the loop is dropping the current entry.
  for (let li = 0; li < list.length; li++) {
    const sl = list[li];
    if (sl.st.insnIdx !== insnIdx) continue;
    let loop = false;
    let hit = false;
    if (sl.branches) {
      // A checkpoint still being explored: we are going around a loop.
      const bounded = isIterNextInsn(env, insnIdx) ? 'iter' : callsCallback(env, insnIdx) ? 'callback' : undefined;
      if (otherAsyncEntry(sl.st.frames[sl.st.curframe], cur.frames[cur.curframe])) {
        // Another entry into an async callback (calls/timer.ts): neither a loop nor a match.
        if (!forceNew && env.jmpsProcessed - env.prevJmpsProcessed < 20 && env.insnProcessed - env.prevInsnProcessed < 100) addNew = false;
      } else if (bounded) {
        // Iterator and callback loops end by contract (loop-prune.ts).
        if (statesEqual(env, sl.st, cur, Exact.RANGE_WITHIN) && (bounded === 'callback' || iterLoopConverged(cur))) {
          loop = true;
          hit = true;
        } else if (!forceNew && env.jmpsProcessed - env.prevJmpsProcessed < 20 && env.insnProcessed - env.prevInsnProcessed < 100) addNew = false;
      } else if (isMayGotoAt(env, insnIdx) && sl.st.mayGotoDepth !== cur.mayGotoDepth && statesEqual(env, sl.st, cur, Exact.RANGE_WITHIN)) {
        loop = true;
        hit = true;
      } else {
        if (statesMaybeLooping(sl.st, cur) && statesEqual(env, sl.st, cur, Exact.EXACT) && !iterActiveDepthsDiffer(sl.st, cur) &&
          sl.st.mayGotoDepth === cur.mayGotoDepth && sl.st.callbackUnrollDepth === cur.callbackUnrollDepth) {
          const cp = cur.curframe;
          throw reject(EINVAL, `infinite loop detected at insn ${insnIdx}\ncur state:${printVerifierState(cur, cur.frames[cp], true, FULL).slice(0, -1)}\n` +
            `old state:${printVerifierState(sl.st, sl.st.frames[cp], true, FULL).slice(0, -1)}`);
        }
        if (!forceNew && env.jmpsProcessed - env.prevJmpsProcessed < 20 && env.insnProcessed - env.prevInsnProcessed < 100) addNew = false;
      }
    } else {
      loop = incompleteReadMarks(env, sl.st);
      hit = statesEqual(env, sl.st, cur, loop ? Exact.RANGE_WITHIN : Exact.NOT_EXACT);
    }
    if (hit) {
      sl.hit++;
      if (env.aux[env.insnIdx].jmpPoint) pushJmpHistory(env, cur);
      propagatePrecision(env, sl.st, cur);
      if (loop) {
        const copy = cloneState(cur);
        copy.insnIdx = insnIdx;
        addBackedge(env, sl.st, copy);
        updatePeakStates(env);
      }
      return 1;
    }
    // Misses only count while new states are being added, so that loops keep a few early
    // and late iterations.
    if (addNew) sl.miss++;
    const n = forceCheckpoint && sl.branches > 0 ? 64 : 3;
    if (sl.miss > sl.hit * n + n) {
      list.splice(li--, 1);
      sl.inFreeList = true;
      env.freeListSize++;
      env.exploredStates--;
      maybeFree(env, sl);
    }
  }
  if (statesCnt > env.maxStatesPerInsn) env.maxStatesPerInsn = statesCnt;
  if (!addNew) return 0;

  env.totalStates++;
  env.exploredStates++;
  updatePeakStates(env);
  env.prevJmpsProcessed = env.jmpsProcessed;
  env.prevInsnProcessed = env.insnProcessed;
  if (env.bpfCapable) markAllScalarsImprecise(cur);
  const snapshot = cloneState(cur);
  snapshot.insnIdx = insnIdx;
  noteCheckpoint(env, snapshot);
  const cp: Checkpoint = { st: snapshot, branches: 1, parent: cur.parent, hit: 0, miss: 0, inFreeList: false };
  maybeEnterScc(env, snapshot);
  cur.parent = cp;
  cur.firstInsnIdx = insnIdx;
  cur.jmpHistory = [];
  // Newest first, as the kernel's list_add.
  list.unshift(cp);
  env.explored.set(insnIdx, list);
  return 0;
}

/** find_prev_entry: the checkpoint of an earlier pass through `insnIdx` on the current path
 *  (still unfinished, same call chain), below `parent`. */
export function findPrevEntry(env: VerifierEnv, parent: Checkpoint | undefined, insnIdx: number): VerifierState | undefined {
  if (!parent) return undefined;
  for (const sl of env.explored.get(insnIdx) ?? []) {
    if (sl === parent || sl.st.insnIdx !== insnIdx || !sl.branches || !sameCallsites(sl.st, parent.st)) continue;
    // Unfinished checkpoints are always ancestors of the current path (depth-first order);
    // only the newest one itself is skipped.
    return sl.st;
  }
  return undefined;
}

/** widen_imprecise_scalars: scalars that changed between two loop passes and were never
 *  needed precisely become unknown, so that the next pass can match. */
export function widenImpreciseScalars(env: VerifierEnv, old: VerifierState, cur: VerifierState): void {
  const idmap = new IdMap().reset(env.idGen);
  const widen = (o: RegState, c: RegState): void => {
    if (o.type !== RegType.SCALAR_VALUE || o.type !== c.type) return;
    if (o.precise || c.precise || regsExact(o, c, idmap)) return;
    markUnknown(c);
  };
  for (let fr = old.curframe; fr >= 0; fr--) {
    const fo = old.frames[fr];
    const fc = cur.frames[fr];
    for (let i = 0; i < fo.regs.length; i++) widen(fo.regs[i], fc.regs[i]);
    const n = Math.min(fo.allocatedStack, fc.allocatedStack) / 8;
    for (let i = 0; i < n; i++) {
      if (fo.stack[i].slotType[7] !== SlotType.SPILL || fc.stack[i].slotType[7] !== SlotType.SPILL) continue;
      widen(fo.stack[i].spilled, fc.stack[i].spilled);
    }
  }
}

/** A path finished: its checkpoints lose one unfinished branch each, upwards while zero. */
export function updateBranchCounts(env: VerifierEnv, st: VerifierState): void {
  let cp = st.parent;
  while (cp) {
    cp.branches--;
    if (cp.branches) break;
    maybeExitScc(env, cp.st);
    maybeFree(env, cp);
    cp = cp.parent;
  }
}
