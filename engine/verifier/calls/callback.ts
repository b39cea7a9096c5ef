// Callbacks (6.18): a static subprogram whose address a program loads (`r2 = cb ll`, an
// ld_imm64 of kind BPF_PSEUDO_FUNC, giving a PTR_TO_FUNC register) and hands to a helper
// that calls it: bpf_loop, bpf_for_each_map_elem, bpf_find_vma, bpf_user_ringbuf_drain.
//
// The kernel does not know how often the helper calls back, so it explores the callback
// as a loop: at the helper call it queues a state that enters the callback in a new frame
// (its registers set from the helper's arguments, per helper) and goes on past the call.
// The callback's exit checks r0 against the callback's return range and goes back to the
// call insn itself, in the caller's state as the callback left it: the call is checked
// again and queues the callback once more. State pruning at the call (a forced checkpoint,
// see loop-prune.ts) stops that once a pass changes nothing; bpf_loop also stops after as
// many passes as its count argument can be.

import { invalidScalarText } from '../log/invalid-scalar.ts';
import type { Insn } from '../../isa/insn.ts';
import { BPF_CALL, BPF_JMP, BPF_REG_0 } from '../../isa/opcodes.ts';
import { RegType, cloneReg, cloneState } from '../state/types.ts';
import type { CallbackFrame, FuncState, RegState, VerifierState } from '../state/types.ts';
import { markNotInit, markPtr, markUnknown, newFuncState } from '../state/regs.ts';
import { isConst, constValue } from '../scalar-api.ts';
import { markChainPrecision } from '../precision/backtrack.ts';
import { isAsyncCallbackHelper, pushAsyncCallback } from './timer.ts';
import { reject, EACCES, EINVAL, E2BIG } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { pushStack } from '../branch-stack.ts';
import { widenImpreciseScalars } from '../prune.ts';
import { structIdByName } from '../btf-types.ts';
import { hasFuncInfo } from './func-info.ts';
import { SYNC_CALLBACK_HELPERS } from '../loop-prune.ts';

const MAX_CALL_FRAMES = 8;
const LOOP = 181;
const FOR_EACH_MAP_ELEM = 164;
const FIND_VMA = 180;
const USER_RINGBUF_DRAIN = 209;

/** bpf_callback_t returns 0 or 1 (continue / stop). */
const SYNC_CB: CallbackFrame = { async: false, retMin: 0, retMax: 1 };

/** check_ld_imm for BPF_PSEUDO_FUNC: `dst` (already a known zero) names subprog at the
 *  target, which must be static and described by BTF. */
export function ldImmFunc(env: VerifierEnv, insn: Insn, idx: number, dst: RegState): void {
  const start = idx + insn.imm + 1;
  const subprog = env.subprogs.findIndex((s) => s.start === start);
  if (!hasFuncInfo(env)) throw reject(EINVAL, 'missing btf func_info');
  if (env.prog.funcs.find((f) => f.start === start)?.linkage === 'global') throw reject(EINVAL, 'callback function not static');
  markPtr(dst, RegType.PTR_TO_FUNC);
  dst.subprogno = subprog;
}

/** The CFG pass: a helper call that runs a callback synchronously is a forced checkpoint
 *  and a jump point (the callback's exit comes back to it); one that arms an async
 *  callback is a prune point. */
export function markCallbackCall(env: VerifierEnv, idx: number): void {
  const s = env.slots[idx];
  if (s.code !== (BPF_JMP | BPF_CALL) || s.src !== 0) return;
  const aux = env.aux[idx];
  // An async one is a prune point only: a path pruned there queues no callback state again.
  if (isAsyncCallbackHelper(s.imm)) aux.prunePoint = true;
  if (!SYNC_CALLBACK_HELPERS.has(s.imm)) return;
  aux.forceCheckpoint = true;
  aux.prunePoint = true;
  aux.jmpPoint = true;
}

type SetCallee = (env: VerifierEnv, caller: FuncState, callee: FuncState) => void;

const copyArg = (callee: FuncState, to: number, caller: FuncState, from: number): void => {
  callee.regs[to] = cloneReg(caller.regs[from]);
};

