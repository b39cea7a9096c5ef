// SEC() names -> program type, expected attach type and implied prog flags, the way libbpf's
// section table resolves them (tools/lib/bpf/libbpf.c section_defs; 6.12 plus the 6.14
// uprobe.session entries, unchanged through 6.18).
//
// Matching: an entry ending in '+' matches the exact name or `name/anything`; one ending in
// '/' needs the `/anything` part; any other entry must match exactly. The first entry that
// matches wins, so the order of the table matters. A leading '?' (autoload off) is not part
// of the name.

import { PROG_FLAGS, type ProgType } from './types.ts';

/** libbpf's per-section behaviour bits that change what is loaded. */
interface SecDef {
  readonly sec: string;
  readonly progType: ProgType;
  /** enum bpf_attach_type name without BPF_ (undefined = 0 / not set). */
  readonly attach?: string;
  /** BPF_F_SLEEPABLE is added. */
  readonly sleepable?: boolean;
  /** For XDP: BPF_F_XDP_HAS_FRAGS is added. */
  readonly frags?: boolean;
  /** The part after '/' names the BTF attach target (fentry/..., lsm/..., ...). */
  readonly attachBtf?: boolean;
}

const D = (
  sec: string,
  progType: ProgType,
  attach?: string,
  extra: Omit<SecDef, 'sec' | 'progType' | 'attach'> = {},
): SecDef => ({ sec, progType, ...(attach ? { attach } : {}), ...extra });
const S = { sleepable: true } as const;
const BTF = { attachBtf: true } as const;
const BTF_S = { attachBtf: true, sleepable: true } as const;

