// convert_ctx_accesses: loads and stores through the context pointer name fields of the UAPI
// struct (__sk_buff, xdp_md); the kernel rewrites each into accesses of the real object
// (struct sk_buff, xdp_buff) at 6.18 offsets (layout.ts). Narrow reads of a 4-byte field are
// widened first and masked/shifted back after; sign-extending reads get a movsx.
// Modelled for socket_filter, cgroup_skb, lwt_*, sched_cls/act and xdp; other types with
// context accesses report the rewrite as not modelled.
// tc programs that write packet data get the "unclone" prologue.

import type { RawSlot } from '../../isa/insn.ts';
import {
  BPF_ALU, BPF_ALU64, BPF_AND, BPF_B, BPF_CALL, BPF_DW, BPF_EXIT, BPF_H, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JMP,
  BPF_JMP32, BPF_JSET, BPF_K, BPF_LDX, BPF_LSH, BPF_MEM, BPF_MEMSX, BPF_MOV, BPF_RSH, BPF_ST, BPF_STX, BPF_W,
  BPF_X, BPF_XOR, BPF_ADD, bpfClass, bpfMode, bpfSize, sizeBytes,
} from '../../isa/opcodes.ts';
import { RegType } from '../state/types.ts';
import { NotImplementedError } from '../errors.ts';
import type { XProg } from './xprog.ts';
import {
  BPF_SKB_DATA_END, NET_DEVICE_IFINDEX, QDISC_SKB_CB, SKB_BITS, SKB_SHARED_INFO, SK_BUFF, SOCK_COMMON, XDP_BUFF,
  XDP_RXQ_INFO, XDP_TXQ_INFO_DEV, type KField,
} from './layout.ts';
import { BPF_REG_AX } from './zext.ts';

const raw = (code: number, dst: number, src: number, off: number, imm: number): RawSlot => ({ code, dst, src, off, imm });
const SIZE_CODE: Record<number, number> = { 1: BPF_B, 2: BPF_H, 4: BPF_W, 8: BPF_DW };
const ldx = (size: number, dst: number, src: number, off: number): RawSlot => raw(BPF_LDX | BPF_MEM | SIZE_CODE[size], dst, src, off, 0);
const ldxf = (dst: number, src: number, f: KField): RawSlot => ldx(f.size, dst, src, f.off);
const alu32 = (op: number, dst: number, imm: number): RawSlot => raw(BPF_ALU | op | BPF_K, dst, 0, 0, imm);
const alu64 = (op: number, dst: number, imm: number): RawSlot => raw(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm);
const jmpImm = (op: number, dst: number, imm: number, off: number): RawSlot => raw(BPF_JMP | op | BPF_K, dst, 0, off, imm);
const ja = (off: number): RawSlot => raw(BPF_JMP | BPF_JA, 0, 0, off, 0);

/** __sk_buff field offsets (UAPI). */
const SKB = {
  len: 0, pkt_type: 4, mark: 8, queue_mapping: 12, protocol: 16, vlan_present: 20, vlan_tci: 24, vlan_proto: 28,
  priority: 32, ingress_ifindex: 36, ifindex: 40, tc_index: 44, cb: 48, hash: 68, tc_classid: 72, data: 76,
  data_end: 80, napi_id: 84, family: 88, remote_ip4: 92, local_ip4: 96, remote_ip6: 100, local_ip6: 116,
  remote_port: 132, local_port: 136, data_meta: 140, flow_keys: 144, tstamp: 152, wire_len: 160, gso_segs: 164,
  sk: 168, gso_size: 176, tstamp_type: 180, hwtstamp: 184,
} as const;

/** MIN_NAPI_ID = NR_CPUS + 1: 257 on the reference 6.18 config (seen live). */
const MIN_NAPI_ID = 257;
/** NO_QUEUE_MAPPING: stores of this value or more are dropped. */
const NO_QUEUE_MAPPING = 0xffff;

interface Converted {
  readonly insns: RawSlot[];
  /** Width of the kernel field read (0 when the access is not a plain field). */
  readonly targetSize: number;
}

type Converter = (write: boolean, si: RawSlot, tstampTypeAccess: boolean) => Converted;

