// Context layouts per program type: which (offset, size) accesses are valid and what a load
// yields (a scalar, or a packet pointer for data/data_end/data_meta). Learnt from the
// kernel's *_is_valid_access functions for the 6.18 UAPI structs.

import { RegType, PTR_MAYBE_NULL } from '../state/types.ts';
import { NotImplementedError } from '../errors.ts';
import type { Program } from '../../program/types.ts';
import { skMsgAccess, sockOpsAccess } from './ctx-sock.ts';
import { CGROUP_CTX_CHECKS } from './ctx-cgroup.ts';
import { MISC_CTX_CHECKS } from './ctx-misc.ts';
import { hasBtfCtx, btfCtxAccess } from './ctx-btf.ts';

export interface CtxAccess {
  /** Register type a load produces (SCALAR_VALUE for plain fields). */
  readonly regType: number;
  /** PTR_TO_BTF_ID results: the vmlinux struct pointed at. */
  readonly btfStruct?: string;
  /** PTR_TO_BTF_ID results: the pointee's type id (wins over btfStruct). */
  readonly btfId?: number;
}

/** `ldsx`: a sign-extending load (BPF_MEMSX), refused on pointer-valued fields. */
type Check = (off: number, size: number, write: boolean, ldsx: boolean) => CtxAccess | undefined;

const SCALAR: CtxAccess = { regType: RegType.SCALAR_VALUE };
const PKT: CtxAccess = { regType: RegType.PTR_TO_PACKET };
const PKT_END: CtxAccess = { regType: RegType.PTR_TO_PACKET_END };
const PKT_META: CtxAccess = { regType: RegType.PTR_TO_PACKET_META };
const SOCK_COMMON_OR_NULL: CtxAccess = { regType: RegType.PTR_TO_SOCK_COMMON | PTR_MAYBE_NULL };
const TP_BUFFER: CtxAccess = { regType: RegType.PTR_TO_TP_BUFFER };

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
/** bpf_ctx_range(field): any offset inside the field. */
const skbField = (off: number, f: keyof typeof SKB, size = 4): boolean => inRange(off, SKB[f], size);
const CB_END = SKB.cb + 20;
const inFamilyToLocalPort = (off: number): boolean => off >= SKB.family && off < SKB.local_port + 4;

/** A u32 field read with a narrow load (bpf_ctx_narrow_access_ok). */
const narrowOk = (size: number, fieldSize: number): boolean => size <= fieldSize && (size & (size - 1)) === 0;

/** bpf_skb_is_valid_access: the __sk_buff layout rules every skb program type shares. */
function skbValid(off: number, size: number, write: boolean, ptr: CtxAccess | undefined, ldsx = false): CtxAccess | undefined {
  if (off < 0 || off >= SKB.end || off % size !== 0) return undefined;
  if (off >= SKB.cb && off < CB_END) return off + size > CB_END ? undefined : SCALAR;
  if (skbField(off, 'data') || skbField(off, 'data_meta') || skbField(off, 'data_end')) return size === 4 && !ldsx ? ptr ?? SCALAR : undefined;
  if (skbField(off, 'remote_ip6', 16) || skbField(off, 'local_ip6', 16) || skbField(off, 'remote_ip4') || skbField(off, 'local_ip4')) {
    return size === 4 ? SCALAR : undefined;
  }
  if (skbField(off, 'flow_keys', 8)) return undefined;
  if (skbField(off, 'hwtstamp', 8)) return !write && size === 8 ? SCALAR : undefined;
  if (skbField(off, 'tstamp', 8)) return size === 8 ? SCALAR : undefined;
  if (skbField(off, 'sk', 8)) return !write && size === 8 ? SOCK_COMMON_OR_NULL : undefined;
  // tstamp_type and the padding after it.
  if (off >= SKB.tstamp_type && off < SKB.hwtstamp) return undefined;
  if (write) return size === 4 ? SCALAR : undefined;
  return narrowOk(size, 4) ? SCALAR : undefined;
}

/** Per-type rules: fields refused outright, fields writable, and which reads give packet
 *  pointers; the rest is skbValid. */
interface SkbRules {
  readonly deny: (off: number) => boolean;
  readonly writable: (off: number) => boolean;
  readonly data?: boolean;
  readonly meta?: boolean;
  /** sched_cls: a one-byte tstamp_type read. */
  readonly tstampType?: boolean;
}

function skbCheck(r: SkbRules): Check {
  return (off, size, write, ldsx) => {
    if (r.deny(off)) return undefined;
    if (write && !r.writable(off)) return undefined;
    if (r.tstampType && off === SKB.tstamp_type) return size === 1 ? SCALAR : undefined;
    let ptr: CtxAccess | undefined;
    if (r.data && skbField(off, 'data')) ptr = PKT;
    if (r.data && skbField(off, 'data_end')) ptr = PKT_END;
    if (r.meta && skbField(off, 'data_meta')) ptr = PKT_META;
    return skbValid(off, size, write, ptr, ldsx);
  };
}

