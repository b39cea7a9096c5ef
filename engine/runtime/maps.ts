// In-process maps for the interpreter. One CPU: per-CPU maps hold a single copy. Values live
// in regions of the run's address space so a lookup can hand the program a real pointer.
// Array values are one contiguous region with an 8-byte stride, as the kernel lays them out.

import { MAP_TYPES, type MapDef, type Program } from '../program/types.ts';
import { AddressSpace, LO_BASE, type Region, regionLo } from './memory.ts';
import { Arena } from './arena.ts';

export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

export const EPERM = 1;
export const ENOENT = 2;
export const E2BIG = 7;
export const EFAULT = 14;
export const EEXIST = 17;
export const EINVAL = 22;
export const ENOSPC = 28;
export const ENOTSUPP = 524;

/** Where a value sits: its region and the byte offset inside it. */
export interface ValueRef {
  readonly region: Region;
  readonly off: number;
}

/** A map's value as the program sees it: a value region, another map, or a program. */
export type Slot =
  | { readonly kind: 'value'; readonly ref: ValueRef }
  | { readonly kind: 'map'; readonly map: RtMap }
  | { readonly kind: 'prog'; readonly prog: Program };

const keyString = (key: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < key.length; i++) s += String.fromCharCode(key[i]);
  return s;
};

