// Context layouts of the socket-level program types: sk_msg (struct sk_msg_md) and sock_ops
// (struct bpf_sock_ops), 6.18 UAPI offsets. Learnt from sk_msg_is_valid_access and
// sock_ops_is_valid_access.

import { RegType, PTR_MAYBE_NULL } from '../state/types.ts';
import type { CtxAccess } from './ctx.ts';

const SCALAR: CtxAccess = { regType: RegType.SCALAR_VALUE };
const PKT: CtxAccess = { regType: RegType.PTR_TO_PACKET };
const PKT_END: CtxAccess = { regType: RegType.PTR_TO_PACKET_END };

const within = (off: number, start: number, len: number): boolean => off >= start && off < start + len;

// struct sk_msg_md: data, data_end (8-byte pointers), then u32 fields, then sk.
const MSG = { data: 0, data_end: 8, family: 16, remote_ip6: 28, local_ip6: 44, size: 68, sk: 72, end: 80 } as const;

/** sk_msg: read-only; pointers are whole 8-byte loads, the other fields whole u32 loads. */
export function skMsgAccess(off: number, size: number, write: boolean): CtxAccess | undefined {
  if (write || off < 0 || off >= MSG.end || off % size !== 0) return undefined;
  if (within(off, MSG.data, 8)) return size === 8 ? PKT : undefined;
  if (within(off, MSG.data_end, 8)) return size === 8 ? PKT_END : undefined;
  // The socket is always there for sk_msg (never NULL).
  if (within(off, MSG.sk, 8)) return size === 8 ? { regType: RegType.PTR_TO_SOCKET } : undefined;
  if (off >= MSG.family && off < MSG.size + 4) return size === 4 ? SCALAR : undefined;
  return undefined;
}

// struct bpf_sock_ops: op, the args/reply union (20 bytes), u32 fields up to sk_txhash, two
// u64 counters, then sk, skb_data, skb_data_end pointers, skb_len, skb_tcp_flags, skb_hwtstamp.
const OPS = {
  reply: 4, sk_txhash: 164, bytes_received: 168, sk: 184, skb_data: 192, skb_data_end: 200,
  skb_tcp_flags: 212, skb_hwtstamp: 216, end: 224,
} as const;

/** sock_ops: only reply and sk_txhash are writable; sk may be NULL (not a full socket). */
export function sockOpsAccess(off: number, size: number, write: boolean): CtxAccess | undefined {
  if (off < 0 || off >= OPS.end || off % size !== 0) return undefined;
  if (write) return (off === OPS.reply || off === OPS.sk_txhash) && size === 4 ? SCALAR : undefined;
  if (within(off, OPS.bytes_received, 16)) return size === 8 ? SCALAR : undefined;
  if (within(off, OPS.sk, 8)) return size === 8 ? { regType: RegType.PTR_TO_SOCKET | PTR_MAYBE_NULL } : undefined;
  if (within(off, OPS.skb_data, 8)) return size === 8 ? PKT : undefined;
  if (within(off, OPS.skb_data_end, 8)) return size === 8 ? PKT_END : undefined;
  if (off === OPS.skb_tcp_flags) return size <= 4 && (size & (size - 1)) === 0 ? SCALAR : undefined;
  if (within(off, OPS.skb_hwtstamp, 8)) return size === 8 ? SCALAR : undefined;
  return size === 4 ? SCALAR : undefined;
}
