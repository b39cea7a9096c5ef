// Helper prototypes (struct bpf_func_proto), for the helpers this model supports: argument
// kinds, return kind, and which program types may call them. Learnt from the kernel's
// *_proto definitions and *_func_proto switches; extend per helper as needed.

import { sockProtos } from './sock.ts';
import { miscProtos } from './misc.ts';
import { pktProtos } from './pkt.ts';
import { btfPtrProtos } from './btf-ptr.ts';
import { callbackProtos } from './callback.ts';
import { cookieProtos } from './cookie.ts';
import { stringProtos } from './strings.ts';
import { seqProtos } from './seq.ts';

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
  /** Any socket pointer type (sock_types). */
  PTR_TO_SOCK_COMMON,
  /** A full socket only (fullsock_types). */
  PTR_TO_SOCKET,
  /** Socket pointer types or a BTF pointer to sock_common (btf_id_sock_common_types). */
  PTR_TO_BTF_ID_SOCK_COMMON,
  /** A map value holding a struct bpf_spin_lock at the pointed offset. */
  PTR_TO_SPIN_LOCK,
  /** Memory a ringbuf reserve returned. */
  PTR_TO_RINGBUF_MEM,
  /** A known constant size that also sizes the returned memory. */
  CONST_ALLOC_SIZE_OR_ZERO,
  /** A map value of the map's value size, or NULL. */
  PTR_TO_MAP_VALUE_OR_NULL,
  /** Memory read for the size given by the next argument (ARG_PTR_TO_MEM: no rdonly). */
  PTR_TO_MEM,
  /** A callback: a PTR_TO_FUNC from ld_imm64 BPF_PSEUDO_FUNC (calls/callback.ts). */
  PTR_TO_FUNC,
  /** A stack pointer, or NULL (a callback's context; no size is checked). */
  PTR_TO_STACK_OR_NULL,
  /** A BTF pointer to struct task_struct (arg_btf_id = task). */
  PTR_TO_BTF_ID_TASK,
  /** A BTF pointer to struct seq_file (arg_btf_id = btf_seq_file_ids). */
  PTR_TO_BTF_ID_SEQ_FILE,
  /** The context, unmodified, or NULL. */
  PTR_TO_CTX_OR_NULL,
  /** Eight bytes the helper writes (may be uninitialised), 8-byte aligned even without
   *  strict alignment (ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT | MEM_WRITE | MEM_ALIGNED). */
  PTR_TO_LONG,
  /** Four initialised bytes the helper reads and writes, 4-byte aligned
   *  (ARG_PTR_TO_FIXED_SIZE_MEM | MEM_WRITE | MEM_ALIGNED, u32). */
  PTR_TO_U32_INOUT,
  /** A map value pointer at the value's struct bpf_timer (calls/timer.ts). */
  PTR_TO_TIMER,
}

export const enum Ret {
  INTEGER,
  VOID,
  PTR_TO_MAP_VALUE_OR_NULL,
  PTR_TO_SOCKET_OR_NULL,
  PTR_TO_SOCK_COMMON_OR_NULL,
  PTR_TO_TCP_SOCK_OR_NULL,
  /** A map value that cannot be NULL (get_local_storage). */
  PTR_TO_MAP_VALUE,
  PTR_TO_RINGBUF_MEM_OR_NULL,
  /** A trusted pointer to the vmlinux struct named by `retBtfStruct`. */
  PTR_TO_BTF_ID_TRUSTED,
  /** A pointer to the vmlinux struct named by `retBtfStruct`, or NULL. */
  PTR_TO_BTF_ID_OR_NULL,
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
  /** Only for these expected attach types (seq_* helpers: iterators). */
  readonly attachTypes?: readonly string[];
  /** Index of the argument whose reference the call releases (OBJ_RELEASE). */
  readonly releaseArg?: number;
  /** The returned pointer is a new reference (is_acquire_function). */
  readonly acquire?: boolean;
  /** The returned pointer shares its argument's reference (is_ptr_cast_function). */
  readonly ptrCast?: boolean;
  /** bpf_base_func_proto offers it only to loaders with CAP_BPF ('bpf') or CAP_PERFMON. */
  readonly cap?: 'bpf' | 'perfmon';
  /** The helper may sleep (fn->might_sleep): only sleepable programs may call it. */
  readonly mightSleep?: boolean;
  /** RET_PTR_TO_BTF_ID*: the struct the pointer points at (ret_btf_id). */
  readonly retBtfStruct?: string;
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

/** More prototypes live in files of their own; they are functions (hoisted) so that those
 *  files may import the kinds above, and are read on first lookup. */
const EXTRA: readonly (() => readonly HelperProto[])[] = [sockProtos, miscProtos, btfPtrProtos, pktProtos, callbackProtos, cookieProtos, stringProtos, seqProtos];

let byId: Map<number, HelperProto> | undefined;
function table(): Map<number, HelperProto> {
  if (!byId) {
    byId = new Map(PROTOS.map((p) => [p.id, p]));
    for (const fn of EXTRA) for (const p of fn()) byId.set(p.id, p);
  }
  return byId;
}

export const helperProto = (id: number): HelperProto | undefined => table().get(id);

/** Arguments a helper takes (for liveness); 5 when unknown (or not offered to `progType`),
 *  as a call may read r1..r5. */
export function helperArgCount(id: number, progType?: string, attachType?: string): number {
  const p = table().get(id);
  if (p && progType !== undefined && !helperAllowed(p, progType, attachType)) return 5;
  return p ? p.args.length : 5;
}

export const helperAllowed = (p: HelperProto, progType: string, attachType?: string): boolean =>
  (p.progTypes === ALL || p.progTypes.includes(progType)) && (!p.attachTypes || p.attachTypes.includes(attachType ?? ''));
