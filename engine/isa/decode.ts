// Raw bytes -> Insn[]. The decoder is deliberately permissive: every field is kept exactly as
// encoded (reserved bits, unknown opcodes, register nibbles 11..15), so that encode() gives the
// input back byte for byte and the verifier can reject bad instructions with the kernel's own
// words. Only two things make a byte string undecodable: a length that is not a whole number
// of 8-byte slots, and an LD_IMM64 whose second slot is missing.

import { InputError } from '../errors.ts';
import { INSN_SIZE, LD_IMM64 } from './opcodes.ts';
import type { Insn, RawSlot } from './insn.ts';

export interface DecodeOptions {
  /** File name for error locations. */
  readonly file?: string;
}

/** Fields of the 8-byte slot starting at `at` (little endian, as the kernel's struct bpf_insn). */
export function decodeSlot(bytes: Uint8Array, at: number): RawSlot {
  const regs = bytes[at + 1];
  return {
    code: bytes[at],
    dst: regs & 0x0f,
    src: regs >> 4,
    off: ((bytes[at + 2] | (bytes[at + 3] << 8)) << 16) >> 16,
    imm: bytes[at + 4] | (bytes[at + 5] << 8) | (bytes[at + 6] << 16) | (bytes[at + 7] << 24),
  };
}

/** Decode a program. LD_IMM64 (0x18) takes its second slot into `next`, whatever it holds. */
export function decode(bytes: Uint8Array, opts: DecodeOptions = {}): Insn[] {
  if (bytes.length % INSN_SIZE !== 0) {
    throw new InputError(
      `program is ${bytes.length} bytes, not a multiple of ${INSN_SIZE}: ` +
        `${bytes.length % INSN_SIZE} trailing byte(s) at byte offset ${bytes.length - (bytes.length % INSN_SIZE)}`,
      { file: opts.file, line: 0, col: 0 },
    );
  }
  const slots = bytes.length / INSN_SIZE;
  const out: Insn[] = [];
  for (let pc = 0; pc < slots; pc++) {
    const slot = decodeSlot(bytes, pc * INSN_SIZE);
    if (slot.code !== LD_IMM64) {
      out.push(slot);
      continue;
    }
    if (pc + 1 >= slots) {
      throw new InputError(
        `truncated ld_imm64: insn ${out.length} (slot ${pc}, byte offset ${pc * INSN_SIZE}) ` +
          `has no second slot`,
        { file: opts.file, line: 0, col: 0 },
      );
    }
    out.push({ ...slot, next: decodeSlot(bytes, (pc + 1) * INSN_SIZE) });
    pc++;
  }
  return out;
}

export interface DecodeHexOptions extends DecodeOptions {
  /** YAML path of the list, e.g. `tests[3].insns`; entry errors append `[i]`. */
  readonly path?: string;
  /** Location of each entry in the source file, when the caller knows it. */
  readonly locate?: (index: number) => { line: number; col: number } | undefined;
}

const HEX_SLOT = /^(?:[0-9a-fA-F]{16}){1,2}$/;

/**
 * Decode spec `insns:` entries: each entry is one slot written as 16 hex digits in memory
 * order ("b700000007000000"), or a whole LD_IMM64 as 32. Spaces between bytes are allowed
 * ("b7 00 00 00 07 00 00 00", the form bpftool and the oracle notes print).
 */
export function decodeHex(words: readonly string[], opts: DecodeHexOptions = {}): Insn[] {
  const where = (i: number) => ({
    file: opts.file,
    line: opts.locate?.(i)?.line ?? 0,
    col: opts.locate?.(i)?.col ?? 0,
    path: `${opts.path ?? 'insns'}[${i}]`,
  });
  const chunks: Uint8Array[] = [];
  // Slot index where each entry starts, to name the entry in a truncation error.
  const entryOfSlot: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    const compact = typeof word === 'string' ? word.replace(/[ \t]+/g, '') : '';
    if (!HEX_SLOT.test(compact)) {
      const shown = typeof word === 'string' ? JSON.stringify(word) : String(word);
      throw new InputError(
        `insns entry ${i}: ${shown} is not an instruction: expected 16 hex digits ` +
          `(one 8-byte slot in memory order) or 32 (a whole ld_imm64)`,
        where(i),
      );
    }
    const b = new Uint8Array(compact.length / 2);
    for (let k = 0; k < b.length; k++) b[k] = parseInt(compact.slice(2 * k, 2 * k + 2), 16);
    chunks.push(b);
    for (let s = 0; s < b.length / INSN_SIZE; s++) entryOfSlot.push(i);
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  try {
    return decode(bytes, opts);
  } catch (e) {
    // The only failure left is an LD_IMM64 in the last slot: that is the last entry.
    if (e instanceof InputError && entryOfSlot.length > 0) {
      const i = entryOfSlot[entryOfSlot.length - 1];
      throw new InputError(`insns entry ${i}: ${e.message}`, where(i));
    }
    throw e;
  }
}