/** A store keeping the original class (STX or ST), registers and immediate. */
const store = (si: RawSlot, size: number, off: number): RawSlot =>
  raw(bpfClass(si.code) | SIZE_CODE[size] | BPF_MEM, si.dst, si.src, off, si.imm);

/** Load or store of one same-shaped field. */
function plain(write: boolean, si: RawSlot, f: KField): Converted {
  return { insns: [write ? store(si, f.size, f.off) : ldxf(si.dst, si.src, f)], targetSize: f.size };
}

/** dst = skb_shinfo(skb) (head + end: 64-bit kernels keep `end` as an offset). */
const shinfo = (dst: number, skb: number): RawSlot[] => [
  ldxf(BPF_REG_AX, skb, SK_BUFF.end),
  ldxf(dst, skb, SK_BUFF.head),
  raw(BPF_ALU64 | BPF_ADD | BPF_X, dst, BPF_REG_AX, 0, 0),
];

const skbConvert: Converter = (write, si, tstampTypeAccess) => {
  const d = si.dst;
  const s = si.src;
  const off = si.off;
  const within = (start: number, len: number): boolean => off >= start && off < start + len;
  const viaSk = (f: KField, extra = 0): Converted => ({ insns: [ldxf(d, s, SK_BUFF.sk), ldx(f.size, d, d, f.off + extra)], targetSize: f.size });
  if (within(SKB.cb, 20)) {
    const o = off - SKB.cb + SK_BUFF.cb.off + QDISC_SKB_CB.data.off;
    const size = sizeBytes(bpfSize(si.code));
    return { insns: [write ? store(si, size, o) : ldx(size, d, s, o)], targetSize: 0 };
  }
  if (within(SKB.remote_ip6, 16)) return viaSk(SOCK_COMMON.skc_v6_daddr, off - SKB.remote_ip6);
  if (within(SKB.local_ip6, 16)) return viaSk(SOCK_COMMON.skc_v6_rcv_saddr, off - SKB.local_ip6);
  switch (off) {
    case SKB.len: return plain(false, si, SK_BUFF.len);
    case SKB.protocol: return plain(false, si, SK_BUFF.protocol);
    case SKB.vlan_proto: return plain(false, si, SK_BUFF.vlan_proto);
    case SKB.priority: return plain(write, si, SK_BUFF.priority);
    case SKB.ingress_ifindex: return plain(false, si, SK_BUFF.skb_iif);
    case SKB.ifindex:
      return { insns: [ldxf(d, s, SK_BUFF.dev), jmpImm(BPF_JEQ, d, 0, 1), ldxf(d, d, NET_DEVICE_IFINDEX)], targetSize: 4 };
    case SKB.hash: return plain(false, si, SK_BUFF.hash);
    case SKB.mark: return plain(write, si, SK_BUFF.mark);
    case SKB.pkt_type:
      return { insns: [ldxf(d, s, SK_BUFF.pkt_type_offset), alu32(BPF_AND, d, SKB_BITS.PKT_TYPE_MAX)], targetSize: 1 };
    case SKB.queue_mapping: {
      if (!write) return plain(false, si, SK_BUFF.queue_mapping);
      if (bpfClass(si.code) === BPF_ST && si.imm >= NO_QUEUE_MAPPING) return { insns: [ja(0)], targetSize: 2 };
      const out: RawSlot[] = [];
      if (bpfClass(si.code) === BPF_STX) out.push(jmpImm(BPF_JGE, si.src, NO_QUEUE_MAPPING, 1));
      out.push(store(si, 2, SK_BUFF.queue_mapping.off));
      return { insns: out, targetSize: 2 };
    }
    case SKB.vlan_present:
      return { insns: [ldxf(d, s, SK_BUFF.vlan_all), jmpImm(BPF_JEQ, d, 0, 1), alu32(BPF_MOV, d, 1)], targetSize: 4 };
    case SKB.vlan_tci: return plain(false, si, SK_BUFF.vlan_tci);
    case SKB.tc_classid: {
      const o = SK_BUFF.cb.off + QDISC_SKB_CB.tc_classid.off;
      return { insns: [write ? store(si, 2, o) : ldx(2, d, s, o)], targetSize: 2 };
    }
    case SKB.data: return plain(false, si, SK_BUFF.data);
    case SKB.data_meta:
      return { insns: [ldx(8, d, s, SK_BUFF.cb.off + BPF_SKB_DATA_END.data_meta.off)], targetSize: 0 };
    case SKB.data_end:
      return { insns: [ldx(8, d, s, SK_BUFF.cb.off + BPF_SKB_DATA_END.data_end.off)], targetSize: 0 };
    case SKB.tc_index: return plain(write, si, SK_BUFF.tc_index);
    case SKB.napi_id:
      return { insns: [ldxf(d, s, SK_BUFF.napi_id), jmpImm(BPF_JGE, d, MIN_NAPI_ID, 1), alu64(BPF_MOV, d, 0)], targetSize: 4 };
    case SKB.family: return viaSk(SOCK_COMMON.skc_family);
    case SKB.remote_ip4: return viaSk(SOCK_COMMON.skc_daddr);
    case SKB.local_ip4: return viaSk(SOCK_COMMON.skc_rcv_saddr);
    case SKB.remote_port: {
      const c = viaSk(SOCK_COMMON.skc_dport);
      return { insns: [...c.insns, alu32(BPF_LSH, d, 16)], targetSize: 2 };
    }
    case SKB.local_port: return viaSk(SOCK_COMMON.skc_num);
    case SKB.tstamp: return { insns: write ? tstampWrite(si, tstampTypeAccess) : tstampRead(si, tstampTypeAccess), targetSize: 0 };
    case SKB.tstamp_type:
      return { insns: [ldxf(d, s, SK_BUFF.mono_tc_offset), alu32(BPF_AND, d, SKB_BITS.SKB_TSTAMP_TYPE_MASK)], targetSize: 0 };
    case SKB.gso_segs: return { insns: [...shinfo(d, s), ldxf(d, d, SKB_SHARED_INFO.gso_segs)], targetSize: 2 };
    case SKB.gso_size: return { insns: [...shinfo(d, s), ldxf(d, d, SKB_SHARED_INFO.gso_size)], targetSize: 2 };
    case SKB.wire_len:
      return { insns: [ldx(4, d, s, SK_BUFF.cb.off + QDISC_SKB_CB.pkt_len.off)], targetSize: 4 };
    case SKB.sk: return { insns: [ldxf(d, s, SK_BUFF.sk)], targetSize: 0 };
    case SKB.hwtstamp: return { insns: [...shinfo(d, s), ldxf(d, d, SKB_SHARED_INFO.hwtstamps)], targetSize: 8 };
    default:
      throw new NotImplementedError(`context rewrite of __sk_buff offset ${off}`);
  }
};

