// check_map_prog_compatibility: maps whose values hold a spin lock, timer or workqueue are
// not usable by tracing programs (nor a spin lock by socket filters); run as each map is
// first referenced by an ld_imm64, before do_check.

import type { MapDef } from '../../program/types.ts';
import { reject, EINVAL } from '../reject.ts';
import { fieldOf } from '../checks/map-fields.ts';

const TRACING = new Set(['KPROBE', 'TRACEPOINT', 'PERF_EVENT', 'RAW_TRACEPOINT', 'RAW_TRACEPOINT_WRITABLE']);

export function checkMapProgCompatibility(map: MapDef, progType: string): void {
  const tracing = TRACING.has(progType);
  if (fieldOf(map, 'bpf_spin_lock')) {
    if (progType === 'SOCKET_FILTER') throw reject(EINVAL, 'socket filter progs cannot use bpf_spin_lock yet');
    if (tracing) throw reject(EINVAL, 'tracing progs cannot use bpf_spin_lock yet');
  }
  if (fieldOf(map, 'bpf_timer') && tracing) throw reject(EINVAL, 'tracing progs cannot use bpf_timer yet');
  if (fieldOf(map, 'bpf_wq') && tracing) throw reject(EINVAL, 'tracing progs cannot use bpf_wq yet');
  if (map.type === 'STRUCT_OPS') throw reject(EINVAL, 'bpf_struct_ops map cannot be used in prog');
}
