// Special fields of a map value, found in its BTF the way the kernel's btf_parse_fields
// finds them: by the member's struct name (bpf_spin_lock, bpf_timer, ...), nested structs
// and arrays included. Maps without value BTF have none.

import type { BtfTypeDesc, MapDef } from '../../program/types.ts';
import { reject, EACCES } from '../reject.ts';

export type FieldKind = 'bpf_spin_lock' | 'bpf_res_spin_lock' | 'bpf_timer' | 'bpf_wq';

export interface MapField {
  readonly kind: FieldKind;
  readonly off: number;
  readonly size: number;
}

const SPECIAL = new Set<string>(['bpf_spin_lock', 'bpf_res_spin_lock', 'bpf_timer', 'bpf_wq']);

function collect(t: BtfTypeDesc, base: number, out: MapField[]): void {
  if (t.kind === 'array') {
    const size = sizeOf(t.type);
    for (let i = 0; i < t.len; i++) collect(t.type, base + i * size, out);
    return;
  }
  if (t.kind !== 'struct' && t.kind !== 'union') return;
  for (const m of t.members) {
    const mt = m.type;
    if ((mt.kind === 'struct' || mt.kind === 'union') && SPECIAL.has(mt.name)) out.push({ kind: mt.name as FieldKind, off: base + m.offset, size: mt.size });
    else collect(mt, base + m.offset, out);
  }
}

function sizeOf(t: BtfTypeDesc): number {
  switch (t.kind) {
    case 'int': case 'struct': case 'union': return t.size;
    case 'ptr': return 8;
    case 'array': return t.len * sizeOf(t.type);
    default: return 0;
  }
}

const cache = new WeakMap<MapDef, readonly MapField[]>();

/** The special fields of `def`'s value, by offset. */
export function mapFields(def: MapDef): readonly MapField[] {
  let f = cache.get(def);
  if (!f) {
    const out: MapField[] = [];
    if (def.btf?.value) collect(def.btf.value, 0, out);
    f = out;
    cache.set(def, f);
  }
  return f;
}

export const hasBtf = (def: MapDef): boolean => def.btf?.value !== undefined;
export const fieldOf = (def: MapDef, kind: FieldKind): MapField | undefined => mapFields(def).find((f) => f.kind === kind);

/** check_map_access: no load, store or helper access may touch a special field. `off`
 *  includes the pointer's fixed offset. */
export function checkFieldOverlap(def: MapDef, smin: bigint, umax: bigint, off: number, size: number): void {
  for (const f of mapFields(def)) {
    if (smin + BigInt(off) < BigInt(f.off + f.size) && BigInt(f.off) < umax + BigInt(off + size)) {
      throw reject(EACCES, `${f.kind} cannot be accessed directly by load/store`);
    }
  }
}
