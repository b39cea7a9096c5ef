// A BPF arena (BPF_MAP_TYPE_ARENA) as a test run sees it. Pages are allocated and freed by
// the arena kfuncs; the program addresses them in two forms:
//   - user addresses, as bpf_arena_alloc_pages returns them: user_vm_start's upper 32 bits
//     with the page's 32-bit offset below;
//   - after `addr_space_cast(r, 0, 1)`, the 32-bit offset alone, which the kernel's
//     PROBE_MEM32 loads and stores add to the arena's kernel base. A load from a page that is
//     not allocated (or from the guard around the 4 GB window) reads 0 and a store there is
//     dropped: the JIT's exception table fixes the fault up instead of failing the run.
// The interpreter models the second form as addresses whose high word is 0 (1 and 0xffffffff
// for an offset that leaves the window), which no other pointer of a verified program has.

import type { MapDef } from '../program/types.ts';
import type { AddressSpace, FallbackResolver, Region } from './memory.ts';

export const PAGE_SIZE = 4096;
const PAGE_SHIFT = 12;
/** The 4 GB window an arena without map_extra is placed in for user space. The kernel picks
 *  the address when the arena is mapped, inside one 4 GB window (a 4 GB arena: exactly one),
 *  and top-down mmap puts it high; so do we: at the top of the window. That keeps the 32-bit
 *  form of a small arena's first page nonzero, as on the kernel (a 4 GB arena's first page
 *  casts to 0, i.e. NULL, there too). */
export const DEFAULT_USER_VM_START = 0x7f0000000000n;

/** user_vm_start of an arena: map_extra, else the top of its own 4 GB window. */
export function userVmStartOf(def: MapDef, index: number): bigint {
  if (def.mapExtra) return def.mapExtra;
  const len = BigInt(def.maxEntries) * BigInt(PAGE_SIZE);
  return DEFAULT_USER_VM_START + (BigInt(index) << 32n) + BigInt.asUintN(32, -len);
}
/** NUMA_NO_NODE; the run has one node, 0. */
const NUMA_NO_NODE = -1;

const clearLo32 = (v: bigint): bigint => v & ~0xffffffffn;

export class Arena implements FallbackResolver {
  readonly userVmStart: bigint;
  /** Pages the user mapping covers (max_entries). */
  readonly pageCntMax: number;
  /** Allocated pages by page offset (pgoff). */
  private readonly pages = new Map<number, Region>();
  /** Reads 0 and swallows stores: a faulting PROBE_MEM32 access. */
  private readonly guard: Region;

  constructor(readonly def: MapDef, private readonly space: AddressSpace, index: number) {
    this.userVmStart = userVmStartOf(def, index);
    this.pageCntMax = def.maxEntries;
    this.guard = space.add(`arena ${def.name} guard`, new Uint8Array(PAGE_SIZE));
    this.guard.faults = true;
  }

  /** libbpf copies the __arena globals to the start of the mapping: those pages exist from
   *  the start (MapDef.arenaData). */
  placeGlobals(data: Uint8Array): void {
    const pages = Math.ceil(data.length / PAGE_SIZE);
    if (!pages || this.alloc(this.userVmStart, pages, NUMA_NO_NODE, 0n) === 0n) return;
    for (let i = 0; i < pages; i++) this.pages.get(i)!.bytes.set(data.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
  }

  /** Upper 32 bits a user address of this arena has. */
  get userHi(): number {
    return Number(this.userVmStart >> 32n);
  }

  /** pgoff of a user (or 32-bit) address, as the kernel computes it. */
  private pgoff(uaddr: bigint): number {
    return Number(BigInt.asUintN(32, uaddr - BigInt.asUintN(32, this.userVmStart)) >> BigInt(PAGE_SHIFT));
  }

  /** The user address of a page. */
  private userAddr(pgoff: number): bigint {
    return clearLo32(this.userVmStart) + BigInt.asUintN(32, this.userVmStart + BigInt(pgoff * PAGE_SIZE));
  }

  /** bpf_arena_alloc_pages: `cnt` zeroed pages at `uaddr` (0: the lowest free run); the user
   *  address of the first, or 0. */
  alloc(uaddr: bigint, cnt: number, nodeId: number, flags: bigint): bigint {
    if (flags !== 0n || cnt <= 0) return 0n;
    if (nodeId !== NUMA_NO_NODE && nodeId !== 0) return 0n;
    if (cnt > this.pageCntMax) return 0n;
    let pgoff = 0;
    if (uaddr !== 0n) {
      if (uaddr & BigInt(PAGE_SIZE - 1)) return 0n;
      pgoff = this.pgoff(uaddr);
      if (pgoff > this.pageCntMax - cnt) return 0n;
      for (let i = 0; i < cnt; i++) if (this.pages.has(pgoff + i)) return 0n;
    } else {
      const found = this.findFree(cnt);
      if (found < 0) return 0n;
      pgoff = found;
    }
    for (let i = 0; i < cnt; i++) {
      this.pages.set(pgoff + i, this.space.add(`arena ${this.def.name} page ${pgoff + i}`, new Uint8Array(PAGE_SIZE)));
    }
    return this.userAddr(pgoff);
  }

  /** The lowest pgoff starting `cnt` free pages, or -1. */
  private findFree(cnt: number): number {
    let run = 0;
    for (let p = 0; p < this.pageCntMax; p++) {
      run = this.pages.has(p) ? 0 : run + 1;
      if (run === cnt) return p - cnt + 1;
    }
    return -1;
  }

  /** bpf_arena_free_pages: unmap up to `cnt` pages from `uaddr` (either address form). */
  free(uaddr: bigint, cnt: number): void {
    if (cnt <= 0 || uaddr === 0n) return;
    const full = clearLo32(this.userVmStart) + BigInt.asUintN(32, uaddr);
    const end = this.userVmStart + BigInt(this.pageCntMax * PAGE_SIZE);
    const last = full + BigInt(cnt * PAGE_SIZE) < end ? full + BigInt(cnt * PAGE_SIZE) : end;
    if (full >= last) return;
    const n = Number((last - full) >> BigInt(PAGE_SHIFT));
    const pgoff = this.pgoff(full);
    for (let i = 0; i < n; i++) {
      const r = this.pages.get(pgoff + i);
      if (!r) continue;
      this.pages.delete(pgoff + i);
      this.space.release(r);
    }
  }

  /** PROBE_MEM32: a 32-bit arena offset (high word 0) or one just outside the window. */
  resolve(hi: number, lo: number, size: number, _write: boolean, at: { off: number }): Region | undefined {
    const h = hi >>> 0;
    if (h !== 0 && h !== 1 && h !== 0xffffffff) return undefined;
    const inPage = lo & (PAGE_SIZE - 1);
    const page = h === 0 && inPage + size <= PAGE_SIZE ? this.pages.get(this.pgoff(BigInt(lo >>> 0))) : undefined;
    if (page) {
      at.off = inPage;
      return page;
    }
    this.guard.bytes.fill(0);
    at.off = 0;
    return this.guard;
  }
}
