// Which subprograms may change packet data (6.18, computed during the CFG walk there): one
// that calls a packet-changing helper, or bpf_tail_call (the tail-called program may call
// one), or that calls a subprogram which may. The verifier walks into static subprograms, so
// their helper calls invalidate packet pointers on their own; a global subprogram is not
// walked from the call site, so the call itself must invalidate every packet pointer of the
// caller when the callee may change packet data.
//
// Not modelled: the bpf_xdp_pull_data kfunc (6.18 marks it too; the engine has no BTF ids
// for kfunc identity here) and freplace's "changes packet data while original does not".

import { BPF_CALL, BPF_JMP, BPF_PSEUDO_CALL } from '../../isa/opcodes.ts';
import { BPF_FUNC_tail_call, changesPktData } from '../helpers/pkt.ts';
import type { VerifierEnv } from '../env.ts';

const memo = new WeakMap<VerifierEnv, readonly boolean[]>();

/** Direct marks (helper calls in the subprog's own body) and the bpf-to-bpf call edges. */
function directFacts(env: VerifierEnv): { marks: boolean[]; edges: [number, number][] } {
  const marks = env.subprogs.map(() => false);
  const edges: [number, number][] = [];
  for (let i = 0; i < env.insnCnt; i++) {
    const s = env.slots[i];
    if (s.code !== (BPF_JMP | BPF_CALL)) continue;
    const caller = env.subprogOf(i);
    if (s.src === 0 && (changesPktData(s.imm) || s.imm === BPF_FUNC_tail_call)) marks[caller] = true;
    if (s.src === BPF_PSEUDO_CALL) {
      const callee = env.subprogs.findIndex((p) => p.start === i + s.imm + 1);
      if (callee >= 0) edges.push([caller, callee]);
    }
  }
  return { marks, edges };
}

/** Per subprog: may it change packet data, itself or through any callee (transitively). */
export function subprogsChangingPktData(env: VerifierEnv): readonly boolean[] {
  const hit = memo.get(env);
  if (hit) return hit;
  const { marks, edges } = directFacts(env);
  // A fixpoint over the call edges gives what the kernel's post-order merge gives, and also
  // terminates on recursive call graphs (which the CFG walk rejects anyway).
  for (let changed = true; changed; ) {
    changed = false;
    for (const [caller, callee] of edges) {
      if (marks[callee] && !marks[caller]) changed = marks[caller] = true;
    }
  }
  memo.set(env, marks);
  return marks;
}

export const subprogChangesPktData = (env: VerifierEnv, subprog: number): boolean =>
  subprogsChangingPktData(env)[subprog] ?? false;
