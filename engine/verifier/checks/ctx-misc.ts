// Context layouts of perf_event (struct bpf_perf_event_data: pt_regs, then u64
// sample_period and addr), flow_dissector (a few __sk_buff fields: the packet and the flow
// keys pointer), sk_lookup (struct bpf_sk_lookup), sk_reuseport (struct sk_reuseport_md)
// and netfilter (struct bpf_nf_ctx: two kernel pointers),
// 6.18 UAPI offsets, and loads/stores through the flow keys pointer (struct
// bpf_flow_keys). Learnt from pe_prog_is_valid_access, flow_dissector_is_valid_access,
// sk_lookup_is_valid_access, sk_reuseport_is_valid_access and check_flow_keys_access.

import { RegType, PTR_MAYBE_NULL, PTR_TRUSTED } from '../state/types.ts';
import type { Program } from '../../program/types.ts';
import { reject, EACCES } from '../reject.ts';
import type { CtxAccess } from './ctx.ts';

const SCALAR: CtxAccess = { regType: RegType.SCALAR_VALUE };

type Check = (prog: Program, off: number, size: number, write: boolean, ldsx: boolean) => CtxAccess | undefined;

const PT_REGS_SIZE = 168; // x86-64 struct pt_regs
const PERF_EVENT_DATA_SIZE = PT_REGS_SIZE + 16;

/** perf_event: read only; sample_period and addr also take narrow loads, the registers
 *  only whole u64 loads. */
const perfEvent: Check = (_prog, off, size, write) => {
  if (off < 0 || off >= PERF_EVENT_DATA_SIZE || write || off % size !== 0) return undefined;
  if (off >= PT_REGS_SIZE) return size <= 8 && (size & (size - 1)) === 0 ? SCALAR : undefined;
  return size === 8 ? SCALAR : undefined;
};

const SKB_DATA = 76;
const SKB_DATA_END = 80;
const SKB_FLOW_KEYS = 144;
const SKB_SIZE = 192;

/** flow_dissector: read only; data/data_end as whole u32 loads (not sign-extended), the
 *  flow keys as a whole u64 load. */
const flowDissector: Check = (_prog, off, size, write, ldsx) => {
  if (off < 0 || off >= SKB_SIZE || off % size !== 0 || write) return undefined;
  if (off >= SKB_DATA && off < SKB_DATA + 4) return !ldsx && size === 4 ? { regType: RegType.PTR_TO_PACKET } : undefined;
  if (off >= SKB_DATA_END && off < SKB_DATA_END + 4) return !ldsx && size === 4 ? { regType: RegType.PTR_TO_PACKET_END } : undefined;
  if (off >= SKB_FLOW_KEYS && off < SKB_FLOW_KEYS + 8) return size === 8 ? { regType: RegType.PTR_TO_FLOW_KEYS } : undefined;
  return undefined;
};

const narrowOk = (size: number, fieldSize: number): boolean => size <= fieldSize && (size & (size - 1)) === 0;

// struct bpf_sk_lookup: sk (u64), u32 fields, a 2-byte remote_port with 2 bytes of padding.
const LK = { family: 8, remotePort: 36, localIp4: 40, ingressIfindex: 64 } as const;

/** sk_lookup: read only; the selected socket may be NULL. */
const skLookup: Check = (_prog, off, size, write) => {
  if (off < 0 || off >= 72 || off % size !== 0 || write) return undefined;
  if (off < 8) return size === 8 ? { regType: RegType.PTR_TO_SOCKET | PTR_MAYBE_NULL } : undefined;
  if (off >= LK.remotePort && off < LK.remotePort + 2) return size === 4 || narrowOk(size, 2) ? SCALAR : undefined;
  if (off >= LK.remotePort + 2 && off < LK.localIp4) return narrowOk(size, 2) ? SCALAR : undefined;
  if (off >= LK.family && off < LK.ingressIfindex + 4) return narrowOk(size, 4) ? SCALAR : undefined;
  return undefined;
};

// struct sk_reuseport_md: data, data_end (u64), len, eth_protocol, ip_protocol, bind_inany,
// hash (u32), then sk and migrating_sk (u64).
const RP = { data: 0, dataEnd: 8, len: 16, ethProtocol: 20, hash: 32, sk: 40, migratingSk: 48, end: 56 } as const;

/** sk_reuseport: read only; narrow loads of the u32 fields but hash (eth_protocol at least
 *  two bytes, the width of skb->protocol). */
const skReuseport: Check = (_prog, off, size, write) => {
  if (off < 0 || off >= RP.end || off % size !== 0 || write) return undefined;
  switch (off) {
    case RP.data: return size === 8 ? { regType: RegType.PTR_TO_PACKET } : undefined;
    case RP.dataEnd: return size === 8 ? { regType: RegType.PTR_TO_PACKET_END } : undefined;
    case RP.hash: return size === 4 ? SCALAR : undefined;
    case RP.sk: return size === 8 ? { regType: RegType.PTR_TO_SOCKET } : undefined;
    case RP.migratingSk: return size === 8 ? { regType: RegType.PTR_TO_SOCK_COMMON | PTR_MAYBE_NULL } : undefined;
  }
  if (off >= RP.ethProtocol && off < RP.ethProtocol + 4 && size < 2) return undefined;
  if (off >= RP.len && off < RP.hash) return narrowOk(size, 4) ? SCALAR : undefined;
  return undefined;
};

/** netfilter: struct bpf_nf_ctx { const struct nf_hook_state *state; struct sk_buff *skb; },
 *  read only, each a whole u64 load giving a trusted kernel pointer. */
const netfilter: Check = (_prog, off, size, write) => {
  if (off < 0 || off >= 16 || write) return undefined;
  if (size !== 8 || off % 8 !== 0) return undefined;
  return { regType: RegType.PTR_TO_BTF_ID | PTR_TRUSTED, btfStruct: off === 0 ? 'nf_hook_state' : 'sk_buff' };
};

export const MISC_CTX_CHECKS: Readonly<Record<string, Check>> = {
  NETFILTER: netfilter,
  PERF_EVENT: perfEvent,
  FLOW_DISSECTOR: flowDissector,
  SK_LOOKUP: skLookup,
  SK_REUSEPORT: skReuseport,
};

const FLOW_KEYS_SIZE = 56;

/** check_flow_keys_access: inside struct bpf_flow_keys. */
export function checkFlowKeysAccess(off: number, size: number): void {
  if (size < 0 || off < 0 || off + size > FLOW_KEYS_SIZE) throw reject(EACCES, `invalid access to flow keys off=${off} size=${size}`);
}
