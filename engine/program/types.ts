// A loadable program: what every backend (verifier, interpreter, JIT, live kernel) consumes.
// It is plain data, produced by the spec loader, the ELF reader or the porter.

import type { Insns } from '../isa/insn.ts';

/** enum bpf_prog_type (6.18 uapi), by the kernel's names without the BPF_PROG_TYPE_ prefix. */
export const PROG_TYPES = {
  UNSPEC: 0, SOCKET_FILTER: 1, KPROBE: 2, SCHED_CLS: 3, SCHED_ACT: 4, TRACEPOINT: 5, XDP: 6,
  PERF_EVENT: 7, CGROUP_SKB: 8, CGROUP_SOCK: 9, LWT_IN: 10, LWT_OUT: 11, LWT_XMIT: 12,
  SOCK_OPS: 13, SK_SKB: 14, CGROUP_DEVICE: 15, SK_MSG: 16, RAW_TRACEPOINT: 17,
  CGROUP_SOCK_ADDR: 18, LWT_SEG6LOCAL: 19, LIRC_MODE2: 20, SK_REUSEPORT: 21,
  FLOW_DISSECTOR: 22, CGROUP_SYSCTL: 23, RAW_TRACEPOINT_WRITABLE: 24, CGROUP_SOCKOPT: 25,
  TRACING: 26, STRUCT_OPS: 27, EXT: 28, LSM: 29, SK_LOOKUP: 30, SYSCALL: 31, NETFILTER: 32,
} as const;
export type ProgType = keyof typeof PROG_TYPES;

/** enum bpf_map_type (6.18 uapi), by the kernel's names without the BPF_MAP_TYPE_ prefix. */
export const MAP_TYPES = {
  UNSPEC: 0, HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5,
  PERCPU_ARRAY: 6, STACK_TRACE: 7, CGROUP_ARRAY: 8, LRU_HASH: 9, LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11, ARRAY_OF_MAPS: 12, HASH_OF_MAPS: 13, DEVMAP: 14, SOCKMAP: 15, CPUMAP: 16,
  XSKMAP: 17, SOCKHASH: 18, CGROUP_STORAGE: 19, REUSEPORT_SOCKARRAY: 20,
  PERCPU_CGROUP_STORAGE: 21, QUEUE: 22, STACK: 23, SK_STORAGE: 24, DEVMAP_HASH: 25,
  STRUCT_OPS: 26, RINGBUF: 27, INODE_STORAGE: 28, TASK_STORAGE: 29, BLOOM_FILTER: 30,
  USER_RINGBUF: 31, CGRP_STORAGE: 32, ARENA: 33,
} as const;
export type MapType = keyof typeof MAP_TYPES;

/** One map a program references. A BPF_PSEUDO_MAP_FD (or _VALUE) ld_imm64 names a map by
 *  its index in `Program.maps`, the way test_verifier's fixup tables do; backends swap the
 *  index for their own handle (the kernel backend for a real fd). */
export interface MapDef {
  readonly name: string;
  readonly type: MapType;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** For ARRAY_OF_MAPS / HASH_OF_MAPS: the inner map's shape. */
  readonly inner?: MapDef;
  /** Initial contents, applied after creation (BPF_MAP_UPDATE_ELEM order). PROG_ARRAY
   *  values are u32 indices into the run's program list (the auxiliary programs, then the
   *  program under test); ARRAY_OF_MAPS / HASH_OF_MAPS values are u32 indices into the
   *  program's maps. */
  readonly init?: readonly MapEntry[];
  /** Key/value BTF, for maps the kernel only creates with it (sk_storage, values holding a
   *  bpf_spin_lock, bpf_timer or kptr fields). */
  readonly btf?: { readonly key?: BtfTypeDesc; readonly value?: BtfTypeDesc };
  /** libbpf's global-data `.rodata`: made read-only for user space (BPF_MAP_FREEZE) once its
   *  initial contents are in, before any program is loaded. */
  readonly frozen?: boolean;
  /** BPF_MAP_CREATE map_extra (an arena's user address, a bloom filter's hash count). */
  readonly mapExtra?: bigint;
  /** ARENA: the program's `__arena` globals (`.addr_space.1`), which libbpf copies to the
   *  start of the arena's user mapping once it is made; those pages are then allocated
   *  (libbpf as the 6.12 selftests use it; later libbpf puts them at the end). */
  readonly arenaData?: Uint8Array;
}

