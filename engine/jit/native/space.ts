// The interpreter's address space, backed by native memory, so JIT-compiled code and the
// interpreter's helpers and maps (engine/runtime) work on the same bytes.
//
// Every region the runtime creates (map values, hash elements, ctx, packet, ...) is copied
// into a native arena mapped below 2 GB (MAP_32BIT), and the region's `bytes` become a view
// of that memory. Native code then dereferences real pointers while a helper, called back
// from native code, still sees the (hi, lo) addresses it was written for; `toVirtual` and
// `toNative` translate between the two. The low-2-GB placement also makes the 32-bit ctx
// fields __sk_buff.data/data_end and xdp_md.data/data_end hold complete native pointers,
// which is what lets un-rewritten ctx loads work natively.

import koffi from 'koffi';
import { AddressSpace, LO_BASE, MAX_REGIONS, REGION_HI_BASE, type Region, regionLo } from '../../runtime/memory.ts';
import { MapStore } from '../../runtime/maps.ts';
import { getLibc, MAP_32BIT, MAP_NORESERVE, mapAnon, pageRound } from './libc.ts';
import { PAGE_SIZE } from '../../runtime/arena.ts';
import { NativeArenaWindow } from './arena.ts';

/** Arena chunk size; a region larger than this gets a chunk of its own. */
const CHUNK = 16 << 20;
/** Unused bytes between regions: a pointer one past the end (data_end) stays unambiguous. */
const GAP = 64;

/** Bump allocator over MAP_32BIT chunks; everything is freed at once by `free()`. */
export class NativeArena {
  private readonly chunks: { base: bigint; len: number }[] = [];
  private cur = 0n;
  private left = 0;
  /** Lowest address of any chunk (2^64 while there is none). */
  low = 1n << 64n;

  alloc(size: number): bigint {
    const need = ((Math.max(size, 1) + 15) & ~15) + GAP;
    if (need > this.left) {
      const len = Math.max(CHUNK, pageRound(need));
      const base = mapAnon(len, MAP_32BIT | MAP_NORESERVE);
      this.chunks.push({ base, len });
      if (base < this.low) this.low = base;
      this.cur = base;
      this.left = len;
    }
    const at = this.cur;
    this.cur += BigInt(need);
    this.left -= need;
    return at;
  }

  free(): void {
    const c = getLibc();
    for (const ch of this.chunks.splice(0)) c.munmap(ch.base, ch.len);
    this.left = 0;
    this.low = 1n << 64n;
  }
}

/** Upper bound of the user half: anything at or above is not a native pointer here. */
const USER_TOP = 0x800000000000n;
/** Native addresses from here up (thread stacks, koffi's call stack, the mmap area, JIT
 *  code) are aliased on
 *  demand when a helper receives them; lower values are taken for scalars. */
const ALIAS_FLOOR = 0x700000000000n;
/** Bytes an on-demand alias covers (a BPF stack frame is at most 512). */
const ALIAS_SIZE = 1 << 16;

export class NativeSpace extends AddressSpace {
  readonly arena = new NativeArena();
  /** Native base address per region index (hi - REGION_HI_BASE). */
  private readonly bases: (bigint | undefined)[] = [];
  /** Regions created by toVirtual for foreign native memory (the BPF stack, code). */
  private readonly aliases: Region[] = [];
  /** The program's BPF arena, once `mapArena` has placed it. */
  private arenaMap?: { readonly pagePrefix: string; readonly userVmStart: bigint; readonly window: NativeArenaWindow };
  /** Regions that are arena pages (their memory is the window's; inaccessible once freed). */
  private readonly arenaPages = new Set<Region>();

  /** Back arena `name`'s pages by a native window from now on (runtime/arena.ts names each
   *  page region `arena <name> page <pgoff>`). Returns kern_vm_start. */
  mapArena(name: string, userVmStart: bigint): bigint {
    const window = new NativeArenaWindow();
    this.arenaMap = { pagePrefix: `arena ${name} page `, userVmStart, window };
    return window.kernVmStart;
  }

  /** Unmap the arena window (end of the run). */
  unmapArena(): void {
    this.arenaMap?.window.unmap();
    this.arenaMap = undefined;
  }

  /** Upper 32 bits of the arena's user addresses (undefined without an arena). */
  private get arenaUserHi(): bigint | undefined {
    return this.arenaMap ? this.arenaMap.userVmStart >> 32n : undefined;
  }

