// Context layouts per program type: which (offset, size) accesses are valid and what a load
// yields (a scalar, or a packet pointer for data/data_end/data_meta). Learnt from the
// kernel's *_is_valid_access functions for the 6.18 UAPI structs.

import { RegType } from '../state/types.ts';
import { NotImplementedError } from '../errors.ts';
import type { Program } from '../../program/types.ts';

export interface CtxAccess {
  /** Register type a load produces (SCALAR_VALUE for plain fields). */
  readonly regType: RegType;
}

type Check = (off: number, size: number, write: boolean) => CtxAccess | undefined;

const SCALAR: CtxAccess = { regType: RegType.SCALAR_VALUE };
const PKT: CtxAccess = { regType: RegType.PTR_TO_PACKET };
const PKT_END: CtxAccess = { regType: RegType.PTR_TO_PACKET_END };
const PKT_META: CtxAccess = { regType: RegType.PTR_TO_PACKET_META };

// struct __sk_buff field offsets (6.18 UAPI).
const SKB = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24,
  vlan_proto: 28, priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68,
  tc_classid: 72, data: 76, data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96,
  remote_ip6: 100, local_ip6: 116, remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144,
  tstamp: 152, wire_len: 160, gso_segs: 164, sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184,
  end: 192,
} as const;

const inRange = (off: number, start: number, size: number): boolean => off >= start && off < start + size;

/** A u32 field read with a narrow (1, 2 or 4 byte) load at an offset inside it. */
const narrowOk = (off: number, size: number, fieldSize: number): boolean =>
  (size === 1 || size === 2 || size === 4 || size === 8) && size <= fieldSize && off % size === 0;

/** Common __sk_buff read rules (bpf_skb_is_valid_access). */
function skbCommon(off: number, size: number): CtxAccess | undefined {
  if (off < 0 || off >= SKB.end) return undefined;
  if (off % size !== 0) return undefined;
  if (off === SKB.data) return size === 4 ? PKT : undefined;
  if (off === SKB.data_end) return size === 4 ? PKT_END : undefined;
  if (off === SKB.data_meta) return size === 4 ? PKT_META : undefined;
  if (inRange(off, SKB.flow_keys, 8)) return undefined; // flow dissector only
  if (inRange(off, SKB.tstamp, 8) || inRange(off, SKB.hwtstamp, 8)) return size === 8 ? SCALAR : undefined;
  if (inRange(off, SKB.sk, 8)) throw new NotImplementedError('__sk_buff->sk (PTR_TO_SOCK_COMMON_OR_NULL)');
  if (off === SKB.tstamp_type || (off > SKB.tstamp_type && off < SKB.hwtstamp)) {
    if (off === SKB.tstamp_type && size === 1) return SCALAR;
    return undefined;
  }
  if (inRange(off, SKB.cb, 20)) return narrowOk(off - SKB.cb, size, 8) && size !== 8 ? SCALAR : size === 8 && (off - SKB.cb) % 8 === 0 ? SCALAR : undefined;
  return narrowOk(off, size, 4) ? SCALAR : undefined;
}

const socketFilter: Check = (off, size, write) => {
  if (
    inRange(off, SKB.tc_classid, 4) || inRange(off, SKB.data, 4) || inRange(off, SKB.data_meta, 4) ||
    inRange(off, SKB.data_end, 4) || (off >= SKB.family && off < SKB.local_port + 4) ||
    inRange(off, SKB.tstamp, 8) || inRange(off, SKB.wire_len, 4) || inRange(off, SKB.hwtstamp, 8)
  ) return undefined;
  if (write) return inRange(off, SKB.cb, 20) && off % size === 0 ? SCALAR : undefined;
  return skbCommon(off, size);
};

const schedCls: Check = (off, size, write) => {
  if (write) {
    const writable = inRange(off, SKB.mark, 4) || inRange(off, SKB.tc_index, 4) || inRange(off, SKB.priority, 4) ||
      inRange(off, SKB.cb, 20) || inRange(off, SKB.tc_classid, 4) || inRange(off, SKB.queue_mapping, 4);
    if (inRange(off, SKB.tstamp, 8)) throw new NotImplementedError('__sk_buff->tstamp writes');
    if (!writable) return undefined;
    return off % size === 0 ? SCALAR : undefined;
  }
  if (off >= SKB.family && off < SKB.local_port + 4) return undefined;
  return skbCommon(off, size);
};

// struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex.
const xdp: Check = (off, size, write) => {
  if (write) return undefined;
  if (off < 0 || off >= 24 || off % size !== 0 || size !== 4) return undefined;
  if (off === 0) return PKT;
  if (off === 4) return PKT_END;
  if (off === 8) return PKT_META;
  return SCALAR;
};

const CHECKS: Partial<Record<string, Check>> = {
  SOCKET_FILTER: socketFilter,
  SCHED_CLS: schedCls,
  SCHED_ACT: schedCls,
  XDP: xdp,
};

/** The access's meaning, or undefined when the kernel says `invalid bpf_context access`. */
export function ctxAccess(prog: Program, off: number, size: number, write: boolean): CtxAccess | undefined {
  const c = CHECKS[prog.progType];
  if (!c) throw new NotImplementedError(`context access for ${prog.progType} programs`);
  return c(off, size, write);
}