/** A C type, described as much as the kernel's BTF checks look at it (names, sizes, member
 *  offsets, pointer type tags). Built into real BTF by the kernel backend. */
export type BtfTypeDesc =
  | { readonly kind: 'int'; readonly name: string; readonly size: number; readonly signed: boolean }
  | { readonly kind: 'void' }
  | {
      readonly kind: 'struct' | 'union';
      readonly name: string;
      readonly size: number;
      readonly members: readonly { readonly name: string; readonly type: BtfTypeDesc; readonly offset: number }[];
    }
  | { readonly kind: 'ptr'; readonly type: BtfTypeDesc; readonly tags?: readonly string[] }
  | { readonly kind: 'array'; readonly type: BtfTypeDesc; readonly len: number };

export interface MapEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  /** A PROG_ARRAY slot named by program (spec `{prog: name}`): `value` is filled in per run
   *  with that program's index in the run's program list (the harness plan does it). */
  readonly progRef?: string;
}

/** A subprogram boundary, as BTF func_info would describe it. */
export interface FuncDef {
  /** Slot index where the function starts (0 for the main program). */
  readonly start: number;
  readonly name: string;
  /** Global functions are verified on their own against their prototype. */
  readonly linkage: 'static' | 'global';
  /** Parameter names and C types, when known (BTF FUNC_PROTO). */
  readonly params?: readonly { readonly name: string; readonly type: string; readonly tags?: readonly string[] }[];
  readonly ret?: string;
  /** BTF decl tags on the function itself (component_idx -1), e.g. the main function's
   *  `exception_callback:<name>`. */
  readonly tags?: readonly string[];
}

/** Prog flags (6.18 uapi BPF_F_*) that test annotations name. */
export const PROG_FLAGS = {
  BPF_F_STRICT_ALIGNMENT: 1 << 0,
  BPF_F_ANY_ALIGNMENT: 1 << 1,
  BPF_F_TEST_RND_HI32: 1 << 2,
  BPF_F_TEST_STATE_FREQ: 1 << 3,
  BPF_F_SLEEPABLE: 1 << 4,
  BPF_F_XDP_HAS_FRAGS: 1 << 5,
  BPF_F_XDP_DEV_BOUND_ONLY: 1 << 6,
  BPF_F_TEST_REG_INVARIANTS: 1 << 7,
} as const;
export type ProgFlagName = keyof typeof PROG_FLAGS;

/** Which stack-argument dialect to model: the v4 series (r12) or the merged one (r11).
 *  `none` is plain 6.18, where both registers are invalid. */
export type Series = 'none' | 'v4' | 'merged';

export interface Program {
  readonly name: string;
  readonly progType: ProgType;
  /** enum bpf_attach_type name without BPF_ prefix, e.g. 'CGROUP_INET_INGRESS'. */
  readonly expectedAttachType?: string;
  /** Attach target for tracing/lsm/ext programs (a vmlinux BTF function name). */
  readonly attachTo?: string;
  readonly insns: Insns;
  readonly maps: readonly MapDef[];
  readonly funcs: readonly FuncDef[];
  readonly license: string;
  /** BPF_F_* prog flags used for the load. */
  readonly flags: number;
  /** Slot indices of BPF_PSEUDO_MAP_FD / _VALUE ld_imm64s whose imm is a literal fd (a raw
   *  `.8byte` instruction in a selftest), not a map index: backends leave them as they are. */
  readonly rawMapFds?: readonly number[];
}
