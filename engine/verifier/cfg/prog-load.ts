// bpf_prog_load's own checks, made before the verifier runs (a refusal leaves no log): the
// program length (a bpf_capable loader may load up to BPF_COMPLEXITY_LIMIT_INSNS slots,
// anyone else BPF_MAXINSNS), and the expected attach type of the program types that need
// one (bpf_prog_load_check_attach; a missing one is 0, BPF_CGROUP_INET_INGRESS).

import type { Program } from '../../program/types.ts';
import { loaderCaps } from '../unpriv/caps.ts';

const BPF_MAXINSNS = 4096;
const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

/** Slots the program occupies (ld_imm64 takes two), i.e. attr->insn_cnt. */
export const insnSlotCount = (prog: Program): number => prog.insns.reduce((n, insn) => n + (insn.next ? 2 : 1), 0);

export const maxInsns = (opts: { readonly unpriv: boolean; readonly capsUnpriv?: readonly number[] }): number =>
  loaderCaps(opts).bpf ? BPF_COMPLEXITY_LIMIT_INSNS : BPF_MAXINSNS;

const SOCK_ADDR = [
  'CGROUP_INET4_BIND', 'CGROUP_INET6_BIND', 'CGROUP_INET4_CONNECT', 'CGROUP_INET6_CONNECT', 'CGROUP_UNIX_CONNECT',
  'CGROUP_INET4_GETPEERNAME', 'CGROUP_INET6_GETPEERNAME', 'CGROUP_UNIX_GETPEERNAME', 'CGROUP_INET4_GETSOCKNAME',
  'CGROUP_INET6_GETSOCKNAME', 'CGROUP_UNIX_GETSOCKNAME', 'CGROUP_UDP4_SENDMSG', 'CGROUP_UDP6_SENDMSG',
  'CGROUP_UNIX_SENDMSG', 'CGROUP_UDP4_RECVMSG', 'CGROUP_UDP6_RECVMSG', 'CGROUP_UNIX_RECVMSG',
];

/** The expected attach types a program type accepts; absent: not checked here. A missing
 *  type counts as CGROUP_INET_INGRESS (cgroup/sock turns that into sock_create first). */
const ATTACH: Readonly<Record<string, readonly string[]>> = {
  CGROUP_SOCK: ['CGROUP_INET_SOCK_CREATE', 'CGROUP_INET_SOCK_RELEASE', 'CGROUP_INET4_POST_BIND', 'CGROUP_INET6_POST_BIND'],
  CGROUP_SOCK_ADDR: SOCK_ADDR,
  CGROUP_SKB: ['CGROUP_INET_INGRESS', 'CGROUP_INET_EGRESS'],
  CGROUP_SOCKOPT: ['CGROUP_SETSOCKOPT', 'CGROUP_GETSOCKOPT'],
  SK_LOOKUP: ['SK_LOOKUP'],
  NETFILTER: ['NETFILTER'],
};

/** True when bpf_prog_load refuses the expected attach type (EINVAL, no log). */
export function badExpectedAttach(prog: Program): boolean {
  const ok = ATTACH[prog.progType];
  if (!ok) return false;
  let given = prog.expectedAttachType ?? 'CGROUP_INET_INGRESS';
  if (prog.progType === 'CGROUP_SOCK' && given === 'CGROUP_INET_INGRESS') given = 'CGROUP_INET_SOCK_CREATE';
  return !ok.includes(given);
}
