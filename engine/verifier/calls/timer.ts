// bpf_timer (6.18): the four helpers that take a `struct bpf_timer *` inside a map value
// (bpf_timer_init / _set_callback / _start / _cancel), and the timer callback, which the
// verifier explores as an *async* callback.
//
// What must hold for the timer argument (process_timer_func): a map value pointer (checked
// by the argument's register types), a constant offset that lands exactly on the value's one
// bpf_timer field, and a map with value BTF. bpf_timer_init also takes a map pointer: it must
// be the map the timer lives in (the kernel compares map pointer and map_uid; the model has
// no inner-map uids, so both print as 0).
//
// The callback does not run at the call: it runs later, on its own, from softirq context.
// So the verifier does not enter it as a nested frame that returns to the call (as it does
// for bpf_loop); it queues a fresh state whose frame 0 is the callback (push_async_cb), with
// r1 = the timer's map, r2 = a key and r3 = a value of that map, nothing of the caller's
// stack or references. That frame prints ` async_cb` after its registers, and its exit is
// checked like a program exit, against [0, 0] ("At async callback return ..."), 6.18.
// A callback can arm timers itself: each entry counts one more (async_entry_cnt), and a
// state of another entry is never taken for an infinite loop (prune.ts).

import { invalidScalarText } from '../log/invalid-scalar.ts';
import type { RegState, FuncState } from '../state/types.ts';
import { RegType } from '../state/types.ts';
import { markNotInit, markPtr, newFuncState } from '../state/regs.ts';
import { isConst, constValue } from '../scalar-api.ts';
import { reject, EINVAL, EACCES, E2BIG } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { fieldOf, hasBtf } from '../checks/map-fields.ts';
import { kernelMapName, regTypeStr } from '../log/state-print.ts';
import { markChainPrecision } from '../precision/backtrack.ts';
import { newVerifierState } from '../state/regs.ts';

export const BPF_FUNC_timer_init = 169;
export const BPF_FUNC_timer_set_callback = 170;
export const BPF_FUNC_timer_start = 171;
export const BPF_FUNC_timer_cancel = 172;

const BPF_COMPLEXITY_LIMIT_JMP_SEQ = 8192;

/** is_async_callback_calling_function (helpers; bpf_wq's kfunc is not modelled). */
export const isAsyncCallbackHelper = (id: number): boolean => id === BPF_FUNC_timer_set_callback;

/** The map a call's timer or map-pointer argument named first (meta->map_ptr). */
export interface TimerMeta {
  map: RegState['map'];
}

/** process_timer_func: `reg` (already known to be a map value pointer) points at the bpf_timer
 *  of its map's value; the call's map becomes that map. */
export function processTimerFunc(env: VerifierEnv, reg: RegState, regno: number, meta: TimerMeta): void {
  if (!isConst(reg.s)) {
    throw reject(EINVAL, `R${regno} doesn't have constant offset. bpf_timer has to be at the constant offset`);
  }
  const map = reg.map!;
  const name = kernelMapName(map.def.name);
  if (!hasBtf(map.def)) throw reject(EINVAL, `map '${name}' has to have BTF in order to use bpf_timer`);
  const timer = fieldOf(map.def, 'bpf_timer');
  if (!timer) throw reject(EINVAL, `map '${name}' has no valid bpf_timer`);
  const at = BigInt.asIntN(64, constValue(reg.s)) + BigInt(reg.off);
  if (at !== BigInt(timer.off)) throw reject(EINVAL, `off ${at} doesn't point to 'struct bpf_timer' that is at ${timer.off}`);
  if (meta.map) throw reject(14, 'verifier bug. Two map pointers in a timer helper');
  meta.map = map;
  void env;
}

/** ARG_CONST_MAP_PTR after a timer argument: the same map (by map pointer and map_uid). */
export function checkTimerMapMatch(meta: TimerMeta, reg: RegState): void {
  if (!meta.map || !reg.map) return;
  if (meta.map.index !== reg.map.index) {
    throw reject(EINVAL, "timer pointer in R1 map_uid=0 doesn't match map pointer in R2 map_uid=0");
  }
}

