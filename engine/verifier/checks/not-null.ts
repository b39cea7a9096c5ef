// mark_ptr_not_null_reg: what a maybe-NULL pointer is once known non-NULL. A lookup in a
// map of maps gives the inner map; in an XSKMAP an xdp socket; in a SOCKMAP/SOCKHASH a
// socket; in any other map its value. Other pointers just lose the flag.

import { RegType, PTR_MAYBE_NULL, baseType } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import type { MapDef } from '../../program/types.ts';

/** The inner map as the verifier knows it: a template without a name. */
const metas = new WeakMap<MapDef, MapDef>();
function innerMeta(inner: MapDef): MapDef {
  let m = metas.get(inner);
  if (!m) metas.set(inner, (m = { ...inner, name: '' }));
  return m;
}

export function markPtrNotNull(r: RegState): void {
  if (baseType(r.type) === RegType.PTR_TO_MAP_VALUE && r.map) {
    const def = r.map.def;
    if (def.inner) {
      r.type = RegType.CONST_PTR_TO_MAP;
      // The inner map has no slot of its own: it keeps the outer map's index.
      r.map = { index: r.map.index, def: innerMeta(def.inner) };
    } else if (def.type === 'XSKMAP') r.type = RegType.PTR_TO_XDP_SOCK;
    else if (def.type === 'SOCKMAP' || def.type === 'SOCKHASH') r.type = RegType.PTR_TO_SOCKET;
    else r.type = RegType.PTR_TO_MAP_VALUE;
    return;
  }
  r.type &= ~PTR_MAYBE_NULL;
}