/** skb->tstamp read: unless the program also reads tstamp_type, a delivery time seen at
 *  tc ingress reads as 0. */
function tstampRead(si: RawSlot, typeAccess: boolean): RawSlot[] {
  const out: RawSlot[] = [];
  if (!typeAccess) {
    out.push(
      ldxf(BPF_REG_AX, si.src, SK_BUFF.mono_tc_offset),
      raw(BPF_JMP32 | BPF_JSET | BPF_K, BPF_REG_AX, 0, 1, SKB_BITS.TC_AT_INGRESS_MASK),
      ja(4),
      raw(BPF_JMP32 | BPF_JSET | BPF_K, BPF_REG_AX, 0, 1, SKB_BITS.SKB_TSTAMP_TYPE_MASK),
      ja(2),
      alu64(BPF_MOV, si.dst, 0),
      ja(1),
    );
  }
  out.push(ldxf(si.dst, si.src, SK_BUFF.tstamp));
  return out;
}

function tstampWrite(si: RawSlot, typeAccess: boolean): RawSlot[] {
  const out: RawSlot[] = [];
  if (!typeAccess) {
    out.push(
      ldxf(BPF_REG_AX, si.dst, SK_BUFF.mono_tc_offset),
      raw(BPF_JMP32 | BPF_JSET | BPF_K, BPF_REG_AX, 0, 1, SKB_BITS.TC_AT_INGRESS_MASK),
      ja(2),
      alu32(BPF_AND, BPF_REG_AX, ~SKB_BITS.SKB_TSTAMP_TYPE_MASK),
      raw(BPF_STX | BPF_B | BPF_MEM, si.dst, BPF_REG_AX, SK_BUFF.mono_tc_offset.off, 0),
    );
  }
  out.push(raw(bpfClass(si.code) | BPF_DW | BPF_MEM, si.dst, si.src, SK_BUFF.tstamp.off, si.imm));
  return out;
}

