// The interpreter's address space. A 64-bit address is a (hi, lo) pair of u32 words. Every
// region (a frame's stack, the ctx, the packet, a map value, ...) owns one hi word, and its
// bytes start at lo = LO_BASE, so pointer arithmetic of a few hundred MB either way stays
// inside the same hi word and an access is resolved with one array index and one compare.
// Anything that does not resolve (NULL, a scalar, a freed hash slot never exists: we keep
// values alive for the whole run, as RCU would) is a runtime fault, not an exception.

/** hi word of region 0. Chosen to look like a kernel direct-map address. */
export const REGION_HI_BASE = 0xffff8880;
/** lo word at which every region's first byte sits. */
export const LO_BASE = 0x10000000;
/** Most regions one run may create (hash values, stacks, ...). */
export const MAX_REGIONS = 0x7000;

/** Non-dereferenceable "addresses" that helpers decode (a BPF_PSEUDO_FUNC ld_imm64). */
export const FUNC_ADDR_HI = 0xffffffff;

/** Loads from a region with `special` go through it (ctx fields that hold pointers). */
export interface SpecialLoad {
  /** Return true when it has written (lo[dst], hi[dst]); false to use the plain bytes. */
  load(off: number, size: number, lo: Uint32Array, hi: Uint32Array, dst: number): boolean;
}

export interface Region {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly size: number;
  readonly writable: boolean;
  readonly hi: number;
  special?: SpecialLoad;
  /** Stands for memory that is not there (an arena page not allocated): the access faults
   *  and the JIT's exception table fixes it up. */
  faults?: boolean;
}

export class RuntimeFault extends Error {
  /** Set once the fault has been tagged with the instruction that raised it. */
  located = false;
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeFault';
  }
}

const hex = (hi: number, lo: number): string =>
  '0x' + (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
export const fmtAddr = hex;

/** Addresses no region holds but that still resolve: an arena's 32-bit addresses. */
export interface FallbackResolver {
  /** The region (and byte offset, in `at.off`) holding [addr, addr+size), or undefined. */
  resolve(hi: number, lo: number, size: number, write: boolean, at: { off: number }): Region | undefined;
}

export class AddressSpace {
  readonly regions: (Region | undefined)[] = [];
  /** Byte offset inside the region found by the last successful `resolve`. */
  off = 0;
  /** Consulted when no region holds an address (set by an arena map). */
  fallback?: FallbackResolver;

  private readonly free: number[] = [];

  /** Map `bytes` (shared, not copied) as a new region; returns it. */
  add(name: string, bytes: Uint8Array, writable = true): Region {
    const idx = this.free.length > 0 ? (this.free.pop() as number) : this.regions.length;
    if (idx >= MAX_REGIONS) throw new RuntimeFault('out of address space (too many regions)');
    const r: Region = {
      name, bytes, writable, size: bytes.length, hi: (REGION_HI_BASE + idx) >>> 0,
      view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    };
    this.regions[idx] = r;
    return r;
  }

  /** Unmap a region (per-run regions such as stacks, when the run ends). */
  release(r: Region): void {
    const idx = (r.hi - REGION_HI_BASE) | 0;
    if (this.regions[idx] === r) {
      this.regions[idx] = undefined;
      this.free.push(idx);
    }
  }

  /** The region holding [addr, addr+size), setting `this.off`; faults otherwise. */
  resolve(hi: number, lo: number, size: number, write: boolean): Region {
    const r = this.regions[(hi - REGION_HI_BASE) | 0];
    const off = (lo - LO_BASE) | 0;
    if (r === undefined || hi < REGION_HI_BASE || off < 0 || off + size > r.size) {
      const f = this.fallback?.resolve(hi, lo, size, write, this);
      if (f) return f;
      throw new RuntimeFault(`invalid ${write ? 'write' : 'read'} of ${size} bytes at ${hex(hi, lo)}${this.describe(hi, lo)}`);
    }
    if (write && !r.writable) throw new RuntimeFault(`write to read-only ${r.name} at ${hex(hi, lo)}`);
    this.off = off;
    return r;
  }

  /** Like resolve, but returns undefined instead of faulting (for helpers that return -EFAULT). */
  tryResolve(hi: number, lo: number, size: number, write: boolean): Region | undefined {
    const r = this.regions[(hi - REGION_HI_BASE) | 0];
    const off = (lo - LO_BASE) | 0;
    if (r === undefined || hi < REGION_HI_BASE || off < 0 || off + size > r.size) return this.fallback?.resolve(hi, lo, size, write, this);
    if (write && !r.writable) return undefined;
    this.off = off;
    return r;
  }

  /** A copy-free view of [addr, addr+len) (faults when out of bounds). */
  slice(hi: number, lo: number, len: number, write: boolean): Uint8Array {
    const r = this.resolve(hi, lo, len, write);
    return r.bytes.subarray(this.off, this.off + len);
  }

  private describe(hi: number, lo: number): string {
    if (hi === 0 && lo === 0) return ' (NULL)';
    const r = this.regions[(hi - REGION_HI_BASE) | 0];
    const off = (lo - LO_BASE) | 0;
    if (r !== undefined && hi >= REGION_HI_BASE) return ` (${r.name}${off >= 0 ? '+' : ''}${off}, size ${r.size})`;
    return '';
  }
}

/** The address of byte `off` of a region. */
export const regionLo = (off: number): number => (LO_BASE + off) >>> 0;