  override add(name: string, bytes: Uint8Array, writable = true): Region {
    const a = this.arenaMap;
    if (a && name.startsWith(a.pagePrefix) && bytes.length === PAGE_SIZE) {
      // The page's 32-bit offset is where PROBE_MEM32 code reaches it from kern_vm_start.
      const pgoff = Number(name.slice(a.pagePrefix.length));
      const addr = a.window.at(Number(BigInt.asUintN(32, a.userVmStart + BigInt(pgoff * PAGE_SIZE))));
      a.window.grant(addr);
      const view = new Uint8Array(koffi.view(addr, PAGE_SIZE));
      view.set(bytes);
      const r = super.add(name, view, writable);
      this.bases[(r.hi - REGION_HI_BASE) | 0] = addr;
      this.arenaPages.add(r);
      return r;
    }
    const base = this.arena.alloc(bytes.length);
    const view = new Uint8Array(koffi.view(base, Math.max(bytes.length, 1)), 0, bytes.length);
    view.set(bytes);
    const r = super.add(name, view, writable);
    this.bases[(r.hi - REGION_HI_BASE) | 0] = base;
    return r;
  }

  /** Map native memory that belongs to someone else (no copy, no allocation). */
  alias(name: string, addr: bigint, size: number): Region {
    const r = super.add(name, new Uint8Array(koffi.view(addr, size)));
    this.bases[(r.hi - REGION_HI_BASE) | 0] = addr;
    this.aliases.push(r);
    return r;
  }

  override release(r: Region): void {
    // A freed arena page faults again, as in the kernel (the fix-up reads 0, drops stores).
    const base = this.bases[(r.hi - REGION_HI_BASE) | 0];
    if (this.arenaPages.delete(r) && base !== undefined) this.arenaMap?.window.revoke(base);
    this.bases[(r.hi - REGION_HI_BASE) | 0] = undefined;
    super.release(r);
  }

  /** Drop every on-demand alias (after each helper call). */
  dropAliases(): void {
    for (const r of this.aliases.splice(0)) this.release(r);
  }

  /** Native address of a region's first byte. */
  baseOf(r: Region): bigint {
    const b = this.bases[(r.hi - REGION_HI_BASE) | 0];
    if (b === undefined) throw new Error(`region ${r.name} has no native memory`);
    return b;
  }

  /** Native address of byte `off` of a region. */
  nativeOf(r: Region, off: number): bigint {
    return this.baseOf(r) + BigInt(off);
  }

  /** A (hi, lo) interpreter value as a native one: region addresses become real pointers,
   *  anything else (scalars, map handles, NULL) is unchanged. */
  toNative(v: bigint): bigint {
    const u = BigInt.asUintN(64, v);
    const idx = Number(u >> 32n) - REGION_HI_BASE;
    if (idx < 0 || idx >= MAX_REGIONS) return u;
    const base = this.bases[idx];
    if (base === undefined) return u;
    const off = (Number(u & 0xffffffffn) - LO_BASE) | 0;
    return BigInt.asUintN(64, base + BigInt(off));
  }

  /** A native value as the interpreter sees it. Pointers into a region (up to one past its
   *  end) translate; high user addresses (stack, code) get an on-demand alias region;
   *  everything else is a scalar. */
  toVirtual(v: bigint): bigint {
    const u = BigInt.asUintN(64, v);
    if (u === 0n || u >= USER_TOP) return u;
    // A native address in the window is its 32-bit arena form. Arena user addresses, and
    // those one 4 GB step either side that pointer arithmetic reaches (base + ARENA_SIZE),
    // are scalars to helpers, as in the interpreter.
    if (this.arenaMap?.window.holds(u)) return BigInt.asUintN(32, u - this.arenaMap.window.kernVmStart);
    const userHi = this.arenaUserHi;
    if (userHi !== undefined && u >> 32n >= userHi - 1n && u >> 32n <= userHi + 1n) return u;
    // Most arguments are scalars below every native address: answer them without a scan.
    if (u < this.arena.low && u < ALIAS_FLOOR) return u;
    for (let idx = 0; idx < this.bases.length; idx++) {
      const base = this.bases[idx];
      const r = this.regions[idx];
      if (base === undefined || r === undefined || u < base || u > base + BigInt(r.size)) continue;
      return (BigInt(r.hi) << 32n) | BigInt(regionLo(Number(u - base)));
    }
    if (u < ALIAS_FLOOR) return u;
    const r = this.alias('native memory', u, ALIAS_SIZE);
    return (BigInt(r.hi) << 32n) | BigInt(regionLo(0));
  }
}

/** A MapStore whose maps live in native memory. */
export class NativeMapStore extends MapStore {
  override readonly space: NativeSpace = new NativeSpace();
}
