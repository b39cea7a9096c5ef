// One flat instruction value, in the spirit of cilium/ebpf's asm.Instruction.
//
// Fields keep the raw encoding (so encode(decode(bytes)) is the identity and a verifier can
// reject a malformed instruction with the kernel's own message), while the one real quirk
// of the encoding, LD_IMM64 spanning two slots, is folded into a single value at decode
// time: `next` holds the raw second slot and `imm64()` gives the 64-bit constant.

import { BPF_LD, BPF_IMM, BPF_DW, INSN_SIZE } from './opcodes.ts';

/** The five raw fields of one 8-byte slot. */
export interface RawSlot {
  /** Opcode byte, 0..255. */
  readonly code: number;
  /** Destination register, 0..15 (the low nibble of byte 1). */
  readonly dst: number;
  /** Source register, 0..15 (the high nibble of byte 1). */
  readonly src: number;
  /** Signed 16-bit offset. */
  readonly off: number;
  /** Signed 32-bit immediate. */
  readonly imm: number;
}

/** A decoded instruction. LD_IMM64 is one Insn carrying its second slot in `next`. */
export interface Insn extends RawSlot {
  /** LD_IMM64 only: the raw second slot (normally all zero but for `imm`, the high half). */
  readonly next?: RawSlot;
}

/** A program: instructions plus the slot index where each one starts. */
export type Insns = readonly Insn[];

export const isLdImm64 = (insn: RawSlot): boolean => insn.code === (BPF_LD | BPF_IMM | BPF_DW);

/** Slots an instruction occupies: 2 for LD_IMM64, 1 otherwise. */
export const insnSlots = (insn: Insn): 1 | 2 => (insn.next ? 2 : 1);

/** Bytes an instruction occupies. */
export const insnBytes = (insn: Insn): number => insnSlots(insn) * INSN_SIZE;

/** The 64-bit constant of an LD_IMM64, as an unsigned bigint. */
export function imm64(insn: Insn): bigint {
  const lo = BigInt(insn.imm >>> 0);
  const hi = BigInt((insn.next?.imm ?? 0) >>> 0);
  return (hi << 32n) | lo;
}

/** Build an LD_IMM64 from a 64-bit constant (any sign; taken modulo 2^64). */
export function ldImm64(dst: number, value: bigint, src = 0): Insn {
  const v = BigInt.asUintN(64, value);
  return {
    code: BPF_LD | BPF_IMM | BPF_DW,
    dst,
    src,
    off: 0,
    imm: Number(BigInt.asIntN(32, v & 0xffffffffn)),
    next: { code: 0, dst: 0, src: 0, off: 0, imm: Number(BigInt.asIntN(32, v >> 32n)) },
  };
}

/** Slot index of every instruction, plus the total slot count at the end. */
export function slotOffsets(insns: Insns): number[] {
  const out = new Array<number>(insns.length + 1);
  let pc = 0;
  for (let i = 0; i < insns.length; i++) {
    out[i] = pc;
    pc += insnSlots(insns[i]);
  }
  out[insns.length] = pc;
  return out;
}

/** Map from slot index to instruction index (-1 for the second slot of an LD_IMM64). */
export function slotToIndex(insns: Insns): Int32Array {
  const offs = slotOffsets(insns);
  const map = new Int32Array(offs[insns.length]).fill(-1);
  for (let i = 0; i < insns.length; i++) map[offs[i]] = i;
  return map;
}
