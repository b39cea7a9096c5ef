// A CONST_PTR_TO_MAP may be read as the kernel struct behind the map only with
// CAP_PERFMON; the message names that struct (map->ops->map_btf_id). 6.18 refuses with
// EPERM (6.12 said EACCES).

import type { MapDef } from '../../program/types.ts';
import { reject, EPERM } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';

/** The kernel struct each map type's ops describe (x86-64, 6.18). */
const MAP_STRUCT: Record<string, string> = {
  ARRAY: 'bpf_array', PERCPU_ARRAY: 'bpf_array', PROG_ARRAY: 'bpf_array', PERF_EVENT_ARRAY: 'bpf_array',
  CGROUP_ARRAY: 'bpf_array', ARRAY_OF_MAPS: 'bpf_array',
  HASH: 'bpf_htab', PERCPU_HASH: 'bpf_htab', LRU_HASH: 'bpf_htab', LRU_PERCPU_HASH: 'bpf_htab', HASH_OF_MAPS: 'bpf_htab',
  LPM_TRIE: 'lpm_trie', STACK_TRACE: 'bpf_stack_map', QUEUE: 'bpf_queue_stack', STACK: 'bpf_queue_stack',
  RINGBUF: 'bpf_ringbuf_map', USER_RINGBUF: 'bpf_ringbuf_map', BLOOM_FILTER: 'bpf_bloom_filter',
  SK_STORAGE: 'bpf_local_storage_map', INODE_STORAGE: 'bpf_local_storage_map', TASK_STORAGE: 'bpf_local_storage_map',
  CGRP_STORAGE: 'bpf_local_storage_map', CGROUP_STORAGE: 'bpf_cgroup_storage_map', PERCPU_CGROUP_STORAGE: 'bpf_cgroup_storage_map',
  DEVMAP: 'bpf_dtab', DEVMAP_HASH: 'bpf_dtab', CPUMAP: 'bpf_cpu_map', XSKMAP: 'xsk_map', SOCKMAP: 'bpf_stab',
  SOCKHASH: 'bpf_shtab', REUSEPORT_SOCKARRAY: 'reuseport_array', ARENA: 'bpf_arena',
};

/** check_ptr_to_map_access's privilege gate; a no-op with CAP_PERFMON. */
export function checkMapPtrAccessUnpriv(env: VerifierEnv, def: MapDef): void {
  if (env.allowPtrLeaks) return;
  const name = MAP_STRUCT[def.type];
  if (name) throw reject(EPERM, `'struct ${name}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN`);
}

/** The vmlinux struct behind a map of this type (map->ops->map_btf_id), if it has one. */
export const mapStructName = (def: MapDef): string | undefined => MAP_STRUCT[def.type];
