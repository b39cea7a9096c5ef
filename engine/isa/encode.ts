// Insn[] -> raw bytes, the inverse of decode(). Fields are written as they are (masked to
// their width), so encode(decode(b)) is the identity for every decodable b.

import { INSN_SIZE } from './opcodes.ts';
import type { Insn, Insns, RawSlot } from './insn.ts';
import { insnSlots } from './insn.ts';

/** Write one slot at `at` (little endian, dst in the low nibble of byte 1). */
export function encodeSlot(s: RawSlot, out: Uint8Array, at: number): void {
  out[at] = s.code & 0xff;
  out[at + 1] = (s.dst & 0x0f) | ((s.src & 0x0f) << 4);
  out[at + 2] = s.off & 0xff;
  out[at + 3] = (s.off >> 8) & 0xff;
  out[at + 4] = s.imm & 0xff;
  out[at + 5] = (s.imm >>> 8) & 0xff;
  out[at + 6] = (s.imm >>> 16) & 0xff;
  out[at + 7] = (s.imm >>> 24) & 0xff;
}

export function encode(insns: Insns): Uint8Array {
  let slots = 0;
  for (const insn of insns) slots += insnSlots(insn);
  const out = new Uint8Array(slots * INSN_SIZE);
  let at = 0;
  for (const insn of insns) {
    encodeSlot(insn, out, at);
    at += INSN_SIZE;
    if (insn.next) {
      encodeSlot(insn.next, out, at);
      at += INSN_SIZE;
    }
  }
  return out;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** One instruction as hex in memory order: 16 digits, or 32 for an LD_IMM64. */
export function insnHex(insn: Insn): string {
  return hex(encode([insn]));
}

/** Spec `insns:` form: one 16-digit entry per slot (an LD_IMM64 gives two). */
export function encodeHex(insns: Insns): string[] {
  const b = encode(insns);
  const out: string[] = [];
  for (let at = 0; at < b.length; at += INSN_SIZE) out.push(hex(b.subarray(at, at + INSN_SIZE)));
  return out;
}
