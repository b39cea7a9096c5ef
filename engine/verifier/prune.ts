// State pruning (is_state_visited / states_equal): at a prune point, a path whose state is
// contained in an already fully explored state at the same instruction is safe.
//
// Precision is CONSERVATIVE here: every scalar is compared as if it were precise (range and
// tnum containment), where the kernel ignores the value of scalars that no decision depended
// on. The verdict is the same; we may explore more states than 6.18 does. Stack slots are all
// treated as live (6.18's stack liveness is not modelled); registers use the liveness pre-pass.

import { RegType, SlotType, baseType, cloneState } from './state/types.ts';
import type { Checkpoint, FuncState, RegState, VerifierState } from './state/types.ts';
import { boundsWithin, boundsEqual } from './scalar-api.ts';
import type { VerifierEnv } from './env.ts';

function regsafe(old: RegState, cur: RegState): boolean {
  if (old.type === RegType.NOT_INIT) return true;
  if (cur.type === RegType.NOT_INIT) return false;
  if (old.type === RegType.SCALAR_VALUE) {
    return cur.type === RegType.SCALAR_VALUE && boundsWithin(old.s, cur.s);
  }
  if (old.type !== cur.type) return false;
  const base = baseType(old.type);
  switch (base) {
    case RegType.PTR_TO_PACKET:
    case RegType.PTR_TO_PACKET_META:
      if (cur.range < old.range && old.range >= 0) return false;
      if (old.range < 0 && cur.range !== old.range) return false;
      return old.off === cur.off && boundsWithin(old.s, cur.s);
    case RegType.PTR_TO_MAP_VALUE:
      return old.map === cur.map || (old.map?.index === cur.map?.index)
        ? old.off === cur.off && boundsWithin(old.s, cur.s) && (old.id === 0) === (cur.id === 0)
        : false;
    default:
      return old.off === cur.off && old.map?.index === cur.map?.index && boundsEqual(old.s, cur.s) && old.frameno === cur.frameno &&
        (old.id === 0) === (cur.id === 0);
  }
}

function stacksafe(env: VerifierEnv, old: FuncState, cur: FuncState): boolean {
  for (let i = 0; i < old.allocatedStack; i++) {
    const spi = i >> 3;
    const j = i & 7;
    const ot = old.stack[spi].slotType[j];
    if (ot === SlotType.INVALID) continue;
    if (env.allowPtrLeaks && ot === SlotType.MISC) continue;
    if (i >= cur.allocatedStack) return false;
    const ct = cur.stack[spi].slotType[j];
    if (ot !== ct) return false;
    if (j !== 7) continue;
    if (ot === SlotType.SPILL && !regsafe(old.stack[spi].spilled, cur.stack[spi].spilled)) return false;
  }
  return true;
}

function funcStatesEqual(env: VerifierEnv, old: FuncState, cur: FuncState, live: number): boolean {
  for (let i = 0; i < old.regs.length; i++) {
    if (i < 10 && !(live & (1 << i))) continue;
    if (!regsafe(old.regs[i], cur.regs[i])) return false;
  }
  return stacksafe(env, old, cur);
}

export function statesEqual(env: VerifierEnv, old: VerifierState, cur: VerifierState, insnIdx: number): boolean {
  if (old.curframe !== cur.curframe) return false;
  if (old.refs.length !== cur.refs.length) return false;
  for (let i = cur.curframe; i >= 0; i--) {
    if (old.frames[i].callsite !== cur.frames[i].callsite) return false;
    const at = i === cur.curframe ? insnIdx : cur.frames[i + 1].callsite + 1;
    if (!funcStatesEqual(env, old.frames[i], cur.frames[i], env.aux[at].liveBefore)) return false;
  }
  return true;
}

/** 1 when the current path can be pruned here, else 0 (maybe after saving a checkpoint). */
export function isStateVisited(env: VerifierEnv, insnIdx: number): 0 | 1 {
  const cur = env.curState;
  let addNew = env.aux[insnIdx].forceCheckpoint;
  if (env.jmpsProcessed - env.prevJmpsProcessed >= 2 && env.insnProcessed - env.prevInsnProcessed >= 8) addNew = true;
  let list = env.explored.get(insnIdx);
  if (list) {
    for (const sl of list) {
      if (sl.st.insnIdx !== insnIdx) continue;
      if (sl.branches) {
        // A state still being explored (a loop): never prunes.
        if (env.jmpsProcessed - env.prevJmpsProcessed < 20 && env.insnProcessed - env.prevInsnProcessed < 100) addNew = false;
        continue;
      }
      if (statesEqual(env, sl.st, cur, insnIdx)) {
        sl.hit++;
        return 1;
      }
      sl.miss++;
    }
  }
  // max_states_per_insn: the states scanned by a lookup that found no match.
  if (list && list.length > env.maxStatesPerInsn) env.maxStatesPerInsn = list.length;
  if (!addNew) return 0;
  env.totalStates++;
  env.prevJmpsProcessed = env.jmpsProcessed;
  env.prevInsnProcessed = env.insnProcessed;
  const snapshot = cloneState(cur);
  snapshot.insnIdx = insnIdx;
  const cp: Checkpoint = { st: snapshot, branches: 1, parent: cur.parent, hit: 0, miss: 0 };
  if (!list) {
    list = [];
    env.explored.set(insnIdx, list);
  }
  list.push(cp);
  env.liveStates++;
  if (env.liveStates > env.peakStates) env.peakStates = env.liveStates;
  cur.parent = cp;
  return 0;
}

/** A path finished: its checkpoints lose one unfinished branch each, upwards while zero. */
export function updateBranchCounts(st: VerifierState): void {
  let cp = st.parent;
  while (cp) {
    cp.branches--;
    if (cp.branches) break;
    cp = cp.parent;
  }
}
