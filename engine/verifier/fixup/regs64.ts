// Which register an instruction defines, and whether it reads or writes it as 64 bits.
// The zero-extension pass and the patch bookkeeping both ask; the rules follow the kernel's
// is_reg64 / insn_def_regno (6.18 behaves as 6.12 here).

import type { RawSlot } from '../../isa/insn.ts';
import {
  BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_DW, BPF_END, BPF_EXIT, BPF_FETCH, BPF_IMM,
  BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MEMSX, BPF_ST, BPF_STX,
  bpfClass, bpfMode, bpfOp, bpfSize,
} from '../../isa/opcodes.ts';

/** The register `insn` writes, or -1 (jumps, calls, plain stores). */
export function insnDefRegno(insn: RawSlot): number {
  switch (bpfClass(insn.code)) {
    case BPF_JMP:
    case BPF_JMP32:
    case BPF_ST:
      return -1;
    case BPF_STX:
      if (bpfMode(insn.code) === BPF_ATOMIC && (insn.imm & BPF_FETCH) !== 0) {
        return insn.imm === BPF_CMPXCHG ? 0 : insn.src;
      }
      return -1;
    default:
      return insn.dst;
  }
}

/** Does `insn` write its destination as a full 64-bit value? (is_reg64 for DST_OP.) */
export function defIs64(insn: RawSlot): boolean {
  const cls = bpfClass(insn.code);
  const op = bpfOp(insn.code);
  // Calls define r0 through the caller-saved clobber, never as a 32-bit value.
  if (cls === BPF_JMP) return op !== BPF_CALL;
  if (cls === BPF_ALU64 && op === BPF_END && (insn.imm === 16 || insn.imm === 32)) return false;
  if (cls === BPF_ALU64 || (cls === BPF_ALU && op === BPF_END && insn.imm === 64)) return true;
  if (cls === BPF_ALU || cls === BPF_JMP32) return false;
  if (cls === BPF_LDX) return bpfSize(insn.code) === BPF_DW || bpfMode(insn.code) === BPF_MEMSX;
  if (cls === BPF_STX) return bpfSize(insn.code) === BPF_DW;
  if (cls === BPF_LD) return bpfMode(insn.code) === BPF_IMM;
  return true;
}

/** Does `insn` define a 32-bit sub-register (insn_has_def32)? */
export function insnHasDef32(insn: RawSlot): boolean {
  return insnDefRegno(insn) !== -1 && !defIs64(insn);
}

/** Does `insn` read source register `reg` as 64 bits (is_reg64 for SRC_OP)? For stores,
 *  `srcIsPtr` says whether the stored register held a pointer. */
export function readIs64(insn: RawSlot, reg: number, srcIsPtr = false): boolean {
  const cls = bpfClass(insn.code);
  const op = bpfOp(insn.code);
  if (cls === BPF_JMP && (op === BPF_EXIT || op === BPF_CALL)) return true;
  if (cls === BPF_ALU64 && op === BPF_END && (insn.imm === 16 || insn.imm === 32)) return false;
  if (cls === BPF_ALU64 || cls === BPF_JMP || (cls === BPF_ALU && op === BPF_END && insn.imm === 64)) return true;
  if (cls === BPF_ALU || cls === BPF_JMP32) return false;
  if (cls === BPF_STX) {
    if (reg === insn.dst || srcIsPtr) return true;
    return bpfSize(insn.code) === BPF_DW;
  }
  return true;
}
