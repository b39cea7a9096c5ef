// Names and scalar forms a spec may use: prog flags, retvals, capabilities, map types and
// flags, kfunc flags and parameter suffixes, byte strings. Each parser returns a value or an
// error message (the loader adds file/line/col/path).

import { MAP_TYPES, PROG_FLAGS, type MapType } from '../../engine/program/types.ts';
import type { FlagOp, RetvalSpec } from './types.ts';

export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

/** The flags every test_loader program starts from (testing_prog_flags() on a kernel that has
 *  both): BPF_F_TEST_RND_HI32 | BPF_F_TEST_REG_INVARIANTS. */
export const BASE_PROG_FLAGS = PROG_FLAGS.BPF_F_TEST_RND_HI32 | PROG_FLAGS.BPF_F_TEST_REG_INVARIANTS;

/** Apply __flag edits in order. Section-implied flags (BPF_F_SLEEPABLE for `syscall`, ...)
 *  are ORed in by libbpf at load time and cannot be cleared this way: the load uses
 *  `program.flags | applyFlagOps(BASE_PROG_FLAGS, test.flagOps)`. */
export function applyFlagOps(base: number, ops: readonly FlagOp[]): number {
  let flags = base;
  for (const op of ops) flags = op.op === 'set' ? (flags | op.flag) >>> 0 : (flags & ~op.flag) >>> 0;
  return flags;
}

/** A decimal or 0x-hex integer string (test_loader's parse_int). */
function parseIntText(s: string): bigint | undefined {
  if (/^[+-]?[0-9]+$/.test(s)) return BigInt(s);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return BigInt(s);
  return undefined;
}

/** One `flags:` entry: a BPF_F_* name or a number, "!" in front to clear. */
export function parseFlagOp(v: string | bigint): Parsed<FlagOp> {
  if (typeof v === 'bigint') return ok({ op: 'set', flag: Number(v), name: `0x${v.toString(16)}` });
  const clear = v.startsWith('!');
  const name = clear ? v.slice(1) : v;
  const op = clear ? 'clear' : 'set';
  if (Object.hasOwn(PROG_FLAGS, name)) return ok({ op, flag: PROG_FLAGS[name as keyof typeof PROG_FLAGS], name });
  const n = parseIntText(name);
  if (n !== undefined && n >= 0n && n <= 0xffffffffn) return ok({ op, flag: Number(n), name });
  return fail(`unknown prog flag ${JSON.stringify(v)}: expected ${Object.keys(PROG_FLAGS).join(', ')} or a number, optionally with a leading "!"`);
}

/** The kernel's INT_MIN and the selftests' POINTER_VALUE (0xbadcafe since 6.12's successor;
 *  "don't check" either way). */
export function parseRetval(v: string | bigint): Parsed<RetvalSpec> {
  if (v === 'POINTER_VALUE') return ok({ kind: 'pointer' });
  if (v === '_INT_MIN' || v === 'INT_MIN') return ok({ kind: 'value', value: -0x8000_0000 });
  const n = typeof v === 'bigint' ? v : parseIntText(v);
  if (n === undefined) return fail(`bad retval ${JSON.stringify(v)}: expected a number, "0x...", "_INT_MIN", "INT_MIN" or "POINTER_VALUE"`);
  if (n < -(2n ** 31n) || n > 0xffffffffn) return fail(`retval ${String(v)} does not fit the kernel's 32-bit retval`);
  // test_loader keeps the expected value in an int: 0xffffffff means -1.
  return ok({ kind: 'value', value: Number(BigInt.asIntN(32, n)) });
}

/** Capability numbers by name (linux/capability.h), for __caps_unpriv. */
export const CAPS: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4,
  CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10, CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15, CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20, CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24, CAP_SYS_TIME: 25, CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29, CAP_AUDIT_CONTROL: 30, CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33, CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35, CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37, CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
};

export function parseCap(v: string | bigint): Parsed<number> {
  if (typeof v === 'bigint') {
    // test_loader rejects 0 (strtol's "nothing parsed" and CAP_CHOWN look the same to it).
    if (v < 1n || v > 40n) return fail(`capability ${v} is out of range [1, 40]`);
    return ok(Number(v));
  }
  if (Object.hasOwn(CAPS, v) && CAPS[v] !== 0) return ok(CAPS[v]);
  return fail(`unknown capability ${JSON.stringify(v)}: expected a CAP_* name (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN, ...) or a number`);
}

/** `hash`, `HASH` or `BPF_MAP_TYPE_HASH`. */
export function parseMapType(v: string): Parsed<MapType> {
  const name = v.toUpperCase().replace(/^BPF_MAP_TYPE_/, '');
  if (Object.hasOwn(MAP_TYPES, name) && name !== 'UNSPEC') return ok(name as MapType);
  return fail(`unknown map type ${JSON.stringify(v)}: expected one of ${Object.keys(MAP_TYPES).filter((k) => k !== 'UNSPEC').map((k) => k.toLowerCase()).join(', ')}`);
}

