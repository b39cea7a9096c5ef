// Prototypes of base and tracing helpers beyond the first few: tail calls, spin locks,
// cgroup local storage, ringbuf, probe_read_{kernel,user}, copy_from_user, trace_printk, csum_diff.

import { Arg, Ret } from './protos.ts';
import type { HelperProto } from './protos.ts';

const ALL = '*' as const;
const CGROUP_TYPES = ['CGROUP_SKB', 'CGROUP_SOCK', 'CGROUP_SOCK_ADDR', 'SOCK_OPS', 'CGROUP_DEVICE', 'CGROUP_SYSCTL', 'CGROUP_SOCKOPT'];
const TRACING = new Set(['KPROBE', 'TRACEPOINT', 'PERF_EVENT', 'RAW_TRACEPOINT', 'RAW_TRACEPOINT_WRITABLE', 'TRACING', 'LSM']);
/** Every program type the model names but the tracing ones (ktime_get_coarse_ns is in the
 *  networking and cgroup switches, not the base or tracing ones). */
const NON_TRACING = ['SOCKET_FILTER', 'SCHED_CLS', 'SCHED_ACT', 'XDP', 'CGROUP_SKB', 'CGROUP_SOCK', 'LWT_IN', 'LWT_OUT', 'LWT_XMIT',
  'SOCK_OPS', 'SK_SKB', 'CGROUP_DEVICE', 'SK_MSG', 'LWT_SEG6LOCAL', 'SK_REUSEPORT', 'FLOW_DISSECTOR', 'CGROUP_SYSCTL',
  'CGROUP_SOCKOPT', 'SK_LOOKUP', 'CGROUP_SOCK_ADDR', 'SYSCALL', 'NETFILTER'].filter((t) => !TRACING.has(t));
const CSUM_TYPES = ['SCHED_CLS', 'SCHED_ACT', 'XDP', 'LWT_IN', 'LWT_OUT', 'LWT_XMIT', 'LWT_SEG6LOCAL'];

export function miscProtos(): readonly HelperProto[] {
  return [
    { id: 6, args: [Arg.PTR_TO_MEM_RDONLY, Arg.CONST_SIZE], ret: Ret.INTEGER, gplOnly: true, progTypes: ALL, cap: 'perfmon' }, // trace_printk
    { id: 12, args: [Arg.PTR_TO_CTX, Arg.CONST_MAP_PTR, Arg.ANYTHING], ret: Ret.VOID, progTypes: ALL }, // tail_call
    { id: 28, args: [Arg.PTR_TO_MEM_RDONLY_OR_NULL, Arg.CONST_SIZE_OR_ZERO, Arg.PTR_TO_MEM_RDONLY_OR_NULL, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING], ret: Ret.INTEGER, pktAccess: true, progTypes: CSUM_TYPES }, // csum_diff
    // fib_lookup(ctx, params, plen, flags): the skb and xdp variants share the shape.
    { id: 69, args: [Arg.PTR_TO_CTX, Arg.PTR_TO_MEM, Arg.CONST_SIZE, Arg.ANYTHING], ret: Ret.INTEGER, gplOnly: true, progTypes: ['SCHED_CLS', 'SCHED_ACT', 'XDP'] },
    { id: 81, args: [Arg.CONST_MAP_PTR, Arg.ANYTHING], ret: Ret.PTR_TO_MAP_VALUE, progTypes: CGROUP_TYPES }, // get_local_storage
    { id: 93, args: [Arg.PTR_TO_SPIN_LOCK], ret: Ret.VOID, progTypes: ALL, cap: 'bpf' }, // spin_lock
    { id: 94, args: [Arg.PTR_TO_SPIN_LOCK], ret: Ret.VOID, progTypes: ALL, cap: 'bpf' }, // spin_unlock
    { id: 112, args: [Arg.PTR_TO_UNINIT_MEM, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING], ret: Ret.INTEGER, gplOnly: true, progTypes: ALL, cap: 'perfmon' }, // probe_read_user
    { id: 113, args: [Arg.PTR_TO_UNINIT_MEM, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING], ret: Ret.INTEGER, gplOnly: true, progTypes: ALL, cap: 'perfmon' }, // probe_read_kernel
    { id: 114, args: [Arg.PTR_TO_UNINIT_MEM, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING], ret: Ret.INTEGER, gplOnly: true, progTypes: ALL, cap: 'perfmon' }, // probe_read_user_str
    { id: 115, args: [Arg.PTR_TO_UNINIT_MEM, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING], ret: Ret.INTEGER, gplOnly: true, progTypes: ALL, cap: 'perfmon' }, // probe_read_kernel_str
    { id: 130, args: [Arg.CONST_MAP_PTR, Arg.PTR_TO_MEM_RDONLY, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING], ret: Ret.INTEGER, progTypes: ALL }, // ringbuf_output
    { id: 131, args: [Arg.CONST_MAP_PTR, Arg.CONST_ALLOC_SIZE_OR_ZERO, Arg.ANYTHING], ret: Ret.PTR_TO_RINGBUF_MEM_OR_NULL, acquire: true, progTypes: ALL }, // ringbuf_reserve
    { id: 132, args: [Arg.PTR_TO_RINGBUF_MEM, Arg.ANYTHING], ret: Ret.VOID, releaseArg: 0, progTypes: ALL }, // ringbuf_submit
    { id: 133, args: [Arg.PTR_TO_RINGBUF_MEM, Arg.ANYTHING], ret: Ret.VOID, releaseArg: 0, progTypes: ALL }, // ringbuf_discard
    // 6.18: in bpf_base_func_proto's CAP_PERFMON part, for every program type (6.12 had it
    // for tracing programs only).
    { id: 148, args: [Arg.PTR_TO_UNINIT_MEM, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING], ret: Ret.INTEGER, progTypes: ALL, cap: 'perfmon', mightSleep: true }, // copy_from_user
    { id: 160, args: [], ret: Ret.INTEGER, progTypes: NON_TRACING }, // ktime_get_coarse_ns
    // copy_from_user_task(dst, size, user_ptr, task, flags): as copy_from_user, GPL (6.18).
    { id: 191, args: [Arg.PTR_TO_UNINIT_MEM, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING, Arg.PTR_TO_BTF_ID_TASK, Arg.ANYTHING], ret: Ret.INTEGER, gplOnly: true, progTypes: ALL, cap: 'perfmon', mightSleep: true },
  ];
}
