// The BPF iterator targets a `SEC("iter/<target>")` program may name, and what each one
// says about its context fields (struct bpf_iter__<target>, one u64 slot per argument of the
// kernel's bpf_iter_<target> FUNC). A field listed here is read as the type given (a
// NULL-able buffer, or a NULL-able, possibly trusted kernel pointer); the other fields
// follow the generic BTF rules (ctx-btf.ts): `meta` and `map` are then trusted, never NULL.
//
// 6.18: the registrations (bpf_iter_reg.ctx_arg_info) of kernel/bpf/{map,prog,link,task,
// cgroup,kmem_cache,dmabuf}_iter.c, net/core/{sock_map,bpf_sk_storage}.c, tcp, udp, unix,
// netlink, ipv6_route and kallsyms; every row was confirmed on the live 6.18 kernel, which
// loads iter programs (specs/tracing_ctx.yaml).

import { RegType, PTR_MAYBE_NULL, PTR_TRUSTED, MEM_RDONLY } from '../state/types.ts';

/** A NULL-able pointer to a kernel struct: the field's pointee type, trusted or not. */
const BTF_OR_NULL = RegType.PTR_TO_BTF_ID | PTR_MAYBE_NULL;
const TRUSTED_BTF_OR_NULL = BTF_OR_NULL | PTR_TRUSTED;
/** Map keys and values: buffers whose size is only checked when the program is attached
 *  to a map (the largest offset read or written is recorded, see buf.ts). */
const RDONLY_BUF_OR_NULL = RegType.PTR_TO_BUF | PTR_MAYBE_NULL | MEM_RDONLY;
const RDWR_BUF_OR_NULL = RegType.PTR_TO_BUF | PTR_MAYBE_NULL;

/** Field name (the bpf_iter_<target> parameter) -> register type a load of it gives. */
export type IterCtxArgs = Readonly<Record<string, number>>;

const TARGETS: Readonly<Record<string, IterCtxArgs>> = {
  bpf_map: { map: TRUSTED_BTF_OR_NULL },
  bpf_map_elem: { key: RDONLY_BUF_OR_NULL, value: RDWR_BUF_OR_NULL },
  bpf_sk_storage_map: { sk: BTF_OR_NULL, value: RDWR_BUF_OR_NULL },
  bpf_prog: { prog: BTF_OR_NULL },
  bpf_link: { link: BTF_OR_NULL },
  cgroup: { cgroup: TRUSTED_BTF_OR_NULL },
  dmabuf: { dmabuf: BTF_OR_NULL }, // 6.18 (not in 6.12)
  ipv6_route: { rt: BTF_OR_NULL },
  kmem_cache: { s: TRUSTED_BTF_OR_NULL }, // 6.18 (not in 6.12)
  ksym: { ksym: BTF_OR_NULL },
  netlink: { sk: BTF_OR_NULL },
  sockmap: { key: RDONLY_BUF_OR_NULL, sk: BTF_OR_NULL },
  task: { task: TRUSTED_BTF_OR_NULL },
  task_file: { task: BTF_OR_NULL, file: BTF_OR_NULL },
  task_vma: { task: BTF_OR_NULL, vma: BTF_OR_NULL },
  tcp: { sk_common: TRUSTED_BTF_OR_NULL },
  udp: { udp_sk: TRUSTED_BTF_OR_NULL },
  unix: { unix_sk: BTF_OR_NULL },
};

/** The registered target's special fields, or undefined when no such target exists (the
 *  load then fails with EINVAL and an empty log). */
export function iterTarget(name: string): IterCtxArgs | undefined {
  return Object.hasOwn(TARGETS, name) ? TARGETS[name] : undefined;
}

export const ITER_TARGET_NAMES: readonly string[] = Object.keys(TARGETS);
