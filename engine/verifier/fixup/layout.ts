// 6.18 x86-64 kernel struct offsets the rewrites bake into the program (context field loads,
// inlined map lookups). Read from the running kernel's BTF (/sys/kernel/btf/vmlinux); the
// test test/verifier-xlated-layout.test.ts checks every entry against it when available.
// Paths name nested members with dots; `bit` entries are bitfield byte positions the kernel
// reaches through a marker member (e.g. __pkt_type_offset).

export interface KField {
  readonly struct: string;
  /** Member path inside `struct`, dots for nesting (anonymous members are looked through). */
  readonly path: string;
  readonly off: number;
  /** Load width in bytes (8 for pointers). */
  readonly size: number;
}

const k = (struct: string, path: string, off: number, size: number): KField => ({ struct, path, off, size });

/** 6.18: struct sk_buff and what hangs off it. */
export const SK_BUFF = {
  len: k('sk_buff', 'len', 112, 4),
  protocol: k('sk_buff', 'protocol', 176, 2),
  vlan_proto: k('sk_buff', 'vlan_proto', 152, 2),
  priority: k('sk_buff', 'priority', 140, 4),
  skb_iif: k('sk_buff', 'skb_iif', 144, 4),
  dev: k('sk_buff', 'dev', 16, 8),
  hash: k('sk_buff', 'hash', 148, 4),
  mark: k('sk_buff', 'mark', 164, 4),
  pkt_type_offset: k('sk_buff', '__pkt_type_offset', 128, 1),
  queue_mapping: k('sk_buff', 'queue_mapping', 124, 2),
  vlan_all: k('sk_buff', 'vlan_all', 152, 4),
  vlan_tci: k('sk_buff', 'vlan_tci', 154, 2),
  cb: k('sk_buff', 'cb', 40, 1),
  data: k('sk_buff', 'data', 200, 8),
  tc_index: k('sk_buff', 'tc_index', 132, 2),
  napi_id: k('sk_buff', 'napi_id', 156, 4),
  sk: k('sk_buff', 'sk', 24, 8),
  tstamp: k('sk_buff', 'tstamp', 32, 8),
  cloned_offset: k('sk_buff', '__cloned_offset', 126, 1),
  mono_tc_offset: k('sk_buff', '__mono_tc_offset', 129, 1),
  end: k('sk_buff', 'end', 188, 4),
  head: k('sk_buff', 'head', 192, 8),
} as const;

export const NET_DEVICE_IFINDEX = k('net_device', 'ifindex', 224, 4);

export const QDISC_SKB_CB = {
  pkt_len: k('qdisc_skb_cb', 'pkt_len', 0, 4),
  tc_classid: k('qdisc_skb_cb', 'tc_classid', 6, 2),
  data: k('qdisc_skb_cb', 'data', 8, 1),
} as const;

export const BPF_SKB_DATA_END = {
  data_meta: k('bpf_skb_data_end', 'data_meta', 32, 8),
  data_end: k('bpf_skb_data_end', 'data_end', 40, 8),
} as const;

export const SOCK_COMMON = {
  skc_daddr: k('sock_common', 'skc_daddr', 0, 4),
  skc_rcv_saddr: k('sock_common', 'skc_rcv_saddr', 4, 4),
  skc_dport: k('sock_common', 'skc_dport', 12, 2),
  skc_num: k('sock_common', 'skc_num', 14, 2),
  skc_family: k('sock_common', 'skc_family', 16, 2),
  skc_v6_daddr: k('sock_common', 'skc_v6_daddr', 56, 4),
  skc_v6_rcv_saddr: k('sock_common', 'skc_v6_rcv_saddr', 72, 4),
} as const;

export const SKB_SHARED_INFO = {
  gso_size: k('skb_shared_info', 'gso_size', 4, 2),
  gso_segs: k('skb_shared_info', 'gso_segs', 6, 2),
  hwtstamps: k('skb_shared_info', 'hwtstamps', 16, 8),
} as const;

export const XDP_BUFF = {
  data: k('xdp_buff', 'data', 0, 8),
  data_end: k('xdp_buff', 'data_end', 8, 8),
  data_meta: k('xdp_buff', 'data_meta', 16, 8),
  rxq: k('xdp_buff', 'rxq', 32, 8),
  txq: k('xdp_buff', 'txq', 40, 8),
} as const;

export const XDP_RXQ_INFO = {
  dev: k('xdp_rxq_info', 'dev', 0, 8),
  queue_index: k('xdp_rxq_info', 'queue_index', 8, 4),
} as const;

export const XDP_TXQ_INFO_DEV = k('xdp_txq_info', 'dev', 0, 8);

/** Map internals used by inlined lookups. */
export const MAPS = {
  array_value: k('bpf_array', 'value', 312, 8),
  array_pptrs: k('bpf_array', 'pptrs', 312, 8),
  htab_elem_key: k('htab_elem', 'key', 48, 1),
  /** The LRU node's `ref` byte inside an element (lru_node is in an anonymous union). */
  htab_elem_lru_ref: k('htab_elem', 'lru_node.ref', 35, 1),
} as const;

/** Bit masks inside the sk_buff flag bytes (little-endian bitfields, 6.18). */
export const SKB_BITS = {
  PKT_TYPE_MAX: 7,
  CLONED_MASK: 1,
  TC_AT_INGRESS_MASK: 1 << 2,
  SKB_TSTAMP_TYPE_MASK: 3,
} as const;

/** Every entry, for the BTF check. */
export const ALL_FIELDS: readonly KField[] = [
  ...Object.values(SK_BUFF), NET_DEVICE_IFINDEX, ...Object.values(QDISC_SKB_CB), ...Object.values(BPF_SKB_DATA_END),
  ...Object.values(SOCK_COMMON), ...Object.values(SKB_SHARED_INFO), ...Object.values(XDP_BUFF), ...Object.values(XDP_RXQ_INFO),
  XDP_TXQ_INFO_DEV, ...Object.values(MAPS),
];
