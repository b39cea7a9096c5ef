// Kernel kfuncs the ported selftest corpus calls, as the 6.18 kernel implements them. A
// corpus program calls them by the running kernel's vmlinux BTF id, which the suite records
// next to the name (`kfuncs:` in a spec); kfuncsByName binds ids to these by that name.

import type { KfuncFn, Machine } from '../machine.ts';
import { RuntimeFault, regionLo } from '../memory.ts';
import { bytesAt, viewAt } from './mem.ts';
import { DYNPTR_SIZE_MASK, dynptrView } from './dynptr.ts';

const EINVAL = 22, E2BIG = 7, EFAULT = 14;

// ---- arena ----------------------------------------------------------------------------

function arenaOf(m: Machine, reg: number): NonNullable<ReturnType<Machine['argMap']>['arena']> | undefined {
  return m.argMap(reg).arena;
}

/** bpf_arena_alloc_pages(map, addr__ign, page_cnt, node_id, flags): user address or NULL. */
const arenaAllocPages: KfuncFn = (m) => {
  const a = arenaOf(m, 1);
  m.setR0(a ? a.alloc(m.argU64(2), m.argU32(3), m.argI32(4), m.argU64(5)) : 0n);
};

/** bpf_arena_free_pages(map, ptr__ign, page_cnt). */
const arenaFreePages: KfuncFn = (m) => {
  arenaOf(m, 1)?.free(m.argU64(2), m.argU32(3));
};

// ---- bits iterator: struct bpf_iter_bits_kern { u64 *bits / u64 bits_copy; int nr_bits; int bit; }

const BITS_ITER_NR_WORDS_MAX = 511;
/** bpf_mem_alloc's largest object (6.18 BPF_MEM_ALLOC_SIZE_MAX). */
const MEM_ALLOC_SIZE_MAX = 4096;
const IT_BITS = 0, IT_NR_BITS = 8, IT_BIT = 12, IT_SIZE = 16;

/** bpf_iter_bits_new(it, unsafe_ptr__ign, nr_words): copy the words (one inline, more in an
 *  allocation); 0 or a negative errno, with the iterator empty on failure. */
const bitsNew: KfuncFn = (m) => {
  const it = viewAt(m, m.argU64(1), IT_SIZE, true);
  const src = m.argU64(2);
  const nrWords = m.argU32(3);
  const nrBytes = (nrWords * 8) >>> 0;
  const nrBits = (nrBytes * 8) >>> 0;
  it.setBigUint64(IT_BITS, 0n, true);
  it.setInt32(IT_NR_BITS, 0, true);
  it.setInt32(IT_BIT, -1, true);
  if (src === 0n || nrWords === 0) return void m.setR0(-EINVAL);
  if (nrWords > BITS_ITER_NR_WORDS_MAX) return void m.setR0(-E2BIG);
  const u = BigInt.asUintN(64, src);
  const from = m.space.tryResolve(Number(u >> 32n), Number(u & 0xffffffffn), nrBytes, false);
  const bytes = from ? from.bytes.slice(m.space.off, m.space.off + nrBytes) : undefined;
  if (nrBits === 64) {
    if (!bytes) return void m.setR0(-EFAULT);
    it.setBigUint64(IT_BITS, new DataView(bytes.buffer).getBigUint64(0, true), true);
  } else {
    if (nrBytes > MEM_ALLOC_SIZE_MAX) return void m.setR0(-E2BIG);
    if (!bytes) return void m.setR0(-EFAULT);
    const copy = m.space.add('bits iterator words', bytes, false);
    it.setUint32(IT_BITS, regionLo(0), true);
    it.setUint32(IT_BITS + 4, copy.hi, true);
  }
  it.setInt32(IT_NR_BITS, nrBits | 0, true);
  m.setR0(0);
};

/** bpf_iter_bits_next(it): &it->bit of the next set bit, or NULL. */
const bitsNext: KfuncFn = (m) => {
  const p = m.argU64(1);
  const it = viewAt(m, p, IT_SIZE, true);
  const nrBits = it.getInt32(IT_NR_BITS, true);
  let bit = it.getInt32(IT_BIT, true);
  if (nrBits === 0 || bit >= nrBits) return void m.setR0(0);
  const words = nrBits === 64 ? bytesAt(m, p + BigInt(IT_BITS), 8) : bytesAt(m, it.getBigUint64(IT_BITS, true), nrBits / 8);
  for (bit++; bit < nrBits; bit++) if (words[bit >> 3] & (1 << (bit & 7))) break;
  it.setInt32(IT_BIT, Math.min(bit, nrBits), true);
  m.setR0(bit >= nrBits ? 0n : p + BigInt(IT_BIT));
};

/** bpf_iter_bits_destroy(it): nothing to free here (the run's regions go with the run). */
const bitsDestroy: KfuncFn = () => {};

// ---- dynptr slices ------------------------------------------------------------------------

const DYNPTR_RDONLY_BIT = 1 << 31;

/** bpf_dynptr_slice(p, offset, buffer__opt, buffer__szk): a pointer to `len` bytes at
 *  `offset` of the dynptr's data, or NULL when they are out of range. The interpreter's
 *  dynptr data (the linear packet, a local buffer) is always contiguous, so the buffer is
 *  never needed. The _rdwr variant refuses a read-only dynptr. */
function slice(rdwr: boolean): KfuncFn {
  return (m) => {
    const v = dynptrView(m, m.argU64(1));
    const offset = m.argU32(2), len = m.argU32(4);
    const data = v.getBigUint64(0, true);
    const word = v.getUint32(8, true);
    if (data === 0n) return void m.setR0(0);
    if (rdwr && word & DYNPTR_RDONLY_BIT) return void m.setR0(0);
    if (offset + len > (word & DYNPTR_SIZE_MASK)) return void m.setR0(0);
    m.setR0(data + BigInt(v.getUint32(12, true)) + BigInt(offset));
  };
}

export const KERNEL_KFUNCS: Readonly<Record<string, KfuncFn>> = {
  bpf_arena_alloc_pages: arenaAllocPages,
  bpf_arena_free_pages: arenaFreePages,
  bpf_iter_bits_new: bitsNew,
  bpf_iter_bits_next: bitsNext,
  bpf_iter_bits_destroy: bitsDestroy,
  bpf_dynptr_slice: slice(false),
  bpf_dynptr_slice_rdwr: slice(true),
};

/** A kfunc the program calls that has no implementation: fault when it is called. */
export function missingKfunc(name: string): KfuncFn {
  return () => {
    throw new RuntimeFault(`kfunc ${name} is not implemented by the interpreter`);
  };
}
