// The context a test run hands a program, shaped like the 6.18 kernel's BPF_PROG_TEST_RUN
// for the skb-based types and XDP. Field values were confirmed against the live 6.18 kernel
// (test/fixtures/runtime-ctx-kernel.json, recorded by scripts/record-ctx-oracle.ts): on a
// 64-byte zero packet len is 50 for socket filter / cgroup_skb (Ethernet header pulled) and
// 64 for tc, protocol 0x0400, ifindex 1 (loopback), every other readable field 0; XDP sees
// data_end - data = 64, data_meta = data, ingress_ifindex 1.

import type { ProgType } from '../program/types.ts';
import type { Machine } from './machine.ts';
import { type Region, regionLo } from './memory.ts';

/** struct __sk_buff field offsets (6.18 uapi). */
export const SKB = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24,
  vlan_proto: 28, priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68,
  tc_classid: 72, data: 76, data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96,
  remote_ip6: 100, local_ip6: 116, remote_port: 132, local_port: 136, data_meta: 140,
  flow_keys: 144, tstamp: 152, wire_len: 160, gso_segs: 164, sk: 168, gso_size: 176,
  tstamp_type: 180, hwtstamp: 184,
} as const;
export const SKB_SIZE = 192;

/** struct xdp_md field offsets (6.18 uapi). */
export const XDP_MD = { data: 0, data_end: 4, data_meta: 8, ingress_ifindex: 12, rx_queue_index: 16, egress_ifindex: 20 } as const;
export const XDP_MD_SIZE = 24;

/** Where the test run's packet starts in its buffer (6.18 XDP_PACKET_HEADROOM). */
export const XDP_PACKET_HEADROOM = 256;
export const ETH_HLEN = 14;
/** The loopback device the kernel's test run attaches skbs to. */
export const LOOPBACK_IFINDEX = 1;
/** eth_type_trans() on an all-zero header yields htons(ETH_P_802_2), 0x0400 as read. */
const PROTO_802_2 = 0x0400;

/** Fields of __sk_buff a test run's ctx_in may set (the rest must be zero in the kernel). */
const SKB_CTX_IN_FIELDS: readonly [number, number][] = [
  [SKB.mark, 4], [SKB.priority, 4], [SKB.ingress_ifindex, 4], [SKB.ifindex, 4], [SKB.cb, 20],
  [SKB.tstamp, 8], [SKB.wire_len, 4], [SKB.gso_segs, 4], [SKB.gso_size, 4], [SKB.hwtstamp, 8],
];

/** struct sk_buff as BTF-typed accesses see it (6.18 vmlinux BTF): a netfilter ctx's skb. */
export const SK_BUFF = { size: 224, len: 112, data_len: 116, head: 192, data: 200 } as const;
/** struct nf_hook_state (6.18): u8 hook, u8 pf, then pointers. */
export const NF_HOOK_STATE = { size: 48, hook: 0, pf: 1 } as const;
/** A netfilter test run's hook and family when ctx_in gives none (NF_INET_LOCAL_OUT, IPv4). */
const NF_INET_LOCAL_OUT = 3, NFPROTO_IPV4 = 2;

export type CtxKind = 'skb' | 'xdp' | 'netfilter' | 'raw';

export function ctxKind(t: ProgType): CtxKind {
  switch (t) {
    case 'SOCKET_FILTER': case 'SCHED_CLS': case 'SCHED_ACT': case 'CGROUP_SKB':
    case 'LWT_IN': case 'LWT_OUT': case 'LWT_XMIT': case 'LWT_SEG6LOCAL':
      return 'skb';
    case 'XDP':
      return 'xdp';
    case 'NETFILTER':
      return 'netfilter';
    default:
      return 'raw';
  }
}

/** Types whose test run hands the program the frame from the Ethernet header on. */
const isL2 = (t: ProgType): boolean => t === 'SCHED_CLS' || t === 'SCHED_ACT';

export interface BuiltContext {
  /** r1 at entry, as (hi, lo). */
  readonly r1: { hi: number; lo: number };
  /** The packet after the run, as data_out. */
  dataOut(): Uint8Array | undefined;
}

/** Point register words at byte `off` of a region. */
const ptr = (r: Region, off: number): { hi: number; lo: number } => ({ hi: r.hi, lo: regionLo(off) });

export function buildContext(m: Machine, progType: ProgType, data: Uint8Array, ctxIn?: Uint8Array): BuiltContext {
  const kind = ctxKind(progType);
  if (kind === 'skb') return buildSkb(m, progType, data, ctxIn);
  if (kind === 'xdp') return buildXdp(m, data, ctxIn);
  if (kind === 'netfilter') return buildNetfilter(m, data);
  if (!ctxIn) return { r1: { hi: 0, lo: 0 }, dataOut: () => undefined };
  const r = m.space.add('ctx', Uint8Array.from(ctxIn));
  m.ctxRegion = r;
  return { r1: ptr(r, 0), dataOut: () => undefined };
}

