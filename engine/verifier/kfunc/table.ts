// Kernel kfuncs the verifier knows (6.18): their KF_* flags and which program types may call
// them. Neither is in BTF (the kernel keeps them in its registered btf_kfunc_id_sets), so this
// table lists the kfuncs the ported selftests call, learnt from the kernel's BTF_ID_FLAGS
// lists and register_btf_kfunc_id_set calls. A kfunc not listed raises NotImplementedError.

import type { ProgType } from '../../program/types.ts';

/** KF_* bits (6.18 include/linux/btf.h). */
export const KF = {
  ACQUIRE: 1 << 0,
  RELEASE: 1 << 1,
  RET_NULL: 1 << 2,
  TRUSTED_ARGS: 1 << 4,
  SLEEPABLE: 1 << 5,
  DESTRUCTIVE: 1 << 6,
  RCU: 1 << 7,
  ITER_NEW: 1 << 8,
  ITER_NEXT: 1 << 9,
  ITER_DESTROY: 1 << 10,
  RCU_PROTECTED: 1 << 11,
  FASTCALL: 1 << 12,
} as const;

/** BTF_KFUNC_HOOK_*: the kernel groups program types into hooks; a set registered for one
 *  program type is visible to every type of its hook. `common` is every program type. */
export type Hook =
  | 'common' | 'xdp' | 'tc' | 'struct_ops' | 'tracing' | 'syscall' | 'fmodret' | 'cgroup' | 'sched_act'
  | 'sk_skb' | 'socket_filter' | 'lwt' | 'netfilter' | 'kprobe' | 'cgroup_sock_addr' | 'lsm_unused';

/** bpf_prog_type_to_kfunc_hook (6.18). Types not listed have no hook of their own. */
export function hookOf(t: ProgType): Hook | undefined {
  switch (t) {
    case 'XDP': return 'xdp';
    case 'SCHED_CLS': return 'tc';
    case 'STRUCT_OPS': return 'struct_ops';
    // 6.18: LSM, tracepoint and perf_event programs share the tracing hook.
    case 'TRACING': case 'TRACEPOINT': case 'PERF_EVENT': case 'LSM': return 'tracing';
    case 'SYSCALL': return 'syscall';
    // 6.18: every cgroup program type shares one hook.
    case 'CGROUP_SKB': case 'CGROUP_SOCK': case 'CGROUP_DEVICE': case 'CGROUP_SOCK_ADDR':
    case 'CGROUP_SOCKOPT': case 'CGROUP_SYSCTL': return 'cgroup';
    case 'SCHED_ACT': return 'sched_act';
    case 'SK_SKB': return 'sk_skb';
    case 'SOCKET_FILTER': return 'socket_filter';
    case 'LWT_OUT': case 'LWT_IN': case 'LWT_XMIT': case 'LWT_SEG6LOCAL': return 'lwt';
    case 'NETFILTER': return 'netfilter';
    case 'KPROBE': return 'kprobe';
    default: return undefined;
  }
}

export interface KfuncFacts {
  readonly flags: number;
  readonly hooks: readonly Hook[];
  /** A set filter narrows the hook further (bpf_fs_kfuncs_filter: LSM programs only). */
  readonly progTypes?: readonly ProgType[];
}

// The registered sets (6.18), by the hooks each is registered for.
const GENERIC: readonly Hook[] = ['tracing', 'tc', 'xdp', 'struct_ops', 'syscall', 'cgroup'];
const COMMON: readonly Hook[] = ['common'];
const CPUMASK: readonly Hook[] = ['tracing', 'struct_ops', 'syscall'];
const SKB: readonly Hook[] = ['tc', 'sched_act', 'sk_skb', 'socket_filter', 'cgroup', 'lwt', 'netfilter', 'tracing'];
const KEY_SIG: readonly Hook[] = ['tracing'];

const { ACQUIRE, RELEASE, RET_NULL, TRUSTED_ARGS, SLEEPABLE, RCU, ITER_NEW, ITER_NEXT, ITER_DESTROY } = KF;

