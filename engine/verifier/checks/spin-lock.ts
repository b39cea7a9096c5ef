// bpf_spin_lock / bpf_spin_unlock (process_spin_lock): the argument points exactly at the
// map value's struct bpf_spin_lock; one lock at a time, held as a 'lock' entry in the
// state's references (6.18), identified by the value's id and its map; while it is held no
// other helper may be called and the program may not exit.

import type { RegState } from '../state/types.ts';
import { RegType } from '../state/types.ts';
import { isConst, constValue } from '../scalar-api.ts';
import { reject, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { fieldOf, hasBtf } from './map-fields.ts';
import { activeLock } from './refs.ts';
import { kernelMapName } from '../log/state-print.ts';
import { kernelKfunc } from '../kfunc/meta.ts';

const BPF_FUNC_spin_unlock = 94;

export function processSpinLock(env: VerifierEnv, reg: RegState, regno: number, isLock: boolean): void {
  if (!isConst(reg.s)) {
    throw reject(EINVAL, `R${regno} doesn't have constant offset. bpf_spin_lock has to be at the constant offset`);
  }
  if (reg.type !== RegType.PTR_TO_MAP_VALUE || !reg.map) throw reject(EINVAL, 'local \'kptr\' has no valid bpf_spin_lock');
  const def = reg.map.def;
  if (!hasBtf(def)) throw reject(EINVAL, `map '${kernelMapName(def.name)}' has to have BTF in order to use bpf_spin_lock`);
  const lock = fieldOf(def, 'bpf_spin_lock');
  if (!lock) throw reject(EINVAL, `map '${kernelMapName(def.name)}' has no valid bpf_spin_lock`);
  const at = BigInt.asIntN(64, constValue(reg.s)) + BigInt(reg.off);
  if (at !== BigInt(lock.off)) throw reject(EINVAL, `off ${at} doesn't point to 'struct bpf_spin_lock' that is at ${lock.off}`);
  const st = env.curState;
  const held = activeLock(st);
  if (isLock) {
    if (held) throw reject(EINVAL, 'Locking two bpf_spin_locks are not allowed');
    st.refs.push({ id: reg.id, insnIdx: env.insnIdx, kind: 'lock', ptr: reg.map.index });
    return;
  }
  if (!held) throw reject(EINVAL, 'bpf_spin_unlock without taking a lock');
  if (held.id !== reg.id || held.ptr !== reg.map.index) throw reject(EINVAL, 'bpf_spin_unlock of different lock');
  const i = st.refs.indexOf(held);
  const last = st.refs.pop()!;
  if (i < st.refs.length) st.refs[i] = last;
}

/** do_check: with a lock held, the only helper call allowed is the unlock. */
export function checkCallInLock(env: VerifierEnv, helperId: number): void {
  if (activeLock(env.curState) && helperId !== BPF_FUNC_spin_unlock) {
    throw reject(EINVAL, 'function calls are not allowed while holding a lock');
  }
}

/** The same rule for kfunc calls: under a lock only the list / rbtree / refcount kfuncs of
 *  vmlinux may be called (is_bpf_graph_api_kfunc). */
export function checkKfuncInLock(env: VerifierEnv, insn: { off: number; imm: number }): void {
  if (!activeLock(env.curState)) return;
  const name = insn.off ? undefined : kernelKfunc(insn.imm)?.name;
  if (name !== undefined && /^bpf_(list_|rbtree_|refcount_acquire_impl$)/.test(name)) return;
  throw reject(EINVAL, 'function calls are not allowed while holding a lock');
}