const xdpConvert: Converter = (_write, si) => {
  const d = si.dst;
  const s = si.src;
  switch (si.off) {
    case 0: return { insns: [ldxf(d, s, XDP_BUFF.data)], targetSize: 0 };
    case 4: return { insns: [ldxf(d, s, XDP_BUFF.data_end)], targetSize: 0 };
    case 8: return { insns: [ldxf(d, s, XDP_BUFF.data_meta)], targetSize: 0 };
    case 12: return { insns: [ldxf(d, s, XDP_BUFF.rxq), ldxf(d, d, XDP_RXQ_INFO.dev), ldxf(d, d, NET_DEVICE_IFINDEX)], targetSize: 0 };
    case 16: return { insns: [ldxf(d, s, XDP_BUFF.rxq), ldxf(d, d, XDP_RXQ_INFO.queue_index)], targetSize: 0 };
    case 20: return { insns: [ldxf(d, s, XDP_BUFF.txq), ldxf(d, d, XDP_TXQ_INFO_DEV), ldxf(d, d, NET_DEVICE_IFINDEX)], targetSize: 0 };
    default:
      throw new NotImplementedError(`context rewrite of xdp_md offset ${si.off}`);
  }
};

/** The field size the access check records for a read (ctx_field_size): 4 for the plain u32
 *  fields of __sk_buff, 0 where the kernel records none (cb, packet pointers, 8-byte fields). */
function skbCtxFieldSize(off: number, write: boolean): number {
  if (write) return 0;
  if (off >= SKB.cb && off < SKB.cb + 20) return 0;
  if (off === SKB.data || off === SKB.data_end || off === SKB.data_meta) return 0;
  if ((off >= SKB.tstamp && off < SKB.tstamp + 8) || (off >= SKB.hwtstamp && off < SKB.hwtstamp + 8)) return 0;
  if (off >= SKB.sk && off < SKB.sk + 8) return 0;
  return 4;
}

interface CtxOps {
  readonly convert: Converter;
  readonly fieldSize: (off: number, write: boolean) => number;
  /** tc: the drop verdict returned when unclone fails (TC_ACT_SHOT). */
  readonly uncloneVerdict?: number;
}

/** tc reads skb->dev->ifindex without the NULL check (a tc skb always has a device). */
const tcConvert: Converter = (write, si, tstampTypeAccess) =>
  si.off === SKB.ifindex
    ? { insns: [ldxf(si.dst, si.src, SK_BUFF.dev), ldxf(si.dst, si.dst, NET_DEVICE_IFINDEX)], targetSize: 4 }
    : skbConvert(write, si, tstampTypeAccess);

const SKB_OPS: CtxOps = { convert: skbConvert, fieldSize: skbCtxFieldSize };
/** TC_ACT_SHOT for tc; lwt_xmit reuses the tc prologue (BPF_DROP has the same value, 2). */
const TC_OPS: CtxOps = { convert: tcConvert, fieldSize: skbCtxFieldSize, uncloneVerdict: 2 };
const CTX_OPS: Partial<Record<string, CtxOps>> = {
  SOCKET_FILTER: SKB_OPS,
  CGROUP_SKB: SKB_OPS,
  LWT_IN: SKB_OPS,
  LWT_OUT: SKB_OPS,
  LWT_XMIT: { ...SKB_OPS, uncloneVerdict: 2 },
  SCHED_CLS: TC_OPS,
  SCHED_ACT: TC_OPS,
  XDP: { convert: xdpConvert, fieldSize: () => 0 },
};

const isLoad = (code: number): boolean =>
  bpfClass(code) === BPF_LDX && (bpfMode(code) === BPF_MEM || (bpfMode(code) === BPF_MEMSX && bpfSize(code) !== BPF_DW));
const isStore = (code: number): boolean => (bpfClass(code) === BPF_STX || bpfClass(code) === BPF_ST) && bpfMode(code) === BPF_MEM;

