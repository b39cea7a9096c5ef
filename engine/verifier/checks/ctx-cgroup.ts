// Context layouts of the cgroup hooks other than cgroup_skb: cgroup/sock (struct bpf_sock),
// cgroup/sock_addr (struct bpf_sock_addr), cgroup/sockopt (struct bpf_sockopt),
// cgroup/sysctl (struct bpf_sysctl) and cgroup/dev (struct bpf_cgroup_dev_ctx), 6.18 UAPI
// offsets. Which fields exist and which are writable depends on the expected attach type.
// Learnt from sock_filter_is_valid_access, sock_addr_is_valid_access,
// cg_sockopt_is_valid_access, sysctl_is_valid_access and cgroup_dev_is_valid_access.

import { RegType } from '../state/types.ts';
import type { Program } from '../../program/types.ts';
import type { CtxAccess } from './ctx.ts';
import { sockValid } from './sock.ts';

const SCALAR: CtxAccess = { regType: RegType.SCALAR_VALUE };
const SOCKET: CtxAccess = { regType: RegType.PTR_TO_SOCKET };
const within = (off: number, start: number, len: number): boolean => off >= start && off < start + len;
/** bpf_ctx_narrow_access_ok for a u32 field. */
const narrow32 = (size: number): boolean => size <= 4 && (size & (size - 1)) === 0;

type Check = (prog: Program, off: number, size: number, write: boolean, ldsx?: boolean) => CtxAccess | undefined;

// --- cgroup/sock: struct bpf_sock ---
const SK = { boundDevIf: 0, mark: 16, priority: 20, srcIp4: 24, srcIp6: 28, srcPort: 44 } as const;

/** The load turns a missing (0: CGROUP_INET_INGRESS) expected attach type into sock_create. */
const sockAttach = (prog: Program): string => {
  const a = prog.expectedAttachType ?? 'CGROUP_INET_INGRESS';
  return a === 'CGROUP_INET_INGRESS' ? 'CGROUP_INET_SOCK_CREATE' : a;
};

const cgroupSock: Check = (prog, off, size, write) => {
  if (!sockValid(off, size)) return undefined;
  const attach = sockAttach(prog);
  if (off === SK.boundDevIf || off === SK.mark || off === SK.priority) {
    // Only socket creation and release may set these (and read them).
    return attach === 'CGROUP_INET_SOCK_CREATE' || attach === 'CGROUP_INET_SOCK_RELEASE' ? SCALAR : undefined;
  }
  if (within(off, SK.srcIp4, 4) && attach !== 'CGROUP_INET4_POST_BIND') return undefined;
  if (within(off, SK.srcIp6, 16) && attach !== 'CGROUP_INET6_POST_BIND') return undefined;
  if (within(off, SK.srcPort, 4) && attach !== 'CGROUP_INET4_POST_BIND' && attach !== 'CGROUP_INET6_POST_BIND') return undefined;
  return write ? undefined : SCALAR;
};

// --- cgroup/sock_addr: struct bpf_sock_addr ---
const SA = { userFamily: 0, userIp4: 4, userIp6: 8, userPort: 24, family: 28, type: 32, protocol: 36, msgSrcIp4: 40, msgSrcIp6: 44, sk: 64, end: 72 } as const;
const V4_ADDR = ['CGROUP_INET4_BIND', 'CGROUP_INET4_CONNECT', 'CGROUP_INET4_GETPEERNAME', 'CGROUP_INET4_GETSOCKNAME', 'CGROUP_UDP4_SENDMSG', 'CGROUP_UDP4_RECVMSG'];
const V6_ADDR = ['CGROUP_INET6_BIND', 'CGROUP_INET6_CONNECT', 'CGROUP_INET6_GETPEERNAME', 'CGROUP_INET6_GETSOCKNAME', 'CGROUP_UDP6_SENDMSG', 'CGROUP_UDP6_RECVMSG'];

/** An aligned u64 load or store inside a u32[4] address (bpf_ctx_wide_access_ok). */
const wide = (off: number, size: number, start: number): boolean => size === 8 && off >= start && off + 8 <= start + 16 && off % 8 === 0;

