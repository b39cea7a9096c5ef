// Map definitions of a BPF object, the three ways libbpf finds them:
//  - BTF-defined maps in `.maps` (`__uint(type, ...)`, `__type(key, ...)`, `__array(values, ...)`);
//  - the legacy `maps` section (struct bpf_map_def records, 5 u32 fields);
//  - global data sections (.data*, .rodata*, .bss*), each an array map with one value.

import { MAP_TYPES, type MapType } from '../program/types.ts';
import { skipModifiers, typeById, typeSize } from '../btf/resolve.ts';
import type { Btf } from '../btf/types.ts';
import { SHT, type ElfFile } from './format.ts';

/** Map flags libbpf sets on internal maps (uapi BPF_F_*). */
export const BPF_F_RDONLY_PROG = 1 << 7;
export const BPF_F_MMAPABLE = 1 << 10;

export interface ObjMapSlot {
  /** Index into the `values` array (= the key for prog arrays and map-in-map). */
  readonly index: number;
  /** Symbol the slot points at: a program (prog array) or a map (map-in-map). */
  readonly target: string;
}

export interface ObjMap {
  /** The C variable name (BTF/legacy maps) or the section name (global data). */
  readonly name: string;
  readonly kind: 'btf' | 'legacy' | 'data';
  /** ELF section the definition (or data) lives in, and its byte offset there. */
  readonly section: string;
  readonly sectionIndex: number;
  readonly offset: number;
  readonly type: MapType;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  /** BTF ids of the key and value types, when declared with __type(). */
  readonly keyType?: number;
  readonly valueType?: number;
  /** map-in-map: the inner map's definition. */
  readonly inner?: ObjMap;
  /** `.values = { [i] = &x }` initialisers. */
  readonly slots?: readonly ObjMapSlot[];
  /** Global data: the section's initial bytes (absent for .bss). */
  readonly data?: Uint8Array;
  readonly numaNode?: number;
  readonly pinning?: number;
  readonly mapExtra?: bigint;
}

const MAP_TYPE_BY_NUMBER: ReadonlyMap<number, MapType> = new Map(
  Object.entries(MAP_TYPES).map(([k, v]) => [v, k as MapType]),
);

export function mapTypeName(n: number, fail: (m: string) => never, where: string): MapType {
  const t = MAP_TYPE_BY_NUMBER.get(n);
  if (t === undefined || t === 'UNSPEC') return fail(`${where}: unknown map type ${n}`);
  return t;
}

/** Identifier-safe name for a global data section: `.rodata.str1.1` -> `rodata_str1_1`. */
export function dataMapName(section: string): string {
  return section.replace(/^\./, '').replace(/[^A-Za-z0-9_]/g, '_');
}

export function readMaps(elf: ElfFile, btf: Btf | undefined, fail: (m: string) => never): ObjMap[] {
  return withArenaData(elf, [...btfMaps(elf, btf, fail), ...legacyMaps(elf, fail), ...dataMaps(elf)]);
}

/** The section clang puts `__arena` globals in (address space 1). */
const ARENA_SECTION = '.addr_space.1';

/** libbpf gives the object's one arena map the `__arena` globals as its initial data. */
function withArenaData(elf: ElfFile, maps: ObjMap[]): ObjMap[] {
  const sec = elf.sections.find((s) => s.name === ARENA_SECTION);
  if (!sec || sec.size === 0) return maps;
  const data = sec.type === SHT.NOBITS ? new Uint8Array(sec.size) : sec.data;
  let done = false;
  return maps.map((m) => {
    if (m.type !== 'ARENA' || done) return m;
    done = true;
    return { ...m, data };
  });
}