const cbOrAny = (off: number, ...fields: (keyof typeof SKB)[]): boolean =>
  (off >= SKB.cb && off < CB_END) || fields.some((f) => skbField(off, f, f === 'tstamp' ? 8 : 4));

const socketFilter = skbCheck({
  deny: (off) => skbField(off, 'tc_classid') || skbField(off, 'data') || skbField(off, 'data_meta') || skbField(off, 'data_end') ||
    inFamilyToLocalPort(off) || skbField(off, 'tstamp', 8) || skbField(off, 'wire_len') || skbField(off, 'hwtstamp', 8),
  writable: (off) => cbOrAny(off),
});

const schedCls: Check = (off, size, write, ldsx) => {
  if (write && skbField(off, 'tstamp', 8)) throw new NotImplementedError('__sk_buff->tstamp writes');
  return skbCheck({
    deny: inFamilyToLocalPort,
    writable: (o) => cbOrAny(o, 'mark', 'tc_index', 'priority', 'tc_classid', 'tstamp', 'queue_mapping'),
    data: true, meta: true, tstampType: true,
  })(off, size, write, ldsx);
};

// cgroup_skb: data/data_end need CAP_BPF (root here); tstamp writable with CAP_BPF.
const cgroupSkb = skbCheck({
  deny: (off) => skbField(off, 'tc_classid') || skbField(off, 'data_meta') || skbField(off, 'wire_len'),
  writable: (off) => cbOrAny(off, 'mark', 'priority', 'tstamp'),
  data: true,
});

const lwt = skbCheck({
  deny: (off) => skbField(off, 'tc_classid') || inFamilyToLocalPort(off) || skbField(off, 'data_meta') ||
    skbField(off, 'tstamp', 8) || skbField(off, 'wire_len') || skbField(off, 'hwtstamp', 8),
  writable: (off) => cbOrAny(off, 'mark', 'priority'),
  data: true,
});

const skSkb = skbCheck({
  deny: (off) => skbField(off, 'tc_classid') || skbField(off, 'data_meta') || skbField(off, 'tstamp', 8) ||
    skbField(off, 'wire_len') || skbField(off, 'hwtstamp', 8) || skbField(off, 'mark'),
  writable: (off) => skbField(off, 'tc_index') || skbField(off, 'priority'),
  data: true,
});

// Tracing contexts: read-only byte arrays of a fixed size (pt_regs, the tracepoint record,
// raw tracepoint arguments), accessed at offsets aligned to the access size.
const readOnlyBlob = (lo: number, hi: number, exactEnd: boolean): Check => (off, size, write) => {
  if (off < lo || off >= hi || write || off % size !== 0) return undefined;
  if (exactEnd && off + size > hi) return undefined;
  return SCALAR;
};
const PT_REGS_SIZE = 21 * 8; // x86-64 struct pt_regs
const kprobe = readOnlyBlob(0, PT_REGS_SIZE, true);
const tracepoint = readOnlyBlob(8, 8192, false); // the common header is not readable
const rawTp = readOnlyBlob(0, 12 * 8, false); // MAX_BPF_FUNC_ARGS u64 arguments
const rawTpWritable: Check = (off, size, write, ldsx) => {
  if (off === 0) return size === 8 && !write ? TP_BUFFER : undefined;
  return rawTp(off, size, write, ldsx);
};
// syscall: the user-supplied context, any aligned access below 64 KiB.
const syscall: Check = (off, size) => (off >= 0 && off < 0xffff && off % size === 0 ? SCALAR : undefined);

// struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex.
const xdp: Check = (off, size, write, ldsx) => {
  if (write) return undefined;
  if (off < 0 || off >= 24 || off % size !== 0 || size !== 4) return undefined;
  if (ldsx && off < 12) return undefined;
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
  CGROUP_SKB: cgroupSkb,
  LWT_IN: lwt,
  LWT_OUT: lwt,
  LWT_XMIT: lwt,
  SK_SKB: skSkb,
  KPROBE: kprobe,
  TRACEPOINT: tracepoint,
  RAW_TRACEPOINT: rawTp,
  RAW_TRACEPOINT_WRITABLE: rawTpWritable,
  SYSCALL: syscall,
  SK_MSG: skMsgAccess,
  SOCK_OPS: sockOpsAccess,
};

/** The access's meaning, or undefined when the kernel says `invalid bpf_context access`
 *  (`log` gets the lines some checks print before that, or along an accepted access). */
export function ctxAccess(prog: Program, off: number, size: number, write: boolean, ldsx = false, log?: (s: string) => void): CtxAccess | undefined {
  const cg = CGROUP_CTX_CHECKS[prog.progType] ?? MISC_CTX_CHECKS[prog.progType];
  if (cg) return cg(prog, off, size, write, ldsx);
  if (hasBtfCtx(prog)) return btfCtxAccess(prog, off, size, write, log);
  const c = CHECKS[prog.progType];
  if (!c) throw new NotImplementedError(`context access for ${prog.progType} programs`);
  return c(off, size, write, ldsx);
}
