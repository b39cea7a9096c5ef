// Socket and netns cookies, socket uid: helpers taking the program's context, offered by
// the socket-facing program types' proto switches (as the live 6.18 kernel answers them).
// The tracing flavour of get_socket_cookie (a BTF socket pointer) is not modelled.

import { Arg, Ret } from './protos.ts';
import type { HelperProto } from './protos.ts';

const SKB = ['SOCKET_FILTER', 'SCHED_CLS', 'SCHED_ACT', 'CGROUP_SKB'];
const SOCK_CTX = ['CGROUP_SOCK', 'CGROUP_SOCK_ADDR', 'SOCK_OPS'];

export function cookieProtos(): readonly HelperProto[] {
  return [
    { id: 46, args: [Arg.PTR_TO_CTX], ret: Ret.INTEGER, progTypes: [...SKB, 'SK_SKB', ...SOCK_CTX] }, // get_socket_cookie
    { id: 47, args: [Arg.PTR_TO_CTX], ret: Ret.INTEGER, progTypes: [...SKB, 'SK_SKB'] }, // get_socket_uid
    { id: 122, args: [Arg.PTR_TO_CTX_OR_NULL], ret: Ret.INTEGER, progTypes: [...SKB, ...SOCK_CTX, 'SK_MSG', 'CGROUP_SOCKOPT'] }, // get_netns_cookie
  ];
}
