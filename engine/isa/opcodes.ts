// The BPF instruction encoding as the 6.18 kernel defines it (include/uapi/linux/bpf.h,
// include/uapi/linux/bpf_common.h). Names follow the uapi macros so that a reader can
// cross-check against the kernel.

/** Instruction classes: the low 3 bits of the opcode byte. */
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_JMP32 = 0x06;
export const BPF_ALU64 = 0x07;

/** Load/store sizes: bits 3-4. */
export const BPF_W = 0x00;
export const BPF_H = 0x08;
export const BPF_B = 0x10;
export const BPF_DW = 0x18;

/** Load/store modes: bits 5-7. */
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_IND = 0x40;
export const BPF_MEM = 0x60;
export const BPF_MEMSX = 0x80;
export const BPF_ATOMIC = 0xc0;

/** Operand source for ALU/JMP: bit 3. For BPF_END it picks the byte order instead. */
export const BPF_K = 0x00;
export const BPF_X = 0x08;
export const BPF_TO_LE = 0x00;
export const BPF_TO_BE = 0x08;

/** ALU operations: bits 4-7. */
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_MOV = 0xb0;
export const BPF_ARSH = 0xc0;
export const BPF_END = 0xd0;

/** Jump operations: bits 4-7. */
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_JNE = 0x50;
export const BPF_JSGT = 0x60;
export const BPF_JSGE = 0x70;
export const BPF_CALL = 0x80;
export const BPF_EXIT = 0x90;
export const BPF_JLT = 0xa0;
export const BPF_JLE = 0xb0;
export const BPF_JSLT = 0xc0;
export const BPF_JSLE = 0xd0;
/** may_goto lives here (6.18): BPF_JMP | BPF_JCOND with src_reg == BPF_MAY_GOTO. */
export const BPF_JCOND = 0xe0;
export const BPF_MAY_GOTO = 0;

/** Atomic operations, carried in imm of BPF_STX | BPF_ATOMIC. */
export const BPF_FETCH = 0x01;
export const BPF_XCHG = 0xe0 | BPF_FETCH;
export const BPF_CMPXCHG = 0xf0 | BPF_FETCH;
export const BPF_LOAD_ACQ = 0x100;
export const BPF_STORE_REL = 0x110;

/** Pseudo sources of BPF_LD | BPF_IMM | BPF_DW (src_reg). */
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;

/** Pseudo sources of BPF_JMP | BPF_CALL (src_reg). */
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

/** Registers. r10 is the read-only frame pointer. */
export const BPF_REG_0 = 0;
export const BPF_REG_1 = 1;
export const BPF_REG_5 = 5;
export const BPF_REG_FP = 10;
/** merged: the stack-argument base register is r11 (BPF_REG_PARAMS). */
export const BPF_REG_PARAMS = 11;
/** v4: the stack-argument base register is r12 (BPF_REG_STACK_ARG_BASE). */
export const BPF_REG_STACK_ARG_BASE = 12;
/** Registers the verifier tracks (6.18: MAX_BPF_REG = 11, r0..r10). */
export const MAX_BPF_REG = 11;

/** Every BPF instruction slot is 8 bytes; LD_IMM64 takes two. */
export const INSN_SIZE = 8;

export const bpfClass = (code: number): number => code & 0x07;
export const bpfSize = (code: number): number => code & 0x18;
export const bpfMode = (code: number): number => code & 0xe0;
export const bpfOp = (code: number): number => code & 0xf0;
export const bpfSrc = (code: number): number => code & 0x08;

/** Bytes moved by a load/store of the given size field. */
export function sizeBytes(size: number): 1 | 2 | 4 | 8 {
  switch (size) {
    case BPF_B: return 1;
    case BPF_H: return 2;
    case BPF_W: return 4;
    default: return 8;
  }
}

export const isAluClass = (cls: number): boolean => cls === BPF_ALU || cls === BPF_ALU64;
export const isJmpClass = (cls: number): boolean => cls === BPF_JMP || cls === BPF_JMP32;

/** The LD_IMM64 opcode byte, 0x18. */
export const LD_IMM64 = BPF_LD | BPF_IMM | BPF_DW;