const notInit = (callee: FuncState, ...regs: number[]): void => {
  for (const r of regs) markNotInit(callee.regs[r]);
};

/** A map pointer's key and value, as a map callback receives them (known zero offset). */
function mapArg(r: RegState, type: RegType, from: RegState): void {
  markPtr(r, type);
  r.map = from.map;
}

/** bpf_loop(nr, cb, ctx, flags) -> cb(u32 index, void *ctx). */
const setLoopCallee: SetCallee = (_env, caller, callee) => {
  markUnknown(callee.regs[1]);
  copyArg(callee, 2, caller, 3);
  notInit(callee, 3, 4, 5);
};

/** bpf_for_each_map_elem(map, cb, ctx, flags) -> cb(map, key, value, ctx), for the map
 *  types that can be iterated (map_set_for_each_callback_args). */
const setMapElemCallee: SetCallee = (_env, caller, callee) => {
  const map = caller.regs[1];
  const type = map.map?.def.type ?? '';
  if (!['HASH', 'LRU_HASH', 'PERCPU_HASH', 'LRU_PERCPU_HASH', 'ARRAY', 'PERCPU_ARRAY'].includes(type)) {
    throw reject(524, 'callback function not allowed for map');
  }
  copyArg(callee, 1, caller, 1);
  mapArg(callee.regs[2], RegType.PTR_TO_MAP_KEY, map);
  mapArg(callee.regs[3], RegType.PTR_TO_MAP_VALUE, map);
  copyArg(callee, 4, caller, 3);
  notInit(callee, 5);
};

/** bpf_find_vma(task, addr, cb, ctx, flags) -> cb(task, struct vm_area_struct *vma, ctx). */
const setFindVmaCallee: SetCallee = (_env, caller, callee) => {
  copyArg(callee, 1, caller, 1);
  markPtr(callee.regs[2], RegType.PTR_TO_BTF_ID);
  callee.regs[2].btfId = structIdByName('vm_area_struct');
  copyArg(callee, 3, caller, 4);
  notInit(callee, 4, 5);
};

/** bpf_user_ringbuf_drain(map, cb, ctx, flags) -> cb(const struct bpf_dynptr *, ctx). */
const setUserRingbufCallee: SetCallee = (env, caller, callee) => {
  notInit(callee, 0);
  markPtr(callee.regs[1], RegType.CONST_PTR_TO_DYNPTR);
  callee.regs[1].dynptrType = 'local';
  callee.regs[1].id = ++env.idGen;
  copyArg(callee, 2, caller, 3);
  notInit(callee, 3, 4, 5);
};

/** push_callback_call: queue a state entering `subprog` as a callback of the call at
 *  `insnIdx`; this path goes on past the call. */
function pushCallbackCall(env: VerifierEnv, insnIdx: number, subprog: number, setCallee: SetCallee): void {
  const cur = env.curState;
  const st = cloneState(cur);
  if (st.curframe + 1 >= MAX_CALL_FRAMES) throw reject(E2BIG, `the call stack of ${st.curframe + 2} frames is too deep`);
  const caller = st.frames[st.curframe];
  const callee = newFuncState(st.curframe + 1, insnIdx, subprog);
  callee.callback = SYNC_CB;
  setCallee(env, caller, callee);
  // init_func_state marks the whole state scratched: the next insn prints it all.
  env.scratch.markAll();
  st.frames.push(callee);
  st.curframe++;
  st.callbackUnrollDepth++;
  caller.callbackDepth = (caller.callbackDepth ?? 0) + 1;
  cur.frames[cur.curframe].callbackDepth = 0;
  pushStack(env, st, env.subprogs[subprog].start, insnIdx);
}

/** bpf_loop is inlined when every pass through the call has flags 0 and the same callback
 *  (update_loop_inline_state); a zero flags register is then precise. */
export interface LoopInlineState {
  readonly fit: boolean;
  /** The callback's subprog number. */
  readonly subprog: number;
}
const loopInline = new WeakMap<VerifierEnv, Map<number, LoopInlineState>>();

/** The bpf_loop calls do_check saw, by instruction index (for fixup/loop-inline.ts). */
export function loopInlineStates(env: VerifierEnv): ReadonlyMap<number, LoopInlineState> {
  return loopInline.get(env) ?? new Map();
}

