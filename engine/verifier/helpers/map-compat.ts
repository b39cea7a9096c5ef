// check_map_func_compatibility: which helpers a map type may be passed to, and which map
// types a helper takes (both directions must agree).

import type { MapType } from '../../program/types.ts';
import { MAP_TYPES } from '../../program/types.ts';
import { reject, EINVAL } from '../reject.ts';

// Helper ids by name, for readability.
const H = {
  map_lookup_elem: 1, map_update_elem: 2, map_delete_elem: 3, tail_call: 12, perf_event_read: 22, perf_event_output: 25,
  get_stackid: 27, skb_under_cgroup: 33, current_task_under_cgroup: 37, redirect_map: 51, sk_redirect_map: 52,
  sock_map_update: 53, perf_event_read_value: 55, msg_redirect_map: 60, sock_hash_update: 70, msg_redirect_hash: 71,
  sk_redirect_hash: 72, get_local_storage: 81, sk_select_reuseport: 82, map_push_elem: 87, map_pop_elem: 88,
  map_peek_elem: 89, sk_storage_get: 107, sk_storage_delete: 108, skb_output: 111, xdp_output: 121,
  ringbuf_output: 130, ringbuf_reserve: 131, ringbuf_query: 134, ringbuf_reserve_dynptr: 198,
  ringbuf_submit_dynptr: 199, ringbuf_discard_dynptr: 200, user_ringbuf_drain: 209, map_lookup_percpu_elem: 195,
} as const;

/** may_update_sockmap: program types that may update or delete sockmap entries directly
 *  (a refusal is explained by a line of its own). */
function mayUpdateSockmap(progType: string, attach: string, id: number, note: (s: string) => void): boolean {
  if (id !== H.map_update_elem && id !== H.map_delete_elem) return false;
  switch (progType) {
    case 'TRACING': if (attach === 'TRACE_ITER') return true; break;
    case 'SOCK_OPS': if (id === H.map_delete_elem) return true; break;
    case 'SOCKET_FILTER': case 'SCHED_CLS': case 'SCHED_ACT': case 'XDP': case 'SK_REUSEPORT': case 'FLOW_DISSECTOR': case 'SK_LOOKUP':
      return true;
  }
  note('cannot update sockmap in this context\n');
  return false;
}

/** The helpers a map type is limited to (undefined: any helper, as far as the map goes). */
function mapAllows(t: MapType, id: number, progType: string, attach: string, note: (s: string) => void): boolean {
  const one = (...ids: number[]): boolean => ids.includes(id);
  switch (t) {
    case 'PROG_ARRAY': return one(H.tail_call);
    case 'PERF_EVENT_ARRAY': return one(H.perf_event_read, H.perf_event_output, H.skb_output, H.perf_event_read_value, H.xdp_output);
    case 'RINGBUF': return one(H.ringbuf_output, H.ringbuf_reserve, H.ringbuf_query, H.ringbuf_reserve_dynptr, H.ringbuf_submit_dynptr, H.ringbuf_discard_dynptr);
    case 'USER_RINGBUF': return one(H.user_ringbuf_drain);
    case 'STACK_TRACE': return one(H.get_stackid);
    case 'CGROUP_ARRAY': return one(H.skb_under_cgroup, H.current_task_under_cgroup);
    case 'CGROUP_STORAGE': case 'PERCPU_CGROUP_STORAGE': return one(H.get_local_storage);
    case 'DEVMAP': case 'DEVMAP_HASH': case 'XSKMAP': return one(H.redirect_map, H.map_lookup_elem);
    case 'CPUMAP': return one(H.redirect_map);
    case 'ARRAY_OF_MAPS': case 'HASH_OF_MAPS': return one(H.map_lookup_elem);
    case 'SOCKMAP':
      return one(H.sk_redirect_map, H.sock_map_update, H.msg_redirect_map, H.sk_select_reuseport, H.map_lookup_elem) || mayUpdateSockmap(progType, attach, id, note);
    case 'SOCKHASH':
      return one(H.sk_redirect_hash, H.sock_hash_update, H.msg_redirect_hash, H.sk_select_reuseport, H.map_lookup_elem) || mayUpdateSockmap(progType, attach, id, note);
    case 'REUSEPORT_SOCKARRAY': return one(H.sk_select_reuseport);
    case 'QUEUE': case 'STACK': return one(H.map_peek_elem, H.map_pop_elem, H.map_push_elem);
    case 'SK_STORAGE': return one(H.sk_storage_get, H.sk_storage_delete);
    case 'BLOOM_FILTER': return one(H.map_peek_elem, H.map_push_elem);
    default: return true;
  }
}

/** The map types a helper is limited to (undefined: any). */
function helperTakes(id: number): readonly MapType[] | undefined {
  switch (id) {
    case H.tail_call: return ['PROG_ARRAY'];
    case H.perf_event_read: case H.perf_event_output: case H.perf_event_read_value: case H.skb_output: case H.xdp_output:
      return ['PERF_EVENT_ARRAY'];
    case H.ringbuf_output: case H.ringbuf_reserve: case H.ringbuf_query: case H.ringbuf_reserve_dynptr:
    case H.ringbuf_submit_dynptr: case H.ringbuf_discard_dynptr:
      return ['RINGBUF'];
    case H.user_ringbuf_drain: return ['USER_RINGBUF'];
    case H.get_stackid: return ['STACK_TRACE'];
    case H.current_task_under_cgroup: case H.skb_under_cgroup: return ['CGROUP_ARRAY'];
    case H.redirect_map: return ['DEVMAP', 'DEVMAP_HASH', 'CPUMAP', 'XSKMAP'];
    case H.sk_redirect_map: case H.msg_redirect_map: case H.sock_map_update: return ['SOCKMAP'];
    case H.sk_redirect_hash: case H.msg_redirect_hash: case H.sock_hash_update: return ['SOCKHASH'];
    case H.get_local_storage: return ['CGROUP_STORAGE', 'PERCPU_CGROUP_STORAGE'];
    case H.sk_select_reuseport: return ['REUSEPORT_SOCKARRAY', 'SOCKMAP', 'SOCKHASH'];
    case H.map_pop_elem: return ['QUEUE', 'STACK'];
    case H.map_peek_elem: case H.map_push_elem: return ['QUEUE', 'STACK', 'BLOOM_FILTER'];
    case H.map_lookup_percpu_elem: return ['PERCPU_ARRAY', 'PERCPU_HASH', 'LRU_PERCPU_HASH'];
    case H.sk_storage_get: case H.sk_storage_delete: return ['SK_STORAGE'];
    default: return undefined;
  }
}

export function checkMapFuncCompatibility(t: MapType, id: number, name: string, progType: string, attach: string, note: (s: string) => void): void {
  const takes = helperTakes(id);
  if (mapAllows(t, id, progType, attach, note) && (!takes || takes.includes(t))) return;
  throw reject(EINVAL, `cannot pass map_type ${MAP_TYPES[t]} into func ${name}#${id}`);
}
