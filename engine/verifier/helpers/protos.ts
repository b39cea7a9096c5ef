// Helper prototypes (struct bpf_func_proto), for the helpers this model supports: argument
// kinds, return kind, and which program types may call them. Learnt from the kernel's
// *_proto definitions and *_func_proto switches; extend per helper as needed.

export const enum Arg {
  DONTCARE = 0,
  ANYTHING,
  CONST_MAP_PTR,
  PTR_TO_MAP_KEY,
  PTR_TO_MAP_VALUE,
  PTR_TO_CTX,
  /** Readable memory of the size given by the next argument. */
  PTR_TO_MEM_RDONLY,
  /** The same, or NULL (with a zero size). */
  PTR_TO_MEM_RDONLY_OR_NULL,
  /** Writable memory of the size given by the next argument (may be uninitialised). */
  PTR_TO_UNINIT_MEM,
  CONST_SIZE,
  CONST_SIZE_OR_ZERO,
}

export const enum Ret {
  INTEGER,
  VOID,
  PTR_TO_MAP_VALUE_OR_NULL,
}

export interface HelperProto {
  readonly id: number;
  readonly args: readonly Arg[];
  readonly ret: Ret;
  readonly gplOnly?: boolean;
  /** May take packet pointers (fn->pkt_access). */
  readonly pktAccess?: boolean;
  /** Program types beyond the base set that may call it ('*' = all). */
  readonly progTypes: readonly string[] | '*';
}

const ALL = '*' as const;
const SKB_TYPES = ['SOCKET_FILTER', 'SCHED_CLS', 'SCHED_ACT', 'CGROUP_SKB', 'LWT_IN', 'LWT_OUT', 'LWT_XMIT', 'SK_SKB'];
const TRACING = ['KPROBE', 'TRACEPOINT', 'PERF_EVENT', 'RAW_TRACEPOINT', 'RAW_TRACEPOINT_WRITABLE', 'TRACING', 'LSM'];

const PROTOS: readonly HelperProto[] = [
  { id: 1, args: [Arg.CONST_MAP_PTR, Arg.PTR_TO_MAP_KEY], ret: Ret.PTR_TO_MAP_VALUE_OR_NULL, pktAccess: true, progTypes: ALL },
  { id: 2, args: [Arg.CONST_MAP_PTR, Arg.PTR_TO_MAP_KEY, Arg.PTR_TO_MAP_VALUE, Arg.ANYTHING], ret: Ret.INTEGER, pktAccess: true, progTypes: ALL },
  { id: 3, args: [Arg.CONST_MAP_PTR, Arg.PTR_TO_MAP_KEY], ret: Ret.INTEGER, pktAccess: true, progTypes: ALL },
  { id: 5, args: [], ret: Ret.INTEGER, progTypes: ALL }, // ktime_get_ns
  { id: 7, args: [], ret: Ret.INTEGER, progTypes: ALL }, // get_prandom_u32
  { id: 8, args: [], ret: Ret.INTEGER, progTypes: ALL }, // get_smp_processor_id
  { id: 14, args: [], ret: Ret.INTEGER, progTypes: ALL }, // get_current_pid_tgid (6.18: base proto)
  { id: 26, args: [Arg.PTR_TO_CTX, Arg.ANYTHING, Arg.PTR_TO_UNINIT_MEM, Arg.CONST_SIZE], ret: Ret.INTEGER, progTypes: SKB_TYPES },
  { id: 42, args: [], ret: Ret.INTEGER, progTypes: ALL }, // get_numa_node_id
  { id: 118, args: [], ret: Ret.INTEGER, progTypes: ALL }, // jiffies64
  { id: 125, args: [], ret: Ret.INTEGER, progTypes: ALL }, // ktime_get_boot_ns
];

const BY_ID = new Map(PROTOS.map((p) => [p.id, p]));

export const helperProto = (id: number): HelperProto | undefined => BY_ID.get(id);

/** Arguments a helper takes (for liveness); 5 when unknown, as a call may read r1..r5. */
export function helperArgCount(id: number): number {
  const p = BY_ID.get(id);
  return p ? p.args.length : 5;
}

export const helperAllowed = (p: HelperProto, progType: string): boolean => p.progTypes === ALL || p.progTypes.includes(progType);