/** The unclone prologue: a tc program that writes packet data first makes sure the skb is
 *  not shared (bpf_skb_pull_data), dropping the packet if that fails. */
function uncloneProlog(first: RawSlot, verdict: number): RawSlot[] {
  return [
    ldxf(6, 1, SK_BUFF.cloned_offset),
    alu32(BPF_AND, 6, SKB_BITS.CLONED_MASK),
    jmpImm(BPF_JEQ, 6, 0, 7),
    raw(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0),
    raw(BPF_ALU64 | BPF_XOR | BPF_X, 2, 2, 0, 0),
    raw(BPF_JMP | BPF_CALL, 0, 0, 0, 39), // bpf_skb_pull_data
    jmpImm(BPF_JEQ, 0, 0, 2),
    alu32(BPF_MOV, 0, verdict),
    raw(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
    raw(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0),
    first,
  ];
}

export function convertCtxAccesses(x: XProg, progType: string): void {
  // Loads through socket pointers are rewritten to the kernel's struct sock layout too.
  const SOCK_PTRS: readonly number[] = [RegType.PTR_TO_SOCKET, RegType.PTR_TO_SOCK_COMMON, RegType.PTR_TO_TCP_SOCK, RegType.PTR_TO_XDP_SOCK];
  if (x.aux.some((a) => a.ptrType !== undefined && SOCK_PTRS.includes(a.ptrType))) {
    throw new NotImplementedError('context rewrites for socket pointers (sock, sock_common, tcp_sock, xdp_sock)');
  }
  const ops = CTX_OPS[progType];
  // raw_tracepoint(_writable)_verifier_ops have no convert_ctx_access: u64 loads stay as is.
  if (!ops && (progType === 'RAW_TRACEPOINT' || progType === 'RAW_TRACEPOINT_WRITABLE')) return;
  if (!ops) {
    if (x.aux.some((a) => a.ptrType === RegType.PTR_TO_CTX)) throw new NotImplementedError(`context rewrites for ${progType} programs`);
    return;
  }
  const directWrite = x.aux.some((a, i) => a.ptrType === RegType.PTR_TO_PACKET && isStore(x.slots[i].code));
  if (ops.uncloneVerdict !== undefined && directWrite) x.patch(0, uncloneProlog(x.slots[0], ops.uncloneVerdict));
  // Reading tstamp_type anywhere makes tstamp reads/writes plain.
  const tstampTypeAccess = x.aux.some((a, i) => a.ptrType === RegType.PTR_TO_CTX && isLoad(x.slots[i].code) && x.slots[i].off === SKB.tstamp_type);

  for (let i = 0; i < x.len; i++) {
    const insn = x.slots[i];
    if (x.aux[i].ptrType !== RegType.PTR_TO_CTX) continue;
    const read = isLoad(insn.code);
    if (!read && !isStore(insn.code)) continue;
    const fieldSize = ops.fieldSize(insn.off, !read);
    const size = sizeBytes(bpfSize(insn.code));
    const narrow = size < fieldSize;
    let si = insn;
    if (narrow) si = { ...insn, off: insn.off & ~(fieldSize - 1), code: BPF_LDX | BPF_MEM | SIZE_CODE[fieldSize] };
    const c = ops.convert(!read, si, tstampTypeAccess);
    const out = [...c.insns];
    if (narrow && size < c.targetSize) {
      const shift = (insn.off & (fieldSize - 1)) * 8;
      if (fieldSize <= 4) {
        if (shift) out.push(alu32(BPF_RSH, insn.dst, shift));
        out.push(alu32(BPF_AND, insn.dst, size === 4 ? -1 : (1 << (size * 8)) - 1));
      } else {
        if (shift) out.push(alu64(BPF_RSH, insn.dst, shift));
        out.push(alu32(BPF_AND, insn.dst, size === 4 ? -1 : (1 << (size * 8)) - 1));
      }
    }
    if (bpfMode(insn.code) === BPF_MEMSX) out.push(raw(BPF_ALU64 | BPF_MOV | BPF_X, insn.dst, insn.dst, size * 8, 0));
    x.patch(i, out);
    i += out.length - 1;
  }
}
