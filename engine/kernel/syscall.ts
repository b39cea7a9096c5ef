// The only place that touches libc: bpf(2) through syscall(2), close(2), and the errno the
// kernel left behind. Everything above works on plain bytes and numbers.
//
// koffi 3 notes (see the toolchain reference): `long` results may come back as number or
// bigint; pointers inside attr structs are BigInt addresses of off-heap ArrayBuffers, which
// V8 never moves, so an address stays valid while the buffer is reachable.

import koffi from 'koffi';
import type { LibraryHandle } from 'koffi';

/** __NR_bpf on x86-64. */
const NR_BPF = 321;

type CFunc = ReturnType<LibraryHandle['func']>;

interface Libc {
  syscall: CFunc;
  close: CFunc;
  capget: CFunc;
  capset: CFunc;
  mmap: CFunc;
  munmap: CFunc;
  memcpy: CFunc;
}

let libc: Libc | undefined;
let loadError: string | undefined;

function lib(): Libc {
  if (libc) return libc;
  if (loadError) throw new Error(loadError);
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    loadError = `bpf(2) backend needs linux/x64, not ${process.platform}/${process.arch}`;
    throw new Error(loadError);
  }
  const so = koffi.load('libc.so.6');
  libc = {
    // syscall(2) is variadic; koffi passes each variadic argument with an explicit type.
    syscall: so.func('long syscall(long nr, ...)'),
    close: so.func('int close(int fd)'),
    capget: so.func('int capget(void *hdr, void *data)'),
    capset: so.func('int capset(void *hdr, void *data)'),
    // Addresses as integers: an arena mapping is only made and unmade, never read from JS.
    mmap: so.func('uint64_t mmap(uint64_t addr, size_t len, int prot, int flags, int fd, int64_t off)'),
    munmap: so.func('int munmap(uint64_t addr, size_t len)'),
    memcpy: so.func('uint64_t memcpy(uint64_t dst, const uint8_t *src, size_t n)'),
  };
  return libc;
}

/** Whether libc could be bound (the platform check above); does not probe the kernel. */
export function libcAvailable(): boolean {
  try {
    lib();
    return true;
  } catch {
    return false;
  }
}

export interface SysResult {
  /** The syscall's return value (an fd or 0) when it succeeded, -1 otherwise. */
  readonly ret: number;
  /** errno when ret < 0, else 0. */
  readonly errno: number;
}

/** bpf(cmd, attr, size). attr must be the caller's own buffer; size is how much of it the
 *  kernel should read (it checks that anything past its own union size is zero). */
export function sysBpf(cmd: number, attr: Uint8Array, size: number): SysResult {
  if (size > attr.byteLength) throw new RangeError(`attr size ${size} > buffer ${attr.byteLength}`);
  const r = Number(lib().syscall(NR_BPF, 'int', cmd, 'void *', attr, 'uint32_t', size));
  if (r < 0) return { ret: -1, errno: koffi.errno() };
  return { ret: r, errno: 0 };
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_FIXED = 0x10;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

/** mmap(2) of an fd; returns the address, or the errno. */
export function sysMmap(addr: bigint, len: number, prot: number, flags: number, fd: number): { addr: bigint; errno: number } {
  const r = BigInt(lib().mmap(addr, len, prot, flags, fd, 0) as bigint | number);
  return r === MAP_FAILED ? { addr: 0n, errno: koffi.errno() } : { addr: r, errno: 0 };
}

/** Copy `bytes` to a mapping this process made (libbpf's arena globals). */
export function writeMapped(addr: bigint, bytes: Uint8Array): void {
  if (bytes.length) lib().memcpy(addr, bytes, bytes.length);
}

export function sysMunmap(addr: bigint, len: number): number {
  return Number(lib().munmap(addr, len)) < 0 ? koffi.errno() : 0;
}

/** close(2); returns errno (0 on success). */
export function sysClose(fd: number): number {
  const r = Number(lib().close(fd));
  return r < 0 ? koffi.errno() : 0;
}

/** A zeroed buffer whose backing store lives outside the V8 heap, so its address is stable. */
export function pinned(size: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(size));
}

/** A pinned copy of bytes (callers' arrays may be small on-heap typed arrays). */
export function pinnedCopy(bytes: Uint8Array): Uint8Array {
  const out = pinned(bytes.byteLength);
  out.set(bytes);
  return out;
}

/** User-space address of a pinned buffer, for a __u64 pointer field; 0 for an empty one. */
export function addressOf(buf: Uint8Array | undefined): bigint {
  if (!buf || buf.byteLength === 0) return 0n;
  return koffi.address(buf);
}

/** _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set. */
const CAP_V3 = 0x20080522;

/** The calling thread's capability sets (capget with pid 0). */
export interface CapSets {
  readonly effective: bigint;
  readonly permitted: bigint;
  readonly inheritable: bigint;
}

function capHeader(): Uint8Array {
  const hdr = pinned(8);
  new DataView(hdr.buffer).setUint32(0, CAP_V3, true);
  return hdr;
}

export function sysCapget(): { errno: number; caps: CapSets } {
  const data = pinned(24);
  const r = Number(lib().capget(capHeader(), data));
  const dv = new DataView(data.buffer);
  const word = (i: number, set: number): bigint => BigInt(dv.getUint32(i * 12 + set * 4, true));
  const join = (set: number): bigint => word(0, set) | (word(1, set) << 32n);
  return {
    errno: r < 0 ? koffi.errno() : 0,
    caps: { effective: join(0), permitted: join(1), inheritable: join(2) },
  };
}

/** capset for the calling thread only (Linux credentials are per thread; glibc's capset is
 *  the raw syscall, unlike setuid it does not broadcast to other threads). Returns errno. */
export function sysCapset(caps: CapSets): number {
  const data = pinned(24);
  const dv = new DataView(data.buffer);
  const sets = [caps.effective, caps.permitted, caps.inheritable];
  for (let i = 0; i < 2; i++) {
    sets.forEach((v, set) => dv.setUint32(i * 12 + set * 4, Number((v >> BigInt(32 * i)) & 0xffffffffn), true));
  }
  const r = Number(lib().capset(capHeader(), data));
  return r < 0 ? koffi.errno() : 0;
}
