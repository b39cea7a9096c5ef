// Socket helper prototypes: lookups that acquire a socket reference, the release, and the
// casts between socket pointer types (net/core/filter.c protos and *_func_proto switches).

import { Arg, Ret } from './protos.ts';
import type { HelperProto } from './protos.ts';

/** Program types whose proto switch offers the socket lookups (tc, xdp, sk_skb, cgroup_skb,
 *  sock_addr); sk_release also in sk_lookup. */
const LOOKUP_TYPES = ['SCHED_CLS', 'SCHED_ACT', 'XDP', 'SK_SKB', 'CGROUP_SKB', 'CGROUP_SOCK_ADDR'];
const FULLSOCK_TYPES = ['SCHED_CLS', 'SCHED_ACT', 'CGROUP_SKB'];
const STORAGE_TYPES = ['SCHED_CLS', 'SCHED_ACT', 'CGROUP_SKB', 'SK_MSG', 'SOCK_OPS', 'CGROUP_SOCK_ADDR'];

/** bpf_skc_to_* helper ids and the struct each returns (in the base set of every
 *  networking and tracing type for CAP_PERFMON loaders). */
const SKC_CASTS: readonly (readonly [number, string])[] = [
  [136, 'tcp6_sock'], [137, 'tcp_sock'], [138, 'tcp_timewait_sock'], [139, 'tcp_request_sock'], [140, 'udp6_sock'],
  [178, 'unix_sock'], [196, 'mptcp_sock'],
];

/** A lookup: ctx, a tuple buffer and its size, netns id, flags. */
const lookup = (id: number, ret: Ret): HelperProto => ({
  id,
  args: [Arg.PTR_TO_CTX, Arg.PTR_TO_MEM_RDONLY, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING, Arg.ANYTHING],
  ret,
  pktAccess: true,
  acquire: true,
  progTypes: LOOKUP_TYPES,
});

export function sockProtos(): readonly HelperProto[] {
  return [
    lookup(84, Ret.PTR_TO_SOCKET_OR_NULL), // sk_lookup_tcp
    lookup(85, Ret.PTR_TO_SOCKET_OR_NULL), // sk_lookup_udp
    lookup(99, Ret.PTR_TO_SOCK_COMMON_OR_NULL), // skc_lookup_tcp
    // sk_release
    { id: 86, args: [Arg.PTR_TO_BTF_ID_SOCK_COMMON], ret: Ret.INTEGER, releaseArg: 0, progTypes: [...LOOKUP_TYPES, 'SK_LOOKUP'] },
    // sk_fullsock / tcp_sock: the result is the argument seen as another type (same reference).
    { id: 95, args: [Arg.PTR_TO_SOCK_COMMON], ret: Ret.PTR_TO_SOCKET_OR_NULL, ptrCast: true, progTypes: FULLSOCK_TYPES },
    { id: 96, args: [Arg.PTR_TO_SOCK_COMMON], ret: Ret.PTR_TO_TCP_SOCK_OR_NULL, ptrCast: true, progTypes: [...FULLSOCK_TYPES, 'SOCK_OPS'] },
    // get_listener_sock: a listener is never refcounted, so no reference either way.
    { id: 98, args: [Arg.PTR_TO_SOCK_COMMON], ret: Ret.PTR_TO_SOCKET_OR_NULL, progTypes: FULLSOCK_TYPES },
    // sk_storage_get(map, sk, value or NULL, flags); the cgroup/sock variant (ctx) is not modelled.
    { id: 107, args: [Arg.CONST_MAP_PTR, Arg.PTR_TO_BTF_ID_SOCK_COMMON, Arg.PTR_TO_MAP_VALUE_OR_NULL, Arg.ANYTHING], ret: Ret.PTR_TO_MAP_VALUE_OR_NULL, progTypes: STORAGE_TYPES },
    // skc_to_*: a socket seen as a more specific kernel struct, or NULL (same reference).
    ...SKC_CASTS.map(([id, struct]): HelperProto => ({
      id, args: [Arg.PTR_TO_BTF_ID_SOCK_COMMON], ret: Ret.PTR_TO_BTF_ID_OR_NULL, retBtfStruct: struct, ptrCast: true, progTypes: '*', cap: 'perfmon',
    })),
    // sk_select_reuseport(ctx, map, key, flags)
    { id: 82, args: [Arg.PTR_TO_CTX, Arg.CONST_MAP_PTR, Arg.PTR_TO_MAP_KEY, Arg.ANYTHING], ret: Ret.INTEGER, progTypes: ['SK_REUSEPORT'] },
    // sock_map_update / sock_hash_update(ctx, map, key, flags): from sock_ops programs.
    { id: 53, args: [Arg.PTR_TO_CTX, Arg.CONST_MAP_PTR, Arg.PTR_TO_MAP_KEY, Arg.ANYTHING], ret: Ret.INTEGER, pktAccess: true, progTypes: ['SOCK_OPS'] },
    { id: 70, args: [Arg.PTR_TO_CTX, Arg.CONST_MAP_PTR, Arg.PTR_TO_MAP_KEY, Arg.ANYTHING], ret: Ret.INTEGER, pktAccess: true, progTypes: ['SOCK_OPS'] },
  ];
}