const u32le = (b: Uint8Array): number => (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;

/** struct bpf_map as a program that reads its fields sees it (6.18 layout: the 32-byte sha
 *  and `excl` come first; vmlinux BTF of the 6.18 kernel). */
export const BPF_MAP_STRUCT = {
  size: 296, map_type: 64, key_size: 68, value_size: 72, max_entries: 76, map_extra: 80, map_flags: 88, id: 92,
} as const;

function mapStruct(def: MapDef, id: number): Uint8Array {
  const b = new Uint8Array(BPF_MAP_STRUCT.size);
  const v = new DataView(b.buffer);
  v.setUint32(BPF_MAP_STRUCT.map_type, MAP_TYPES[def.type], true);
  v.setUint32(BPF_MAP_STRUCT.key_size, def.keySize, true);
  v.setUint32(BPF_MAP_STRUCT.value_size, def.valueSize, true);
  v.setUint32(BPF_MAP_STRUCT.max_entries, def.maxEntries, true);
  v.setBigUint64(BPF_MAP_STRUCT.map_extra, BigInt.asUintN(64, def.mapExtra ?? 0n), true);
  v.setUint32(BPF_MAP_STRUCT.map_flags, def.flags >>> 0, true);
  v.setUint32(BPF_MAP_STRUCT.id, id + 1, true);
  return b;
}

export class RtMap {
  /** The map's address, as a map ld_imm64 loads it: a read-only struct bpf_map. */
  readonly struct: Region;
  /** Low word of the map's address (its high word is `struct.hi`). */
  readonly handleLo: number;
  /** BPF_MAP_TYPE_ARENA: its pages. */
  readonly arena?: Arena;
  /** The cgroup storage maps: the one value a test run's cgroup has. */
  readonly storage?: Region;
  private readonly arrayRegion?: Region;
  private readonly stride: number;
  /** Hash-like maps: key -> slot, in insertion order (LRU evicts the oldest). */
  private readonly table = new Map<string, { key: Uint8Array; slot: Slot }>();
  /** Array-of-maps and prog arrays: index -> slot. */
  private readonly refs: (Slot | undefined)[] = [];

  constructor(
    readonly def: MapDef,
    readonly id: number,
    private readonly space: AddressSpace,
  ) {
    this.struct = space.add(`map ${def.name}`, mapStruct(def, id), false);
    this.handleLo = LO_BASE;
    this.stride = (def.valueSize + 7) & ~7;
    if (this.isArray) {
      this.arrayRegion = space.add(`map ${def.name} value`, new Uint8Array(this.stride * def.maxEntries));
    }
    if (def.type === 'ARENA') {
      this.arena = new Arena(def, space, id);
      space.fallback ??= this.arena; // the first; a run picks the program's own (useArenaOf)
    }
    if (def.type === 'CGROUP_STORAGE' || def.type === 'PERCPU_CGROUP_STORAGE') {
      this.storage = space.add(`map ${def.name} storage`, new Uint8Array(def.valueSize));
    }
  }

  get isArray(): boolean {
    return this.def.type === 'ARRAY' || this.def.type === 'PERCPU_ARRAY';
  }
  get isHash(): boolean {
    const t = this.def.type;
    return t === 'HASH' || t === 'PERCPU_HASH' || t === 'LRU_HASH' || t === 'LRU_PERCPU_HASH';
  }
  get holdsRefs(): boolean {
    const t = this.def.type;
    return t === 'PROG_ARRAY' || t === 'ARRAY_OF_MAPS' || t === 'HASH_OF_MAPS';
  }
  get handle(): { hi: number; lo: number } {
    return { hi: this.struct.hi, lo: this.handleLo };
  }

  /** The array slot index for a key, or -1. */
  private index(key: Uint8Array): number {
    const i = u32le(key);
    return i < this.def.maxEntries ? i : -1;
  }

  lookup(key: Uint8Array): Slot | undefined {
    if (this.arrayRegion) {
      const i = this.index(key);
      return i < 0 ? undefined : { kind: 'value', ref: { region: this.arrayRegion, off: i * this.stride } };
    }
    if (this.def.type === 'PROG_ARRAY' || this.def.type === 'ARRAY_OF_MAPS') {
      const i = this.index(key);
      return i < 0 ? undefined : this.refs[i];
    }
    const e = this.table.get(keyString(key));
    if (e && this.def.type.startsWith('LRU')) {
      // Refresh recency: re-insert at the end.
      this.table.delete(keyString(key));
      this.table.set(keyString(key), e);
    }
    return e?.slot;
  }

  /** The address a lookup hands back to the program. */
  static slotAddress(slot: Slot): { hi: number; lo: number } {
    if (slot.kind === 'value') return { hi: slot.ref.region.hi, lo: regionLo(slot.ref.off) };
    if (slot.kind === 'map') return slot.map.handle;
    return { hi: 0, lo: 0 };
  }

  /** Update with a value's bytes. Returns 0 or a negative errno. */
  update(key: Uint8Array, value: Uint8Array, flags: number): number {
    if (flags > BPF_EXIST && (flags & ~7) !== 0) return -EINVAL;
    const mode = flags & 3;
    if (this.arrayRegion) {
      const i = this.index(key);
      if (i < 0) return -E2BIG;
      if (mode === BPF_NOEXIST) return -EEXIST;
      this.arrayRegion.bytes.set(value.subarray(0, this.def.valueSize), i * this.stride);
      return 0;
    }
    if (this.isHash) {
      const k = keyString(key);
      const e = this.table.get(k);
      if (e && mode === BPF_NOEXIST) return -EEXIST;
      if (!e && mode === BPF_EXIST) return -ENOENT;
      if (e && e.slot.kind === 'value') {
        e.slot.ref.region.bytes.set(value.subarray(0, this.def.valueSize), e.slot.ref.off);
        return 0;
      }
      if (this.table.size >= this.def.maxEntries) {
        if (!this.def.type.startsWith('LRU')) return -E2BIG;
        const oldest = this.table.keys().next().value as string;
        this.table.delete(oldest);
      }
      const bytes = new Uint8Array(this.def.valueSize);
      bytes.set(value.subarray(0, this.def.valueSize));
      const region = this.space.add(`map ${this.def.name} elem`, bytes);
      this.table.set(k, { key: Uint8Array.from(key), slot: { kind: 'value', ref: { region, off: 0 } } });
      return 0;
    }
    return -EINVAL;
  }

  /** Store a reference (prog array, map-in-map). Returns 0 or a negative errno. */
  setRef(key: Uint8Array, slot: Slot): number {
    if (this.def.type === 'HASH_OF_MAPS') {
      if (this.table.size >= this.def.maxEntries && !this.table.has(keyString(key))) return -E2BIG;
      this.table.set(keyString(key), { key: Uint8Array.from(key), slot });
      return 0;
    }
    const i = this.index(key);
    if (i < 0) return -E2BIG;
    this.refs[i] = slot;
    return 0;
  }

  delete(key: Uint8Array): number {
    if (this.arrayRegion) return -EINVAL;
    if (this.def.type === 'PROG_ARRAY' || this.def.type === 'ARRAY_OF_MAPS') {
      const i = this.index(key);
      if (i < 0) return -E2BIG;
      if (!this.refs[i]) return -ENOENT;
      this.refs[i] = undefined;
      return 0;
    }
    // The element's region stays mapped: a program may still hold a pointer to it, which
    // in the kernel stays readable until an RCU grace period.
    return this.table.delete(keyString(key)) ? 0 : -ENOENT;
  }

  /** Keys in iteration order (hash: insertion order; arrays: 0..max_entries-1). */
  keys(): Uint8Array[] {
    if (this.arrayRegion || this.def.type === 'PROG_ARRAY' || this.def.type === 'ARRAY_OF_MAPS') {
      const out: Uint8Array[] = [];
      for (let i = 0; i < this.def.maxEntries; i++) {
        if (!this.arrayRegion && !this.refs[i]) continue;
        const k = new Uint8Array(4);
        new DataView(k.buffer).setUint32(0, i, true);
        out.push(k);
      }
      return out;
    }
    return [...this.table.values()].map((e) => e.key);
  }

  /** Number of live elements (arrays: max_entries). */
  get count(): number {
    if (this.arrayRegion) return this.def.maxEntries;
    if (this.holdsRefs && this.def.type !== 'HASH_OF_MAPS') return this.refs.filter(Boolean).length;
    return this.table.size;
  }

  /** Read a value's bytes (a copy), for tests and the CLI. */
  read(key: Uint8Array): Uint8Array | undefined {
    const s = this.lookup(key);
    if (!s || s.kind !== 'value') return undefined;
    return s.ref.region.bytes.slice(s.ref.off, s.ref.off + this.def.valueSize);
  }
}

/**
 * All maps of one run (or several runs that share state). Maps are keyed by name so that
 * a tail-called program whose own `maps` list names the same map sees the same instance.
 */
export class MapStore {
  readonly space = new AddressSpace();
  readonly maps: RtMap[] = [];
  private readonly byName = new Map<string, RtMap>();
  /** Maps by the high word of their address. */
  private readonly byHi = new Map<number, RtMap>();

  /** Create every map of `defs` and apply its initial contents. PROG_ARRAY values are u32
   *  indices into `progs`; ARRAY_OF_MAPS/HASH_OF_MAPS values are u32 indices into `defs`. */
  static fromDefs(defs: readonly MapDef[], progs: readonly (Program | undefined)[] = []): MapStore {
    const store = new MapStore();
    for (const d of defs) store.ensure(d);
    store.applyInit(defs, progs);
    return store;
  }

  ensure(def: MapDef): RtMap {
    const hit = this.byName.get(def.name);
    if (hit) return hit;
    const m = new RtMap(def, this.maps.length, this.space);
    this.maps.push(m);
    this.byName.set(def.name, m);
    this.byHi.set(m.struct.hi, m);
    return m;
  }

  get(name: string): RtMap | undefined {
    return this.byName.get(name);
  }

  byHandle(hi: number, lo: number): RtMap | undefined {
    return lo === LO_BASE ? this.byHi.get(hi) : undefined;
  }

  applyInit(defs: readonly MapDef[], progs: readonly (Program | undefined)[]): void {
    for (const d of defs) {
      const m = this.ensure(d);
      if (d.arenaData) m.arena?.placeGlobals(d.arenaData);
      for (const e of d.init ?? []) {
        if (d.type === 'PROG_ARRAY') {
          const p = progs[u32le(e.value)];
          if (p) m.setRef(e.key, { kind: 'prog', prog: p });
        } else if (d.type === 'ARRAY_OF_MAPS' || d.type === 'HASH_OF_MAPS') {
          const inner = defs[u32le(e.value)];
          if (inner) m.setRef(e.key, { kind: 'map', map: this.ensure(inner) });
        } else {
          m.update(e.key, e.value, BPF_ANY);
        }
      }
    }
  }
}

export function u32Key(i: number): Uint8Array {
  const k = new Uint8Array(4);
  new DataView(k.buffer).setUint32(0, i >>> 0, true);
  return k;
}
