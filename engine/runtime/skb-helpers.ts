// skb and cgroup helpers whose results a test run's packet decides (6.18 net/core/filter.c,
// kernel/bpf/helpers.c). The test run's skb is linear, has no socket, no checksum state
// (CHECKSUM_NONE) and belongs to one cgroup whose storage starts zeroed.

import type { HelperFn, Machine } from './machine.ts';
import { EINVAL, ENOTSUPP } from './maps.ts';
import { regionLo } from './memory.ts';
import { SKB } from './context.ts';

/** The largest skb a helper may grow (6.18 BPF_SKB_MAX_LEN = SKB_MAX_ALLOC on 4K pages). */
export const BPF_SKB_MAX_LEN = 16064;
/** What bpf_get_hash_recalc returns here. The kernel hashes the flow keys with a per-boot
 *  random seed (and never returns 0), so no fixed value matches it; any nonzero one is as
 *  good, and this one is recognisable. */
export const RECALC_HASH = 0x9e3779b9;

/** bpf_get_local_storage(map, flags): the run's cgroup storage value of the map. */
const getLocalStorage: HelperFn = (m) => {
  const map = m.argMap(1);
  if (!map.storage) { m.setR0(0); return; }
  m.lo[0] = regionLo(0); m.hi[0] = map.storage.hi;
};

/** bpf_csum_update(skb, csum): only a CHECKSUM_COMPLETE skb has a csum to update. */
const csumUpdate: HelperFn = (m) => m.setR0(-ENOTSUPP);

/** bpf_get_hash_recalc(skb): recompute skb->hash (also visible as __sk_buff.hash). */
const getHashRecalc: HelperFn = (m) => {
  m.ctxRegion?.view.setUint32(SKB.hash, RECALC_HASH, true);
  m.setR0(RECALC_HASH);
};

/** bpf_skb_change_head(skb, head_room, flags): push `head_room` zero bytes in front of the
 *  data (the mac header starts there); the packet moves, so old packet pointers die. */
const skbChangeHead: HelperFn = (m: Machine) => {
  const skb = m.skb;
  const room = m.argU32(2);
  const newLen = skb ? (skb.len + room) >>> 0 : 0;
  if (!skb || m.argU64(3) !== 0n || newLen > BPF_SKB_MAX_LEN || newLen < skb.len) { m.setR0(-EINVAL); return; }
  const old = skb.region.bytes;
  const bytes = new Uint8Array(old.length + room);
  bytes.set(old, room);
  bytes.fill(0, skb.dataOff, skb.dataOff + room);
  const region = m.space.add(skb.region.name, bytes);
  m.space.release(skb.region);
  m.skb = { region, dataOff: skb.dataOff, len: newLen, netOff: skb.netOff + room, macOff: 0 };
  m.ctxRegion?.view.setUint32(SKB.len, newLen, true);
  m.setR0(0);
};

export const SKB_HELPERS: Readonly<Record<string, HelperFn>> = {
  bpf_get_local_storage: getLocalStorage,
  bpf_csum_update: csumUpdate,
  bpf_get_hash_recalc: getHashRecalc,
  bpf_skb_change_head: skbChangeHead,
};