function buildSkb(m: Machine, t: ProgType, data: Uint8Array, ctxIn?: Uint8Array): BuiltContext {
  const pkt = m.space.add('packet', Uint8Array.from(data));
  // The kernel pulls the Ethernet header for non-L2 types: skb->data is the network header.
  const dataOff = isL2(t) ? 0 : Math.min(ETH_HLEN, data.length);
  const len = data.length - dataOff;
  m.skb = { region: pkt, dataOff, len, netOff: ETH_HLEN - dataOff, macOff: -dataOff };

  const bytes = new Uint8Array(SKB_SIZE);
  const v = new DataView(bytes.buffer);
  v.setUint32(SKB.len, len, true);
  v.setUint32(SKB.protocol, PROTO_802_2, true);
  v.setUint32(SKB.ifindex, LOOPBACK_IFINDEX, true);
  if (ctxIn) {
    const inView = new DataView(ctxIn.buffer, ctxIn.byteOffset, ctxIn.byteLength);
    for (const [off, size] of SKB_CTX_IN_FIELDS) {
      if (off + size <= ctxIn.length) bytes.set(ctxIn.subarray(off, off + size), off);
    }
    if (ctxIn.length >= SKB.ifindex + 4 && inView.getUint32(SKB.ifindex, true) === 0) {
      v.setUint32(SKB.ifindex, LOOPBACK_IFINDEX, true);
    }
  }
  const ctx = m.space.add('ctx', bytes);
  m.ctxRegion = ctx;
  // Read through m.skb: helpers that grow the packet (bpf_skb_change_head) replace it.
  ctx.special = {
    load(off, size, L, H, d) {
      const skb = m.skb;
      if (size !== 4 || !skb) return false;
      let p: { hi: number; lo: number };
      if (off === SKB.data || off === SKB.data_meta) p = ptr(skb.region, skb.dataOff);
      else if (off === SKB.data_end) p = ptr(skb.region, skb.dataOff + skb.len);
      else return false;
      L[d] = p.lo; H[d] = p.hi;
      return true;
    },
  };
  return { r1: ptr(ctx, 0), dataOut: () => (m.skb ?? { region: pkt }).region.bytes.slice() };
}

/** BPF_PROG_TEST_RUN of a netfilter program: ctx is struct bpf_nf_ctx { state, skb }, the
 *  hook NF_INET_LOCAL_OUT for IPv4, and the skb the data as is (no Ethernet header pulled). */
function buildNetfilter(m: Machine, data: Uint8Array): BuiltContext {
  const pkt = m.space.add('packet', Uint8Array.from(data));
  m.skb = { region: pkt, dataOff: 0, len: data.length, netOff: 0, macOff: 0 };
  const skbBytes = new Uint8Array(SK_BUFF.size);
  const sv = new DataView(skbBytes.buffer);
  sv.setUint32(SK_BUFF.len, data.length, true);
  for (const off of [SK_BUFF.head, SK_BUFF.data]) {
    sv.setUint32(off, regionLo(0), true);
    sv.setUint32(off + 4, pkt.hi, true);
  }
  const skb = m.space.add('sk_buff', skbBytes, false);
  const stateBytes = new Uint8Array(NF_HOOK_STATE.size);
  stateBytes[NF_HOOK_STATE.hook] = NF_INET_LOCAL_OUT;
  stateBytes[NF_HOOK_STATE.pf] = NFPROTO_IPV4;
  const state = m.space.add('nf_hook_state', stateBytes, false);
  const ctxBytes = new Uint8Array(16);
  const cv = new DataView(ctxBytes.buffer);
  cv.setUint32(0, regionLo(0), true); cv.setUint32(4, state.hi, true);
  cv.setUint32(8, regionLo(0), true); cv.setUint32(12, skb.hi, true);
  const ctx = m.space.add('ctx', ctxBytes, false);
  m.ctxRegion = ctx;
  return { r1: ptr(ctx, 0), dataOut: () => pkt.bytes.slice() };
}

function buildXdp(m: Machine, data: Uint8Array, ctxIn?: Uint8Array): BuiltContext {
  const buf = new Uint8Array(XDP_PACKET_HEADROOM + data.length + 256);
  buf.set(data, XDP_PACKET_HEADROOM);
  const pkt = m.space.add('packet', buf);
  const x = { region: pkt, data: XDP_PACKET_HEADROOM, dataEnd: XDP_PACKET_HEADROOM + data.length, dataMeta: XDP_PACKET_HEADROOM };
  m.xdp = x;
  const bytes = new Uint8Array(XDP_MD_SIZE);
  const v = new DataView(bytes.buffer);
  v.setUint32(XDP_MD.ingress_ifindex, LOOPBACK_IFINDEX, true);
  if (ctxIn) {
    // ctx_in may carry ingress_ifindex and rx_queue_index.
    if (ctxIn.length >= 16) bytes.set(ctxIn.subarray(12, 16), 12);
    if (ctxIn.length >= 20) bytes.set(ctxIn.subarray(16, 20), 16);
  }
  const ctx = m.space.add('ctx', bytes);
  m.ctxRegion = ctx;
  ctx.special = {
    load(off, size, L, H, d) {
      if (size !== 4 || off > XDP_MD.data_meta || off % 4 !== 0) return false;
      const at = off === XDP_MD.data ? x.data : off === XDP_MD.data_end ? x.dataEnd : x.dataMeta;
      L[d] = regionLo(at); H[d] = pkt.hi;
      return true;
    },
  };
  return { r1: ptr(ctx, 0), dataOut: () => pkt.bytes.slice(x.data, x.dataEnd) };
}
