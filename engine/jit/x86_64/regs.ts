// Where each BPF register lives on x86-64, as the 6.18 kernel JIT maps it.
//
// JIT code below works on x86 register numbers (0 = rax .. 15 = r15) rather than on BPF
// numbers: the encoding rules (REX bits, the low three bits in ModRM) are then plain
// arithmetic on the number, and the JIT's private registers need no special ids.

/** x86-64 general registers by hardware number. */
export const X86 = {
  rax: 0, rcx: 1, rdx: 2, rbx: 3, rsp: 4, rbp: 5, rsi: 6, rdi: 7,
  r8: 8, r9: 9, r10: 10, r11: 11, r12: 12, r13: 13, r14: 14, r15: 15,
} as const;

/**
 * BPF r0..r10 -> x86. r1..r5 are exactly the SysV argument registers (rdi, rsi, rdx, rcx,
 * r8) so a helper call needs no shuffling; r6..r9 are callee-saved in SysV (rbx, r13..r15),
 * so they survive helper calls for free; r10 is the frame pointer rbp. r12 is skipped: as a
 * base register it always needs a SIB byte.
 */
export const BPF_TO_X86: readonly number[] = [
  X86.rax, X86.rdi, X86.rsi, X86.rdx, X86.rcx, X86.r8,
  X86.rbx, X86.r13, X86.r14, X86.r15, X86.rbp,
  // BPF_REG_AX (11): the verifier's own scratch register in its rewrites (sdiv/smod
  // guards, may_goto, constant blinding); never visible to programs.
  X86.r10,
];

/** The kernel's BPF_REG_AX: constant blinding's scratch register, also used by the
 *  fetch-and/or/xor loop and the probe-mem bounds check. */
export const REG_AX = X86.r10;
/** The JIT's own scratch register (AUX_REG in the kernel). */
export const REG_AUX = X86.r11;
/** Arena base (kern_vm_start) while an arena program runs. */
export const REG_ARENA = X86.r12;

/** 6.18 private stack: the frame pointer r10 is r9 instead of rbp (X86_REG_R9 in the
 *  kernel, a pseudo BPF register number outside r0..r11). */
export const BPF_REG_PRIV_FP = 16;

/** Needs REX.B/R/X to be named (r8..r15). */
export const isExt = (r: number): boolean => r >= 8;
/** As the low byte of a store source, needs a REX prefix (spl, bpl, sil, dil, r8b..). */
export const needsRexByte = (r: number): boolean => r >= 4;
export const low3 = (r: number): number => r & 7;

/** BPF register -> x86 register; anything beyond r10 is a verifier bug here. */
export function x86Of(bpfReg: number): number {
  if (bpfReg === BPF_REG_PRIV_FP) return X86.r9;
  const r = BPF_TO_X86[bpfReg];
  if (r === undefined) throw new RangeError(`BPF register r${bpfReg} has no x86-64 mapping`);
  return r;
}

/** Callee-saved x86 registers that hold BPF r6..r9, in push order. */
export const CALLEE_SAVED: readonly { readonly bpf: number; readonly x86: number }[] = [
  { bpf: 6, x86: X86.rbx }, { bpf: 7, x86: X86.r13 }, { bpf: 8, x86: X86.r14 }, { bpf: 9, x86: X86.r15 },
];
