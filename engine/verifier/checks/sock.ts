// Loads through socket pointers (check_sock_access): struct bpf_sock for sock and (minus a
// few fields) sock_common, struct bpf_tcp_sock, struct bpf_xdp_sock. Read only; the load
// gives an unknown scalar. Field rules learnt from net/core/filter.c *_is_valid_access.

import { RegType } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import { regTypeStr } from '../log/state-print.ts';
import { reject, EACCES } from '../reject.ts';

export const isSockPtr = (t: number): boolean =>
  t === RegType.PTR_TO_SOCKET || t === RegType.PTR_TO_SOCK_COMMON || t === RegType.PTR_TO_TCP_SOCK || t === RegType.PTR_TO_XDP_SOCK;

// struct bpf_sock layout (uapi): u32 fields, with src_ip6/dst_ip6 as u32[4] and a
// 2-byte dst_port followed by 2 bytes of padding.
const SOCK_SIZE = 80;
const SK = { type: 8, priority: 20, srcIp4: 24, srcIp6: 28, srcPort: 44, dstPort: 48, dstIp4: 52, dstIp6: 56, state: 72, rxQueueMapping: 76 } as const;
const narrowOk = (size: number, dflt: number): boolean => size <= dflt && (size & (size - 1)) === 0;

/** bpf_sock_is_valid_access. */
export function sockValid(off: number, size: number): boolean {
  if (off < 0 || off >= SOCK_SIZE || off % size !== 0) return false;
  // Fields that also allow narrow loads (the addresses: any part of the u32 field).
  const narrowField = [4, 8, 12, SK.srcPort, SK.rxQueueMapping, SK.state].includes(off) ||
    (off >= SK.srcIp4 && off < SK.srcIp4 + 4) || (off >= SK.srcIp6 && off < SK.srcIp6 + 16) ||
    (off >= SK.dstIp4 && off < SK.dstIp4 + 4) || (off >= SK.dstIp6 && off < SK.dstIp6 + 16);
  if (narrowField) return narrowOk(size, 4);
  if (off >= SK.dstPort && off < SK.dstPort + 2) return narrowOk(size, size === 4 ? 4 : 2);
  if (off >= SK.dstPort + 2 && off < SK.dstIp4) return false;
  return size === 4;
}

/** bpf_sock_common_is_valid_access: type .. priority are full-socket fields. */
const sockCommonValid = (off: number, size: number): boolean => !(off >= SK.type && off < SK.priority + 4) && sockValid(off, size);

/** bpf_tcp_sock_is_valid_access: u32 fields up to icsk_retransmits, two u64 counters. */
function tcpSockValid(off: number, size: number): boolean {
  if (off < 0 || off >= 112 || off % size !== 0) return false;
  return off === 80 || off === 88 ? size === 8 : size === 4;
}

/** bpf_xdp_sock_is_valid_access: one u32 (queue_id). */
const xdpSockValid = (off: number, size: number): boolean => off >= 0 && off < 4 && off % size === 0 && size === 4;

/** check_sock_access, after the write check of check_mem_access. */
export function checkSockAccess(reg: RegState, regno: number, off: number, size: number, write: boolean): void {
  if (write) throw reject(EACCES, `R${regno} cannot write into ${regTypeStr(reg.type)}`);
  if (reg.s.smin < 0n) throw reject(EACCES, `R${regno} min value is negative, either use unsigned index or do a if (index >=0) check.`);
  let valid = false;
  switch (reg.type) {
    case RegType.PTR_TO_SOCK_COMMON: valid = sockCommonValid(off, size); break;
    case RegType.PTR_TO_SOCKET: valid = sockValid(off, size); break;
    case RegType.PTR_TO_TCP_SOCK: valid = tcpSockValid(off, size); break;
    case RegType.PTR_TO_XDP_SOCK: valid = xdpSockValid(off, size); break;
  }
  if (!valid) throw reject(EACCES, `R${regno} invalid ${regTypeStr(reg.type)} access off=${off} size=${size}`);
}
