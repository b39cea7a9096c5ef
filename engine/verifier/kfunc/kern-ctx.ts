// The kernel struct behind each program type's context (6.18 bpf_ctx_convert, built from
// include/linux/bpf_types.h): what bpf_cast_to_kern_ctx returns a trusted pointer to.

import type { ProgType } from '../../program/types.ts';
import { structIdByName } from '../btf-types.ts';
import { NotImplementedError } from '../errors.ts';

const KERN_CTX: Partial<Record<ProgType, string>> = {
  SOCKET_FILTER: 'sk_buff', SCHED_CLS: 'sk_buff', SCHED_ACT: 'sk_buff', CGROUP_SKB: 'sk_buff',
  LWT_IN: 'sk_buff', LWT_OUT: 'sk_buff', LWT_XMIT: 'sk_buff', LWT_SEG6LOCAL: 'sk_buff', SK_SKB: 'sk_buff',
  XDP: 'xdp_buff',
  CGROUP_SOCK: 'sock',
  CGROUP_SOCK_ADDR: 'bpf_sock_addr_kern',
  SOCK_OPS: 'bpf_sock_ops_kern',
  SK_MSG: 'sk_msg',
  FLOW_DISSECTOR: 'bpf_flow_dissector',
  KPROBE: 'pt_regs',
  PERF_EVENT: 'bpf_perf_event_data_kern',
  CGROUP_SYSCTL: 'bpf_sysctl_kern',
  CGROUP_SOCKOPT: 'bpf_sockopt_kern',
  CGROUP_DEVICE: 'bpf_cgroup_dev_ctx',
  SK_REUSEPORT: 'sk_reuseport_kern',
  SK_LOOKUP: 'bpf_sk_lookup_kern',
  NETFILTER: 'bpf_nf_ctx',
};

/** get_kern_ctx_btf_id: the vmlinux id of the kernel context struct. Program types whose
 *  kernel context is not a struct (u64 arrays, `void *`) are not modelled. */
export function kernCtxStructId(t: ProgType): number {
  const name = KERN_CTX[t];
  if (name === undefined) throw new NotImplementedError(`bpf_cast_to_kern_ctx for ${t} programs`);
  const id = structIdByName(name);
  if (id) return id;
  throw new NotImplementedError(`kernel context struct ${name} not in vmlinux BTF`);
}