const TABLE: Readonly<Record<string, KfuncFacts>> = {
  // kernel/bpf/helpers.c generic set
  bpf_task_acquire: { flags: ACQUIRE | RCU | RET_NULL, hooks: GENERIC },
  bpf_task_release: { flags: RELEASE, hooks: GENERIC },
  bpf_task_from_pid: { flags: ACQUIRE | RET_NULL, hooks: GENERIC },
  bpf_cgroup_acquire: { flags: ACQUIRE | RCU | RET_NULL, hooks: GENERIC },
  bpf_cgroup_release: { flags: RELEASE, hooks: GENERIC },
  bpf_cgroup_from_id: { flags: ACQUIRE | RET_NULL, hooks: GENERIC },
  bpf_throw: { flags: 0, hooks: GENERIC }, // kfunc/throw.ts
  // kernel/bpf/helpers.c common set
  bpf_cast_to_kern_ctx: { flags: 0, hooks: COMMON },
  bpf_rdonly_cast: { flags: 0, hooks: COMMON },
  bpf_rcu_read_lock: { flags: 0, hooks: COMMON },
  bpf_rcu_read_unlock: { flags: 0, hooks: COMMON },
  bpf_dynptr_slice: { flags: RET_NULL, hooks: COMMON },
  bpf_dynptr_slice_rdwr: { flags: RET_NULL, hooks: COMMON },
  bpf_iter_num_new: { flags: ITER_NEW, hooks: COMMON },
  bpf_iter_num_next: { flags: ITER_NEXT | RET_NULL, hooks: COMMON },
  bpf_iter_num_destroy: { flags: ITER_DESTROY, hooks: COMMON },
  bpf_iter_bits_new: { flags: ITER_NEW, hooks: COMMON },
  bpf_iter_bits_next: { flags: ITER_NEXT | RET_NULL, hooks: COMMON },
  bpf_iter_bits_destroy: { flags: ITER_DESTROY, hooks: COMMON },
  bpf_dynptr_adjust: { flags: 0, hooks: COMMON },
  bpf_dynptr_size: { flags: 0, hooks: COMMON },
  // kernel/bpf/cpumask.c
  bpf_cpumask_create: { flags: ACQUIRE | RET_NULL, hooks: CPUMASK },
  bpf_cpumask_release: { flags: RELEASE, hooks: CPUMASK },
  bpf_cpumask_acquire: { flags: ACQUIRE | TRUSTED_ARGS, hooks: CPUMASK },
  bpf_cpumask_set_cpu: { flags: RCU, hooks: CPUMASK },
  bpf_cpumask_test_cpu: { flags: RCU, hooks: CPUMASK },
  // kernel/bpf/arena.c (common set)
  bpf_arena_alloc_pages: { flags: TRUSTED_ARGS | SLEEPABLE, hooks: COMMON },
  bpf_arena_free_pages: { flags: TRUSTED_ARGS | SLEEPABLE, hooks: COMMON },
  // fs/bpf_fs_kfuncs.c: registered for LSM, filtered to LSM programs
  bpf_get_task_exe_file: { flags: ACQUIRE | TRUSTED_ARGS | RET_NULL, hooks: ['tracing'], progTypes: ['LSM'] },
  bpf_put_file: { flags: RELEASE, hooks: ['tracing'], progTypes: ['LSM'] },
  bpf_path_d_path: { flags: TRUSTED_ARGS, hooks: ['tracing'], progTypes: ['LSM'] },
  // kernel/trace/bpf_trace.c key_sig set
  bpf_lookup_user_key: { flags: ACQUIRE | RET_NULL | SLEEPABLE, hooks: KEY_SIG },
  bpf_lookup_system_key: { flags: ACQUIRE | RET_NULL, hooks: KEY_SIG },
  bpf_key_put: { flags: RELEASE, hooks: KEY_SIG },
  // net/core/filter.c
  bpf_dynptr_from_skb: { flags: TRUSTED_ARGS, hooks: SKB },
  bpf_dynptr_from_xdp: { flags: 0, hooks: ['xdp'] },
};

export const kernelKfuncFacts = (name: string): KfuncFacts | undefined => TABLE[name];

/** btf_kfunc_id_set_contains: may a program of type `t` call this kfunc? */
export function kfuncAllowed(f: KfuncFacts, t: ProgType): boolean {
  if (f.progTypes && !f.progTypes.includes(t)) return false;
  if (f.hooks.includes('common')) return true;
  const h = hookOf(t);
  return h !== undefined && f.hooks.includes(h);
}