/** BPF_F_* map flags (6.18 uapi). */
export const MAP_FLAGS: Readonly<Record<string, number>> = {
  BPF_F_NO_PREALLOC: 1 << 0, BPF_F_NO_COMMON_LRU: 1 << 1, BPF_F_NUMA_NODE: 1 << 2,
  BPF_F_RDONLY: 1 << 3, BPF_F_WRONLY: 1 << 4, BPF_F_STACK_BUILD_ID: 1 << 5,
  BPF_F_ZERO_SEED: 1 << 6, BPF_F_RDONLY_PROG: 1 << 7, BPF_F_WRONLY_PROG: 1 << 8,
  BPF_F_CLONE: 1 << 9, BPF_F_MMAPABLE: 1 << 10, BPF_F_PRESERVE_ELEMS: 1 << 11,
  BPF_F_INNER_MAP: 1 << 12, BPF_F_LINK: 1 << 13, BPF_F_PATH_FD: 1 << 14,
  BPF_F_VTYPE_BTF_OBJ_FD: 1 << 15, BPF_F_TOKEN_FD: 1 << 16, BPF_F_SEGV_ON_FAULT: 1 << 17,
  BPF_F_NO_USER_CONV: 1 << 18,
};

export function parseMapFlag(v: string | bigint): Parsed<number> {
  if (typeof v === 'bigint') return ok(Number(v));
  if (Object.hasOwn(MAP_FLAGS, v)) return ok(MAP_FLAGS[v]);
  return fail(`unknown map flag ${JSON.stringify(v)}: expected a BPF_F_* map flag name or a number`);
}

/** KF_* kfunc flags (include/linux/btf.h). KF_TRUSTED_ARGS: 6.18 still has it (default since
 *  later); KF_IMPLICIT_ARGS: newer than 6.18 (the `merged` tree). */
export const KF_FLAGS: Readonly<Record<string, number>> = {
  KF_ACQUIRE: 1 << 0, KF_RELEASE: 1 << 1, KF_RET_NULL: 1 << 2, KF_TRUSTED_ARGS: 1 << 4,
  KF_SLEEPABLE: 1 << 5, KF_DESTRUCTIVE: 1 << 6, KF_RCU: 1 << 7, KF_ITER_NEW: 1 << 8,
  KF_ITER_NEXT: 1 << 9, KF_ITER_DESTROY: 1 << 10, KF_RCU_PROTECTED: 1 << 11,
  KF_FASTCALL: 1 << 12, KF_ARENA_RET: 1 << 13, KF_ARENA_ARG1: 1 << 14, KF_ARENA_ARG2: 1 << 15,
  KF_IMPLICIT_ARGS: 1 << 16,
};

/** Parameter-name suffixes the verifier gives meaning to (kfunc argument annotations). */
export const KF_ARG_SUFFIXES = ['__sz', '__szk', '__k', '__iter', '__str', '__nullable', '__ign', '__uninit', '__opt', '__refcounted_kptr', '__map', '__prog', '__irq_flag'] as const;
export type KfArgSuffix = (typeof KF_ARG_SUFFIXES)[number];

export function paramSuffix(name: string): KfArgSuffix | undefined {
  // Longest first, so "__szk" is not read as "__k".
  return [...KF_ARG_SUFFIXES].sort((a, b) => b.length - a.length).find((s) => name.endsWith(s) && name.length > s.length);
}

/** Map init bytes: hex in memory order (spaces allowed), or an integer stored little-endian
 *  in `size` bytes (negative numbers as two's complement). */
export function parseBytes(v: string | bigint, size: number): Parsed<Uint8Array> {
  if (typeof v === 'bigint') {
    if (size === 0) return fail('the size is 0: there are no bytes to fill');
    if (size > 4096) return fail(`write a ${size}-byte value in hex`);
    if (size > 8) {
      if (v < 0n) return fail(`a negative number cannot fill ${size} bytes; write the bytes in hex`);
    } else if (v >= 2n ** BigInt(8 * size) || v < -(2n ** BigInt(8 * size - 1))) {
      return fail(`${v} does not fit in ${size} byte${size === 1 ? '' : 's'}`);
    }
    let u = v < 0n ? BigInt.asUintN(64, v) : v;
    const out = new Uint8Array(size);
    for (let i = 0; i < size && u > 0n; i++, u >>= 8n) out[i] = Number(u & 0xffn);
    if (u > 0n) return fail(`${v} does not fit in ${size} bytes`);
    return ok(out);
  }
  const hex = v.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) return fail(`bad hex bytes ${JSON.stringify(v)}: expected pairs of hex digits in memory order`);
  if (hex.length / 2 !== size) return fail(`${hex.length / 2} bytes given, expected ${size}`);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return ok(out);
}

/** The 64-bit constant `__imm_insn` produces: the instruction's 8 bytes read as a
 *  little-endian u64 (`*(long *)&insn` on a little-endian host). */
export function insnWordValue(hex16: string): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(parseInt(hex16.slice(2 * i, 2 * i + 2), 16));
  return v;
}
