// bpf_opcode_in_insntable: which opcode bytes the 6.18 kernel knows at all. Anything else is
// rejected before do_check with `unknown opcode %02x`. Derived from the ISA and checked
// against the live 6.18 kernel (test/verifier-program-checks.test.ts).

import {
  BPF_ALU, BPF_ALU64, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_ST, BPF_STX,
  BPF_K, BPF_X, BPF_B, BPF_H, BPF_W, BPF_DW, BPF_MEM, BPF_MEMSX, BPF_ATOMIC, BPF_ABS, BPF_IND, BPF_IMM,
  BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR,
  BPF_MOV, BPF_ARSH, BPF_END, BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE,
  BPF_CALL, BPF_EXIT, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE, BPF_JCOND, BPF_TO_BE,
} from '../../isa/opcodes.ts';

function build(): Uint8Array {
  const ok = new Uint8Array(256);
  const binops = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH];
  for (const cls of [BPF_ALU, BPF_ALU64]) {
    for (const op of binops) for (const s of [BPF_K, BPF_X]) ok[cls | op | s] = 1;
    ok[cls | BPF_NEG] = 1;
    ok[cls | BPF_END] = 1; // TO_LE; ALU64 END is bswap
  }
  ok[BPF_ALU | BPF_END | BPF_TO_BE] = 1;
  const conds = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE];
  for (const cls of [BPF_JMP, BPF_JMP32]) {
    for (const op of conds) for (const s of [BPF_K, BPF_X]) ok[cls | op | s] = 1;
    ok[cls | BPF_JA] = 1;
  }
  ok[BPF_JMP | BPF_CALL] = 1;
  ok[BPF_JMP | BPF_EXIT] = 1;
  ok[BPF_JMP | BPF_JCOND] = 1;
  for (const sz of [BPF_B, BPF_H, BPF_W, BPF_DW]) {
    ok[BPF_STX | BPF_MEM | sz] = 1;
    ok[BPF_ST | BPF_MEM | sz] = 1;
    ok[BPF_LDX | BPF_MEM | sz] = 1;
    ok[BPF_STX | BPF_ATOMIC | sz] = 1; // 6.18: B/H for load-acquire/store-release
    if (sz !== BPF_DW) {
      ok[BPF_LDX | BPF_MEMSX | sz] = 1;
      ok[BPF_LD | BPF_ABS | sz] = 1;
      ok[BPF_LD | BPF_IND | sz] = 1;
    }
  }
  ok[BPF_LD | BPF_IMM | BPF_DW] = 1;
  return ok;
}

const TABLE = build();

export const opcodeKnown = (code: number): boolean => TABLE[code & 0xff] === 1;
