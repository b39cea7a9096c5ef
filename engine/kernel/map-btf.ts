// Key/value BTF for a map (BPF_MAP_CREATE's btf_fd, btf_key_type_id, btf_value_type_id), built
// from the spec's type descriptions. The kernel needs it for sk/inode/task storage maps and to
// find special fields in values (bpf_spin_lock, bpf_timer, kptrs), which it does by struct name
// and size, so the description carries those and member offsets.

import type { MapDef } from '../program/types.ts';
import { BtfWriter } from './btf-writer.ts';

export interface MapBtf {
  readonly btf: Uint8Array;
  readonly keyTypeId: number;
  readonly valueTypeId: number;
}

export function mapBtfFor(types: NonNullable<MapDef['btf']>): MapBtf {
  const w = new BtfWriter();
  const keyTypeId = types.key ? w.desc(types.key) : 0;
  const valueTypeId = types.value ? w.desc(types.value) : 0;
  return { btf: w.finish(), keyTypeId, valueTypeId };
}
