// Small predicates over one instruction's encoding, for code that walks control flow
// (the CFG pass, the disassembler's corpus builder, the JIT). They look at the encoding only;
// whether an instruction is *valid* is the verifier's business.

import {
  BPF_JMP, BPF_JMP32, BPF_JA, BPF_CALL, BPF_EXIT, BPF_JCOND, BPF_MAY_GOTO, BPF_LD, BPF_IMM, BPF_DW,
  BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_FUNC, bpfClass, bpfOp,
} from './opcodes.ts';
import type { RawSlot } from './insn.ts';

const isJmp = (code: number): boolean => bpfClass(code) === BPF_JMP || bpfClass(code) === BPF_JMP32;

/** JMP | CALL with src 0: a helper call (imm = helper id). */
export const isHelperCall = (i: RawSlot): boolean => i.code === (BPF_JMP | BPF_CALL) && i.src === 0;
/** JMP | CALL with src BPF_PSEUDO_CALL: a bpf-to-bpf call (target = pc + imm + 1). */
export const isPseudoCall = (i: RawSlot): boolean =>
  i.code === (BPF_JMP | BPF_CALL) && i.src === BPF_PSEUDO_CALL;
/** JMP | CALL with src BPF_PSEUDO_KFUNC_CALL (imm = BTF id, off = fd_array index of the BTF). */
export const isKfuncCall = (i: RawSlot): boolean =>
  i.code === (BPF_JMP | BPF_CALL) && i.src === BPF_PSEUDO_KFUNC_CALL;
/** ld_imm64 of a subprogram address (target = pc + imm + 1). */
export const isPseudoFunc = (i: RawSlot): boolean =>
  i.code === (BPF_LD | BPF_IMM | BPF_DW) && i.src === BPF_PSEUDO_FUNC;

export const isExit = (i: RawSlot): boolean => i.code === (BPF_JMP | BPF_EXIT);
/** `goto pc+off` (JMP | JA) or `gotol pc+imm` (JMP32 | JA). */
export const isUncondJump = (i: RawSlot): boolean =>
  i.code === (BPF_JMP | BPF_JA) || i.code === (BPF_JMP32 | BPF_JA);
export const isMayGoto = (i: RawSlot): boolean =>
  i.code === (BPF_JMP | BPF_JCOND) && i.src === BPF_MAY_GOTO;

/** Two-way branches: JMP/JMP32 ops other than JA, CALL and EXIT (JCOND included). */
export const isCondJump = (i: RawSlot): boolean => {
  if (!isJmp(i.code)) return false;
  const op = bpfOp(i.code);
  return op !== BPF_JA && op !== BPF_CALL && op !== BPF_EXIT;
};

/** Jump distance in slots: imm for gotol, off for every other jump. */
export const jumpOffset = (i: RawSlot): number =>
  i.code === (BPF_JMP32 | BPF_JA) ? i.imm : i.off;