export const SECTION_DEFS: readonly SecDef[] = [
  D('socket', 'SOCKET_FILTER'),
  D('sk_reuseport/migrate', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT_OR_MIGRATE'),
  D('sk_reuseport', 'SK_REUSEPORT', 'SK_REUSEPORT_SELECT'),
  D('kprobe+', 'KPROBE'),
  D('uprobe+', 'KPROBE'),
  D('uprobe.s+', 'KPROBE', undefined, S),
  D('kretprobe+', 'KPROBE'),
  D('uretprobe+', 'KPROBE'),
  D('uretprobe.s+', 'KPROBE', undefined, S),
  D('kprobe.multi+', 'KPROBE', 'TRACE_KPROBE_MULTI'),
  D('kretprobe.multi+', 'KPROBE', 'TRACE_KPROBE_MULTI'),
  D('kprobe.session+', 'KPROBE', 'TRACE_KPROBE_SESSION'),
  D('uprobe.multi+', 'KPROBE', 'TRACE_UPROBE_MULTI'),
  D('uretprobe.multi+', 'KPROBE', 'TRACE_UPROBE_MULTI'),
  D('uprobe.session+', 'KPROBE', 'TRACE_UPROBE_SESSION'),
  D('uprobe.multi.s+', 'KPROBE', 'TRACE_UPROBE_MULTI', S),
  D('uretprobe.multi.s+', 'KPROBE', 'TRACE_UPROBE_MULTI', S),
  D('uprobe.session.s+', 'KPROBE', 'TRACE_UPROBE_SESSION', S),
  D('ksyscall+', 'KPROBE'),
  D('kretsyscall+', 'KPROBE'),
  // usdt: libbpf switches the attach type to UPROBE_MULTI on kernels with uprobe-multi links.
  D('usdt+', 'KPROBE', 'TRACE_UPROBE_MULTI'),
  D('usdt.s+', 'KPROBE', 'TRACE_UPROBE_MULTI', S),
  D('tc/ingress', 'SCHED_CLS', 'TCX_INGRESS'),
  D('tc/egress', 'SCHED_CLS', 'TCX_EGRESS'),
  D('tcx/ingress', 'SCHED_CLS', 'TCX_INGRESS'),
  D('tcx/egress', 'SCHED_CLS', 'TCX_EGRESS'),
  D('tc', 'SCHED_CLS'),
  D('classifier', 'SCHED_CLS'),
  D('action', 'SCHED_ACT'),
  D('netkit/primary', 'SCHED_CLS', 'NETKIT_PRIMARY'),
  D('netkit/peer', 'SCHED_CLS', 'NETKIT_PEER'),
  D('tracepoint+', 'TRACEPOINT'),
  D('tp+', 'TRACEPOINT'),
  D('raw_tracepoint+', 'RAW_TRACEPOINT'),
  D('raw_tp+', 'RAW_TRACEPOINT'),
  D('raw_tracepoint.w+', 'RAW_TRACEPOINT_WRITABLE'),
  D('raw_tp.w+', 'RAW_TRACEPOINT_WRITABLE'),
  D('tp_btf+', 'TRACING', 'TRACE_RAW_TP', BTF),
  D('fentry+', 'TRACING', 'TRACE_FENTRY', BTF),
  D('fmod_ret+', 'TRACING', 'MODIFY_RETURN', BTF),
  D('fexit+', 'TRACING', 'TRACE_FEXIT', BTF),
  D('fentry.s+', 'TRACING', 'TRACE_FENTRY', BTF_S),
  D('fmod_ret.s+', 'TRACING', 'MODIFY_RETURN', BTF_S),
  D('fexit.s+', 'TRACING', 'TRACE_FEXIT', BTF_S),
  D('freplace+', 'EXT', undefined, BTF),
  D('lsm+', 'LSM', 'LSM_MAC', BTF),
  D('lsm.s+', 'LSM', 'LSM_MAC', BTF_S),
  D('lsm_cgroup+', 'LSM', 'LSM_CGROUP', BTF),
  D('iter+', 'TRACING', 'TRACE_ITER', BTF),
  D('iter.s+', 'TRACING', 'TRACE_ITER', BTF_S),
  D('syscall', 'SYSCALL', undefined, S),
  D('xdp.frags/devmap', 'XDP', 'XDP_DEVMAP', { frags: true }),
  D('xdp/devmap', 'XDP', 'XDP_DEVMAP'),
  D('xdp.frags/cpumap', 'XDP', 'XDP_CPUMAP', { frags: true }),
  D('xdp/cpumap', 'XDP', 'XDP_CPUMAP'),
  D('xdp.frags', 'XDP', 'XDP', { frags: true }),
  D('xdp', 'XDP', 'XDP'),
  D('perf_event', 'PERF_EVENT'),
  D('lwt_in', 'LWT_IN'),
  D('lwt_out', 'LWT_OUT'),
  D('lwt_xmit', 'LWT_XMIT'),
  D('lwt_seg6local', 'LWT_SEG6LOCAL'),
  D('sockops', 'SOCK_OPS', 'CGROUP_SOCK_OPS'),
  D('sk_skb/stream_parser', 'SK_SKB', 'SK_SKB_STREAM_PARSER'),
  D('sk_skb/stream_verdict', 'SK_SKB', 'SK_SKB_STREAM_VERDICT'),
  D('sk_skb/verdict', 'SK_SKB', 'SK_SKB_VERDICT'),
  D('sk_skb', 'SK_SKB'),
  D('sk_msg', 'SK_MSG', 'SK_MSG_VERDICT'),
  D('lirc_mode2', 'LIRC_MODE2', 'LIRC_MODE2'),
  D('flow_dissector', 'FLOW_DISSECTOR', 'FLOW_DISSECTOR'),
  D('cgroup_skb/ingress', 'CGROUP_SKB', 'CGROUP_INET_INGRESS'),
  D('cgroup_skb/egress', 'CGROUP_SKB', 'CGROUP_INET_EGRESS'),
  D('cgroup/skb', 'CGROUP_SKB'),
  D('cgroup/sock_create', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE'),
  D('cgroup/sock_release', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_RELEASE'),
  D('cgroup/sock', 'CGROUP_SOCK', 'CGROUP_INET_SOCK_CREATE'),
  D('cgroup/post_bind4', 'CGROUP_SOCK', 'CGROUP_INET4_POST_BIND'),
  D('cgroup/post_bind6', 'CGROUP_SOCK', 'CGROUP_INET6_POST_BIND'),
  D('cgroup/bind4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_BIND'),
  D('cgroup/bind6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_BIND'),
  D('cgroup/connect4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_CONNECT'),
  D('cgroup/connect6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_CONNECT'),
  D('cgroup/connect_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_CONNECT'),
  D('cgroup/sendmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_SENDMSG'),
  D('cgroup/sendmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_SENDMSG'),
  D('cgroup/sendmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_SENDMSG'),
  D('cgroup/recvmsg4', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP4_RECVMSG'),
  D('cgroup/recvmsg6', 'CGROUP_SOCK_ADDR', 'CGROUP_UDP6_RECVMSG'),
  D('cgroup/recvmsg_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_RECVMSG'),
  D('cgroup/getpeername4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETPEERNAME'),
  D('cgroup/getpeername6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETPEERNAME'),
  D('cgroup/getpeername_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETPEERNAME'),
  D('cgroup/getsockname4', 'CGROUP_SOCK_ADDR', 'CGROUP_INET4_GETSOCKNAME'),
  D('cgroup/getsockname6', 'CGROUP_SOCK_ADDR', 'CGROUP_INET6_GETSOCKNAME'),
  D('cgroup/getsockname_unix', 'CGROUP_SOCK_ADDR', 'CGROUP_UNIX_GETSOCKNAME'),
  D('cgroup/sysctl', 'CGROUP_SYSCTL', 'CGROUP_SYSCTL'),
  D('cgroup/getsockopt', 'CGROUP_SOCKOPT', 'CGROUP_GETSOCKOPT'),
  D('cgroup/setsockopt', 'CGROUP_SOCKOPT', 'CGROUP_SETSOCKOPT'),
  D('cgroup/dev', 'CGROUP_DEVICE', 'CGROUP_DEVICE'),
  D('struct_ops+', 'STRUCT_OPS'),
  D('struct_ops.s+', 'STRUCT_OPS', undefined, S),
  D('sk_lookup', 'SK_LOOKUP', 'SK_LOOKUP'),
  D('netfilter', 'NETFILTER', 'NETFILTER'),
];

/** What a section name resolves to. */
export interface SectionInfo {
  /** The name without a leading '?'. */
  readonly name: string;
  /** A '?' prefix: autoload off (test_loader overrides autoload, so it has no effect there). */
  readonly noAutoload: boolean;
  readonly progType: ProgType;
  readonly expectedAttachType?: string;
  /** fentry/lsm/... target: the text after the first '/'. */
  readonly attachTo?: string;
  /** BPF_F_SLEEPABLE / BPF_F_XDP_HAS_FRAGS implied by the section. */
  readonly flags: number;
  /** The table entry that matched, e.g. "kprobe+". */
  readonly def: string;
}

function defMatches(def: string, name: string): boolean {
  if (def.endsWith('/')) return name.startsWith(def);
  if (def.endsWith('+')) {
    const base = def.slice(0, -1);
    return name.startsWith(base) && (name.length === base.length || name[base.length] === '/');
  }
  return name === def;
}

/** Resolve a SEC() name; undefined when libbpf would not know it. */
export function resolveSection(section: string): SectionInfo | undefined {
  const noAutoload = section.startsWith('?');
  const name = noAutoload ? section.slice(1) : section;
  const def = SECTION_DEFS.find((d) => defMatches(d.sec, name));
  if (!def) return undefined;
  let flags = 0;
  if (def.sleepable) flags |= PROG_FLAGS.BPF_F_SLEEPABLE;
  if (def.frags) flags |= PROG_FLAGS.BPF_F_XDP_HAS_FRAGS;
  const slash = name.indexOf('/');
  const attachTo = def.attachBtf && slash >= 0 ? name.slice(slash + 1) : undefined;
  return {
    name,
    noAutoload,
    progType: def.progType,
    ...(def.attach ? { expectedAttachType: def.attach } : {}),
    ...(attachTo ? { attachTo } : {}),
    flags,
    def: def.sec,
  };
}