const sockAddr: Check = (prog, off, size, write) => {
  if (off < 0 || off >= SA.end || off % size !== 0) return undefined;
  const attach = prog.expectedAttachType ?? '';
  // Address fields exist only for the attach type's family (and direction).
  if (within(off, SA.userIp4, 4) && !V4_ADDR.includes(attach)) return undefined;
  if (within(off, SA.userIp6, 16) && !V6_ADDR.includes(attach)) return undefined;
  if (within(off, SA.msgSrcIp4, 4) && attach !== 'CGROUP_UDP4_SENDMSG') return undefined;
  if (within(off, SA.msgSrcIp6, 16) && attach !== 'CGROUP_UDP6_SENDMSG') return undefined;
  if (within(off, SA.userIp4, 4) || within(off, SA.userIp6, 16) || within(off, SA.msgSrcIp4, 4) || within(off, SA.msgSrcIp6, 16) || within(off, SA.userPort, 4)) {
    if (wide(off, size, SA.userIp6) || wide(off, size, SA.msgSrcIp6)) return SCALAR;
    if (write) return size === 4 ? SCALAR : undefined;
    return narrow32(size) ? SCALAR : undefined;
  }
  if (within(off, SA.sk, 8)) return !write && size === 8 ? SOCKET : undefined;
  if (within(off, SA.userFamily, 4) || within(off, SA.family, 4) || within(off, SA.type, 4) || within(off, SA.protocol, 4)) {
    return !write && size === 4 ? SCALAR : undefined;
  }
  return undefined;
};

// --- cgroup/{get,set}sockopt: struct bpf_sockopt ---
const SO = { sk: 0, optval: 8, optvalEnd: 16, level: 24, optname: 28, optlen: 32, retval: 36, end: 40 } as const;

const sockopt: Check = (prog, off, size, write) => {
  if (off < 0 || off >= SO.end || off % size !== 0) return undefined;
  const attach = prog.expectedAttachType ?? '';
  if (write) {
    if (off === SO.retval) return size === 4 && attach === 'CGROUP_GETSOCKOPT' ? SCALAR : undefined;
    if (off === SO.optname || off === SO.level) return size === 4 && attach === 'CGROUP_SETSOCKOPT' ? SCALAR : undefined;
    if (off === SO.optlen) return size === 4 ? SCALAR : undefined;
    return undefined;
  }
  if (within(off, SO.sk, 8)) return size === 8 ? SOCKET : undefined;
  if (within(off, SO.optval, 8)) return size === 8 ? { regType: RegType.PTR_TO_PACKET } : undefined;
  if (within(off, SO.optvalEnd, 8)) return size === 8 ? { regType: RegType.PTR_TO_PACKET_END } : undefined;
  if (within(off, SO.retval, 4)) return size === 4 && attach === 'CGROUP_GETSOCKOPT' ? SCALAR : undefined;
  return size === 4 ? SCALAR : undefined;
};

// --- cgroup/sysctl: struct bpf_sysctl { u32 write; u32 file_pos; } ---
const sysctl: Check = (_prog, off, size, write) => {
  if (off < 0 || off + size > 8 || off % size !== 0) return undefined;
  if (off < 4) return !write && narrow32(size) ? SCALAR : undefined;
  if (write) return size === 4 ? SCALAR : undefined;
  return narrow32(size) ? SCALAR : undefined;
};

// --- cgroup/dev: struct bpf_cgroup_dev_ctx { u32 access_type, major, minor; } ---
const cgroupDev: Check = (_prog, off, size, write) => {
  if (write || off < 0 || off + size > 12 || off % size !== 0) return undefined;
  if (off < 4) return narrow32(size) ? SCALAR : undefined;
  return size === 4 ? SCALAR : undefined;
};

export const CGROUP_CTX_CHECKS: Readonly<Record<string, Check>> = {
  CGROUP_SOCK: cgroupSock,
  CGROUP_SOCK_ADDR: sockAddr,
  CGROUP_SOCKOPT: sockopt,
  CGROUP_SYSCTL: sysctl,
  CGROUP_DEVICE: cgroupDev,
};
