// bpf_rcu_read_lock / bpf_rcu_read_unlock: the RCU read section is one more held resource
// (a `kind: 'rcu'` entry in the state's references), so states are compared and copied with
// it and an exit inside the section is refused like one inside a spin lock (6.18: no nesting).

import { reject, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import type { VerifierState } from '../state/types.ts';

export const activeRcuLock = (st: VerifierState): boolean => st.refs.some((r) => r.kind === 'rcu');

/** Enter or leave the RCU read section for the two RCU kfuncs; other names are untouched. */
export function processRcuKfunc(env: VerifierEnv, name: string): void {
  const st = env.curState;
  if (name === 'bpf_rcu_read_lock') {
    if (activeRcuLock(st)) throw reject(EINVAL, `nested rcu read lock (kernel function ${name})`);
    st.refs.push({ id: 0, insnIdx: env.insnIdx, kind: 'rcu' });
  } else if (name === 'bpf_rcu_read_unlock') {
    if (!activeRcuLock(st)) throw reject(EINVAL, `unmatched rcu read unlock (kernel function ${name})`);
    // Not modelled yet: 6.18 also turns MEM_RCU pointers untrusted here.
    st.refs = st.refs.filter((r) => r.kind !== 'rcu');
  }
}
