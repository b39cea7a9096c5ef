// The dynptr kfuncs the stack-arg programs use, over the kernel's struct bpf_dynptr_kern
// layout (6.18 include/linux/bpf.h): data pointer at 0, u32 size at 8 (low 24 bits the size,
// then the type and the read-only bit), u32 offset at 12.

import type { KfuncFn, Machine } from '../machine.ts';
import { regionLo } from '../memory.ts';
import { viewAt } from './mem.ts';

export const DYNPTR_BYTES = 16;
export const DYNPTR_SIZE_MASK = 0xffffff;
const DYNPTR_TYPE_SHIFT = 28;
/** enum bpf_dynptr_type (6.18): BPF_DYNPTR_TYPE_SKB. */
const DYNPTR_TYPE_SKB = 3;
const EINVAL = 22, ERANGE = 34;

export const dynptrView = (m: Machine, p: bigint, write = false): DataView => viewAt(m, p, DYNPTR_BYTES, write);

/** bpf_dynptr_from_skb(skb, flags, ptr): the whole linear packet; flags must be 0. */
const fromSkb: KfuncFn = (m) => {
  const v = dynptrView(m, m.argU64(3), true);
  const skb = m.skb;
  for (let i = 0; i < DYNPTR_BYTES; i += 4) v.setUint32(i, 0, true);
  if (m.argU64(2) !== 0n || !skb) return void m.setR0(-EINVAL);
  v.setUint32(0, regionLo(skb.dataOff), true);
  v.setUint32(4, skb.region.hi, true);
  v.setUint32(8, (skb.len & DYNPTR_SIZE_MASK) | (DYNPTR_TYPE_SKB << DYNPTR_TYPE_SHIFT), true);
  m.setR0(0);
};

/** bpf_dynptr_adjust(p, start, end): a window [start, end) of the current view. */
const adjust: KfuncFn = (m) => {
  const v = dynptrView(m, m.argU64(1), true);
  const start = m.argU32(2), end = m.argU32(3);
  const word = v.getUint32(8, true);
  const size = word & DYNPTR_SIZE_MASK;
  if (start > end) return void m.setR0(-EINVAL);
  if (end > size) return void m.setR0(-ERANGE);
  v.setUint32(12, (v.getUint32(12, true) + start) >>> 0, true);
  v.setUint32(8, ((word & ~DYNPTR_SIZE_MASK) | (end - start)) >>> 0, true);
  m.setR0(0);
};

const size: KfuncFn = (m) => m.setR0(dynptrView(m, m.argU64(1)).getUint32(8, true) & DYNPTR_SIZE_MASK);

export const DYNPTR_KFUNCS: Readonly<Record<string, KfuncFn>> = {
  bpf_dynptr_from_skb: fromSkb,
  bpf_dynptr_adjust: adjust,
  bpf_dynptr_size: size,
};
