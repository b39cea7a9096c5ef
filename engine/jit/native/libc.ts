// The few libc calls native execution needs (mmap, mprotect, munmap, madvise, sigaction),
// bound through koffi once per process.

import koffi from 'koffi';

export const PROT_NONE = 0;
export const PROT_RW = 3;
export const PROT_RX = 5;
export const MAP_PRIVATE_ANON = 0x22;
/** x86-64 MAP_32BIT: the mapping lands in the low 2 GB, so its addresses fit a u32. */
export const MAP_32BIT = 0x40;
export const MAP_NORESERVE = 0x4000;
/** Drop a private anonymous range's pages: it reads zeros when next made accessible. */
export const MADV_DONTNEED = 4;

type CFunc = ReturnType<ReturnType<typeof koffi.load>['func']>;

export interface Libc {
  readonly mmap: CFunc;
  readonly mprotect: CFunc;
  readonly munmap: CFunc;
  readonly madvise: CFunc;
  /** glibc's sigaction (it supplies SA_RESTORER and the restorer itself). */
  readonly sigaction: CFunc;
}

let libc: Libc | undefined;

export function getLibc(): Libc {
  if (!libc) {
    const lib = koffi.load('libc.so.6');
    libc = {
      mmap: lib.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
      mprotect: lib.func('int mprotect(void *addr, size_t len, int prot)'),
      munmap: lib.func('int munmap(void *addr, size_t len)'),
      madvise: lib.func('int madvise(void *addr, size_t len, int advice)'),
      sigaction: lib.func('int sigaction(int sig, void *act, void *oldact)'),
    };
  }
  return libc;
}

/** mmap anonymous memory (read/write unless `prot` says otherwise); throws when the kernel
 *  refuses. */
export function mapAnon(len: number, flags = 0, prot = PROT_RW): bigint {
  const p = getLibc().mmap(null, len, prot, MAP_PRIVATE_ANON | flags, -1, 0) as bigint;
  if (!p || p === 0xffffffffffffffffn) throw new Error(`mmap of ${len} bytes failed`);
  return p;
}

export const pageRound = (n: number): number => (n + 4095) & ~4095;