function btfMaps(elf: ElfFile, btf: Btf | undefined, fail: (m: string) => never): ObjMap[] {
  const sec = elf.sections.find((s) => s.name === '.maps');
  if (!sec) return [];
  if (!btf) return fail('.maps section without BTF (BTF-defined maps need clang -g)');
  const ds = btf.types.find((t) => t.kind === 'DATASEC' && t.name === '.maps');
  if (!ds || ds.kind !== 'DATASEC') return fail('.maps section has no BTF DATASEC');
  const rels = elf.rels.get(sec.index) ?? [];
  const out: ObjMap[] = [];
  for (const v of ds.vars) {
    const vt = typeById(btf, v.type);
    if (vt.kind !== 'VAR') fail(`.maps DATASEC entry [${v.type}] is a ${vt.kind}, not a VAR`);
    const where = `map ${vt.name}`;
    const def = parseMapStruct(btf, vt.type, where, fail);
    // clang leaves DATASEC offsets for libbpf to fill in from the symbol table: use the symbol.
    const sym = elf.symbols.find((s) => s.shndx === sec.index && s.name === vt.name);
    if (!sym) return fail(`${where}: no symbol in .maps`);
    const size = sym.size || v.size;
    if (sym.value + size > sec.size) fail(`${where}: definition runs past the .maps section`);
    // `.values = { [i] = &sym }`: relocations inside the variable, at the `values` member.
    const slots: ObjMapSlot[] = [];
    if (def.valuesOffset !== undefined) {
      for (const r of rels) {
        if (r.offset < sym.value || r.offset >= sym.value + size) continue;
        const rel = r.offset - sym.value - def.valuesOffset;
        if (rel < 0 || rel % 8 !== 0) fail(`${where}: relocation at +${r.offset - sym.value} is not a values[] slot`);
        slots.push({ index: rel / 8, target: elf.symbols[r.sym].name });
      }
    }
    const maxEntries = def.maxEntries ?? (slots.length ? Math.max(...slots.map((s) => s.index)) + 1 : 0);
    out.push({
      name: vt.name,
      kind: 'btf',
      section: '.maps',
      sectionIndex: sec.index,
      offset: sym.value,
      type: def.type,
      keySize: def.keySize,
      valueSize: def.valueSize,
      maxEntries,
      flags: def.flags,
      ...(def.keyType !== undefined ? { keyType: def.keyType } : {}),
      ...(def.valueType !== undefined ? { valueType: def.valueType } : {}),
      ...(def.inner ? { inner: def.inner } : {}),
      ...(slots.length ? { slots: slots.sort((a, b) => a.index - b.index) } : {}),
      ...(def.numaNode !== undefined ? { numaNode: def.numaNode } : {}),
      ...(def.pinning !== undefined ? { pinning: def.pinning } : {}),
      ...(def.mapExtra !== undefined ? { mapExtra: def.mapExtra } : {}),
    });
  }
  return out;
}

interface ParsedDef {
  type: MapType;
  keySize: number;
  valueSize: number;
  maxEntries?: number;
  flags: number;
  keyType?: number;
  valueType?: number;
  inner?: ObjMap;
  valuesOffset?: number;
  numaNode?: number;
  pinning?: number;
  mapExtra?: bigint;
}

/** One BTF map definition struct (libbpf's parse_btf_map_def, by reading). */
function parseMapStruct(btf: Btf, id: number, where: string, fail: (m: string) => never, depth = 0): ParsedDef {
  if (depth > 1) fail(`${where}: map-in-map nests more than one level`);
  const st = typeById(btf, skipModifiers(btf, id));
  if (st.kind !== 'STRUCT') return fail(`${where}: definition is a ${st.kind}, not a struct`);
  // __uint(name, val) is `int (*name)[val]`: a pointer to an array of `val` elements.
  const uint = (memberType: number, name: string): number => {
    const p = typeById(btf, skipModifiers(btf, memberType));
    // __ulong(name, val) is an enum with one enumerator of that value.
    if ((p.kind === 'ENUM' || p.kind === 'ENUM64') && p.values.length === 1) return Number(BigInt.asUintN(53, p.values[0].value));
    if (p.kind !== 'PTR') return fail(`${where}: ${name} is not declared with __uint()`);
    const a = typeById(btf, skipModifiers(btf, p.type));
    if (a.kind !== 'ARRAY') return fail(`${where}: ${name} is not declared with __uint()`);
    return a.nelems;
  };
  const pointee = (memberType: number, name: string): number => {
    const p = typeById(btf, skipModifiers(btf, memberType));
    if (p.kind !== 'PTR') return fail(`${where}: ${name} is not declared with __type()`);
    return p.type;
  };
  const sizeOf = (tid: number, name: string): number => {
    const s = typeSize(btf, tid);
    if (s === undefined) return fail(`${where}: ${name} type has no size`);
    return s;
  };
  let typeNo: number | undefined;
  const d: Omit<ParsedDef, 'type'> = { keySize: 0, valueSize: 0, flags: 0 };
  let innerId: number | undefined;
  for (const m of st.members) {
    switch (m.name) {
      case 'type':
        typeNo = uint(m.type, m.name);
        break;
      case 'max_entries':
        d.maxEntries = uint(m.type, m.name);
        break;
      case 'map_flags':
        d.flags = uint(m.type, m.name);
        break;
      case 'numa_node':
        d.numaNode = uint(m.type, m.name);
        break;
      case 'pinning':
        d.pinning = uint(m.type, m.name);
        break;
      case 'map_extra':
        d.mapExtra = BigInt(uint(m.type, m.name));
        break;
      case 'key_size':
        d.keySize = uint(m.type, m.name);
        break;
      case 'value_size':
        d.valueSize = uint(m.type, m.name);
        break;
      case 'key':
        d.keyType = pointee(m.type, m.name);
        d.keySize = sizeOf(d.keyType, m.name);
        break;
      case 'value':
        d.valueType = pointee(m.type, m.name);
        d.valueSize = sizeOf(d.valueType, m.name);
        break;
      case 'values': {
        // __array(values, struct inner): an array of pointers to the inner definition (map
        // in map) or to a function prototype (prog array).
        if (m.bitOffset % 8 !== 0) fail(`${where}: values is not byte aligned`);
        d.valuesOffset = m.bitOffset / 8;
        const a = typeById(btf, skipModifiers(btf, m.type));
        if (a.kind !== 'ARRAY') return fail(`${where}: values is not an array`);
        const p = typeById(btf, skipModifiers(btf, a.type));
        if (p.kind !== 'PTR') return fail(`${where}: values is not an array of pointers`);
        const target = typeById(btf, skipModifiers(btf, p.type));
        if (target.kind === 'STRUCT') innerId = target.id;
        else if (target.kind !== 'FUNC_PROTO') fail(`${where}: values points at a ${target.kind}`);
        break;
      }
      default:
        fail(`${where}: unknown map attribute '${m.name}'`);
    }
  }
  if (typeNo === undefined) return fail(`${where}: no map type`);
  const type = mapTypeName(typeNo, fail, where);
  if (innerId !== undefined) {
    const i = parseMapStruct(btf, innerId, `${where} (inner map)`, fail, depth + 1);
    d.inner = {
      name: `${where.replace(/^map /, '')}.inner`,
      kind: 'btf',
      section: '.maps',
      sectionIndex: 0,
      offset: 0,
      type: i.type,
      keySize: i.keySize,
      valueSize: i.valueSize,
      maxEntries: i.maxEntries ?? 0,
      flags: i.flags,
      ...(i.keyType !== undefined ? { keyType: i.keyType } : {}),
      ...(i.valueType !== undefined ? { valueType: i.valueType } : {}),
    };
    // Map-in-map values are map fds: 4 bytes.
    if (d.valueSize === 0) d.valueSize = 4;
    if (d.keySize === 0) d.keySize = 4;
  }
  if (type === 'PROG_ARRAY') {
    if (d.keySize === 0) d.keySize = 4;
    if (d.valueSize === 0) d.valueSize = 4;
  }
  return { type, ...d };
}

