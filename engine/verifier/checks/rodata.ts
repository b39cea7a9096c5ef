// Loads from read-only global data (.rodata, `volatile const`): a frozen array map that
// programs may only read (BPF_F_RDONLY_PROG) cannot change any more, so a load at a known
// offset reads its bytes at verification time (bpf_map_is_rdonly + bpf_map_direct_read).

import type { MapDef } from '../../program/types.ts';
import type { RegState } from '../state/types.ts';
import { isConst, constValue } from '../scalar-api.ts';

const BPF_F_RDONLY_PROG = 1 << 7;

/** bpf_map_is_rdonly, for the maps that can be read directly (single-entry arrays). */
export function isRdonlyMap(def: MapDef): boolean {
  return (def.flags & BPF_F_RDONLY_PROG) !== 0 && def.frozen === true && def.type === 'ARRAY' && def.maxEntries === 1;
}

/** The map's single value as created (zeroes where the initial contents leave off). */
export function mapValueBytes(def: MapDef): Uint8Array {
  const out = new Uint8Array(def.valueSize);
  for (const e of def.init ?? []) if (e.key.every((b) => b === 0)) out.set(e.value.subarray(0, def.valueSize));
  return out;
}

/** The value a load of `size` bytes at `off` (past the pointer's fixed offset) reads, when
 *  the pointer's offset is known and the map read-only; undefined otherwise. */
export function rodataLoad(reg: RegState, off: number, size: number, signExtend: boolean): bigint | undefined {
  const def = reg.map?.def;
  if (!def || !isConst(reg.s) || !isRdonlyMap(def)) return undefined;
  const at = off + Number(BigInt.asIntN(64, constValue(reg.s)));
  const bytes = mapValueBytes(def);
  if (at < 0 || at + size > bytes.length) return undefined;
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
  return signExtend ? BigInt.asUintN(64, BigInt.asIntN(size * 8, v)) : v;
}
