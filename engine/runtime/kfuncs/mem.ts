// Memory access for kfunc implementations: arguments are 64-bit addresses (bigint), which the
// interpreter's address space resolves as (hi, lo) words.

import type { Machine } from '../machine.ts';

export function bytesAt(m: Machine, addr: bigint, len: number, write = false): Uint8Array {
  const u = BigInt.asUintN(64, addr);
  return m.space.slice(Number(u >> 32n), Number(u & 0xffffffffn), len, write);
}

export function viewAt(m: Machine, addr: bigint, len: number, write = false): DataView {
  const b = bytesAt(m, addr, len, write);
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Sum of u64 values, wrapping like the kernel's u64 arithmetic. */
export const sumU64 = (vs: readonly bigint[]): bigint => BigInt.asUintN(64, vs.reduce((a, b) => a + b, 0n));