/** struct bpf_map_def { u32 type, key_size, value_size, max_entries, map_flags; } records. */
function legacyMaps(elf: ElfFile, fail: (m: string) => never): ObjMap[] {
  const sec = elf.sections.find((s) => s.name === 'maps');
  if (!sec) return [];
  const syms = elf.symbols.filter((s) => s.shndx === sec.index && s.name && s.type !== 3).sort((a, b) => a.value - b.value);
  if (!syms.length) return [];
  const recSize = Math.floor(sec.size / syms.length);
  if (recSize < 20) fail(`legacy maps section: ${recSize}-byte records are too small`);
  const dv = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  return syms.map((s) => {
    if (s.value + 20 > sec.size) fail(`legacy map ${s.name} runs past the section`);
    const u = (i: number) => dv.getUint32(s.value + i * 4, true);
    return {
      name: s.name,
      kind: 'legacy' as const,
      section: 'maps',
      sectionIndex: sec.index,
      offset: s.value,
      type: mapTypeName(u(0), fail, `legacy map ${s.name}`),
      keySize: u(1),
      valueSize: u(2),
      maxEntries: u(3),
      flags: u(4),
    };
  });
}

function dataMaps(elf: ElfFile): ObjMap[] {
  const out: ObjMap[] = [];
  for (const s of elf.sections) {
    if (!isData(s.name, s.type) || s.size === 0) continue;
    const rodata = s.name === '.rodata' || s.name.startsWith('.rodata.');
    out.push({
      name: dataMapName(s.name),
      kind: 'data',
      section: s.name,
      sectionIndex: s.index,
      offset: 0,
      type: 'ARRAY',
      keySize: 4,
      valueSize: s.size,
      maxEntries: 1,
      flags: (rodata ? BPF_F_RDONLY_PROG : 0) | BPF_F_MMAPABLE,
      ...(s.type === SHT.NOBITS ? {} : { data: s.data }),
    });
  }
  return out;
}

function isData(name: string, type: number): boolean {
  if (type === SHT.NOBITS) return name === '.bss' || name.startsWith('.bss.');
  if (type !== SHT.PROGBITS) return false;
  return name === '.data' || name.startsWith('.data.') || name === '.rodata' || name.startsWith('.rodata.');
}