/** Subprograms some bpf_timer_set_callback names (subprog_info.is_async_cb): their stack is
 *  their own (cfg/stack-depth.ts). */
const asyncCbs = new WeakMap<VerifierEnv, Set<number>>();

export function asyncCallbackSubprogs(env: VerifierEnv): ReadonlySet<number> {
  return asyncCbs.get(env) ?? new Set();
}

/** set_timer_callback_state: the callback's r1-r3 are the timer's map, one of its keys and
 *  one of its values (offset 0); r4 and r5 are not set. */
function setTimerCallbackState(caller: FuncState, callee: FuncState): void {
  const map = caller.regs[1].map;
  markPtr(callee.regs[1], RegType.CONST_PTR_TO_MAP);
  callee.regs[1].map = map;
  markPtr(callee.regs[2], RegType.PTR_TO_MAP_KEY);
  callee.regs[2].map = map;
  markPtr(callee.regs[3], RegType.PTR_TO_MAP_VALUE);
  callee.regs[3].map = map;
  markNotInit(callee.regs[4]);
  markNotInit(callee.regs[5]);
}

/** push_async_cb + the async branch of push_callback_call, for bpf_timer_set_callback at
 *  `insnIdx` naming `subprog`: queue a new state that starts the callback in frame 0. The
 *  current path goes on past the call. */
export function pushAsyncCallback(env: VerifierEnv, insnIdx: number, subprog: number): void {
  let set = asyncCbs.get(env);
  if (!set) asyncCbs.set(env, (set = new Set()));
  set.add(subprog);
  const cur = env.curState;
  const caller = cur.frames[cur.curframe];
  // The caller's state does not matter: a fresh stack, no references, no parent checkpoint
  // (backtracking stops at the callback's entry).
  const st = newVerifierState();
  const callee = newFuncState(0, -1, subprog);
  const depth = (caller.callback?.async ? caller.callback.entryCnt ?? 1 : 0) + 1;
  callee.callback = { async: true, retMin: 0, retMax: 0, entryCnt: depth };
  setTimerCallbackState(caller, callee);
  st.frames = [callee];
  // init_func_state marks the whole state scratched: the call's line prints it all.
  env.scratch.markAll();
  const start = env.subprogs[subprog].start;
  st.insnIdx = start;
  env.stack.push({ st, insnIdx: start, prevInsnIdx: insnIdx, logPos: env.log.pos });
  if (env.stack.length > BPF_COMPLEXITY_LIMIT_JMP_SEQ) {
    throw reject(E2BIG, `The sequence of ${env.stack.length} jumps is too complex for async cb.`);
  }
}

/** check_return_code in an async callback's frame 0: r0 is a known scalar in [0, 0]. */
export function checkAsyncCallbackReturn(env: VerifierEnv): void {
  const st = env.curState;
  const f = st.frames[st.curframe];
  const r0 = f.regs[0];
  if (r0.type === RegType.NOT_INIT) throw reject(EACCES, 'R0 !read_ok');
  if (r0.type !== RegType.SCALAR_VALUE && !env.allowPtrLeaks) throw reject(EACCES, 'R0 leaks addr as return value');
  const ctx = 'At async callback return';
  if (r0.type !== RegType.SCALAR_VALUE) throw reject(EINVAL, `${ctx} the register R0 is not a known value (${regTypeStr(r0.type)})`);
  markChainPrecision(env, 0);
  const { retMin, retMax } = f.callback!;
  if (BigInt(retMin) <= r0.s.smin && r0.s.smax <= BigInt(retMax)) return;
  throw reject(EINVAL, `${invalidScalarText(ctx, 'R0', r0)} should have been in [${retMin}, ${retMax}]`);
}

/** is_state_visited: a looping state of another async entry is not an infinite loop. */
export function otherAsyncEntry(old: FuncState, cur: FuncState): boolean {
  return !!old.callback?.async && (old.callback.entryCnt ?? 1) !== (cur.callback?.entryCnt ?? 0);
}