function updateLoopInlineState(env: VerifierEnv, idx: number, subprog: number): void {
  let m = loopInline.get(env);
  if (!m) loopInline.set(env, (m = new Map()));
  const s = m.get(idx);
  if (s && !s.fit) return;
  const r4 = env.curState.frames[env.curState.curframe].regs[4];
  const zero = r4.type === RegType.SCALAR_VALUE && isConst(r4.s) && constValue(r4.s) === 0n;
  if (zero) markChainPrecision(env, 4);
  m.set(idx, { fit: zero && (!s || s.subprog === subprog), subprog });
}

/** The callback part of check_helper_call, after the arguments (and before r0-r5 are
 *  clobbered: the callback's arguments come from them). */
export function helperCallback(env: VerifierEnv, id: number, subprog: number | undefined, insnIdx: number): void {
  if (!SYNC_CALLBACK_HELPERS.has(id) && !isAsyncCallbackHelper(id)) return;
  if (subprog === undefined) throw reject(14, 'verifier internal error: callback without a subprog');
  // Timer callbacks run later, on their own: a fresh state, not a nested frame (timer.ts).
  if (isAsyncCallbackHelper(id)) {
    pushAsyncCallback(env, insnIdx, subprog);
    return;
  }
  switch (id) {
    case FOR_EACH_MAP_ELEM:
      pushCallbackCall(env, insnIdx, subprog, setMapElemCallee);
      return;
    case FIND_VMA:
      pushCallbackCall(env, insnIdx, subprog, setFindVmaCallee);
      return;
    case USER_RINGBUF_DRAIN:
      pushCallbackCall(env, insnIdx, subprog, setUserRingbufCallee);
      return;
    case LOOP: {
      updateLoopInlineState(env, insnIdx, subprog);
      // The count decides when the passes end: it must be precise.
      markChainPrecision(env, 1);
      const f = env.curState.frames[env.curState.curframe];
      const r1 = f.regs[1];
      if (BigInt(f.callbackDepth ?? 0) < r1.s.umax) pushCallbackCall(env, insnIdx, subprog, setLoopCallee);
      else {
        f.callbackDepth = 0;
        if (env.log.level2) env.log.verbose(`frame${env.curState.curframe} bpf_loop iteration limit reached\n`);
      }
    }
  }
}

/** The callback side of prepare_func_exit: r0 must be a scalar in the callback's range
 *  (and is precise, the helper acts on it). */
export function checkCallbackReturn(env: VerifierEnv, callee: FuncState): void {
  const cb = callee.callback!;
  const r0 = callee.regs[BPF_REG_0];
  if (r0.type !== RegType.SCALAR_VALUE) throw reject(EACCES, 'R0 not a scalar value');
  markChainPrecision(env, BPF_REG_0);
  if (BigInt(cb.retMin) <= r0.s.smin && r0.s.smax <= BigInt(cb.retMax)) return;
  throw reject(EINVAL, `${invalidScalarText('At callback return', 'R0', r0)} should have been in [${cb.retMin}, ${cb.retMax}]`);
}


/** After a callback returned to its call insn: scalars that changed since the previous
 *  pass through that insn and were never needed precisely are widened, so that the passes
 *  converge (as for iterators). */
export function widenAfterCallback(env: VerifierEnv, callsite: number): void {
  const cur = env.curState;
  const prev = findPrevOnPath(env, cur, callsite);
  if (prev) widenImpreciseScalars(env, prev, cur);
}

/** find_prev_entry for a state that is not a checkpoint itself: the newest unfinished
 *  checkpoint at `idx` with the same call chain (unfinished ones are on the current path). */
function findPrevOnPath(env: VerifierEnv, cur: VerifierState, idx: number): VerifierState | undefined {
  for (const sl of env.explored.get(idx) ?? []) {
    if (sl.st.insnIdx !== idx || !sl.branches || sl.st.curframe !== cur.curframe) continue;
    let same = true;
    for (let i = cur.curframe; i >= 0 && same; i--) same = sl.st.frames[i].callsite === cur.frames[i].callsite;
    if (same) return sl.st;
  }
  return undefined;
}
