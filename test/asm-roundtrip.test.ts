// Property: the kernel log text of a program assembles back to the same program.
// assemble(printProgram(p)) == p for random programs over every instruction form the log
// prints losslessly (fixed seed). ld_imm64 map references print as `map[id:N]`.

import t from 'tap';
import { assemble } from '../engine/isa/asm/index.ts';
import { printProgram, printInsn, printXlatedInsn } from '../engine/isa/disasm.ts';
import { encode } from '../engine/isa/encode.ts';
import { ldImm64, type Insn } from '../engine/isa/insn.ts';
import {
  BPF_ALU, BPF_ALU64, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_ST, BPF_STX,
  BPF_B, BPF_H, BPF_W, BPF_DW, BPF_ABS, BPF_IND, BPF_MEM, BPF_MEMSX, BPF_ATOMIC, BPF_K, BPF_X,
  BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD,
  BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END, BPF_TO_BE, BPF_TO_LE,
  BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE,
  BPF_JSLT, BPF_JSLE, BPF_CALL, BPF_EXIT, BPF_JCOND, BPF_FETCH, BPF_XCHG, BPF_CMPXCHG,
  BPF_LOAD_ACQ, BPF_STORE_REL, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
} from '../engine/isa/opcodes.ts';
import { mulberry32 as rng } from './lib/rng.ts';

/** mulberry32: small, fast, deterministic. */

const rand = rng(0x5eed1234);
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const reg = (): number => int(16); // r0..r15: every nibble value is printable
/** Immediates biased to the edges. */
const imm32 = (): number =>
  pick([0, 1, -1, 0x7fffffff, -0x80000000, int(256), -int(4096), (rand() * 2 ** 32) | 0]);
const off16 = (): number => pick([0, 8, -8, 0x7fff, -0x8000, int(512) - 256, (rand() * 65536 - 32768) | 0]);
const S = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH];
const JMP_OPS = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE];
const SIZES = [BPF_B, BPF_H, BPF_W, BPF_DW];

/** Forms the kernel's text keeps every field of, by name (so failures say which). */
const FORMS: Record<string, () => Insn> = {
  aluK: () => S(pick([BPF_ALU, BPF_ALU64]) | pick(ALU_OPS) | BPF_K, reg(), 0, 0, imm32()),
  aluX: () => S(pick([BPF_ALU, BPF_ALU64]) | pick(ALU_OPS) | BPF_X, reg(), reg()),
  sdivSmod: () => S(pick([BPF_ALU, BPF_ALU64]) | pick([BPF_DIV, BPF_MOD]) | pick([BPF_K, BPF_X]), reg(), 0, 1, 0),
  movsx: () => S(pick([BPF_ALU, BPF_ALU64]) | BPF_MOV | BPF_X, reg(), reg(), pick([8, 16, 32])),
  neg: () => S(pick([BPF_ALU, BPF_ALU64]) | BPF_NEG, reg()),
  end: () => S(BPF_ALU | BPF_END | pick([BPF_TO_LE, BPF_TO_BE]), reg(), 0, 0, pick([16, 32, 64])),
  bswap: () => S(BPF_ALU64 | BPF_END, reg(), 0, 0, pick([16, 32, 64])),
  addrSpaceCast: () => S(BPF_ALU64 | BPF_MOV | BPF_X, reg(), reg(), 1, (int(65536) << 16) | int(65536)),
  percpu: () => S(BPF_ALU64 | BPF_MOV | BPF_X, reg(), reg(), -1),
  ldx: () => S(BPF_LDX | pick(SIZES) | BPF_MEM, reg(), reg(), off16()),
  ldsx: () => S(BPF_LDX | pick([BPF_B, BPF_H, BPF_W]) | BPF_MEMSX, reg(), reg(), off16()),
  stx: () => S(BPF_STX | pick(SIZES) | BPF_MEM, reg(), reg(), off16()),
  st: () => S(BPF_ST | pick(SIZES) | BPF_MEM, reg(), 0, off16(), imm32()),
  nospec: () => S(BPF_ST | BPF_ATOMIC),
  atomic: () => S(BPF_STX | pick([BPF_W, BPF_DW]) | BPF_ATOMIC, reg(), reg(), off16(),
    pick([BPF_ADD, BPF_OR, BPF_AND, BPF_XOR]) | pick([0, BPF_FETCH])),
  xchg: () => S(BPF_STX | pick([BPF_W, BPF_DW]) | BPF_ATOMIC, reg(), reg(), off16(), pick([BPF_XCHG, BPF_CMPXCHG])),
  acqRel: () => S(BPF_STX | pick(SIZES) | BPF_ATOMIC, reg(), reg(), off16(), pick([BPF_LOAD_ACQ, BPF_STORE_REL])),
  ldAbs: () => S(BPF_LD | pick(SIZES) | BPF_ABS, 0, 0, 0, imm32()),
  ldInd: () => S(BPF_LD | pick(SIZES) | BPF_IND, 0, reg(), 0, imm32()),
  ldImm64: () => ldImm64(reg(), BigInt.asUintN(64, (BigInt(imm32()) << 32n) ^ BigInt(imm32() >>> 0))),
  ldMap: () => ldImm64(reg(), BigInt(int(1000)), BPF_PSEUDO_MAP_FD),
  ldMapValue: () => ldImm64(reg(), (BigInt(int(1 << 20)) << 32n) | BigInt(int(1000)), BPF_PSEUDO_MAP_VALUE),
  jmpK: () => S(pick([BPF_JMP, BPF_JMP32]) | pick(JMP_OPS) | BPF_K, reg(), 0, off16(), imm32()),
  jmpX: () => S(pick([BPF_JMP, BPF_JMP32]) | pick(JMP_OPS) | BPF_X, reg(), reg(), off16()),
  ja: () => S(BPF_JMP | BPF_JA, 0, 0, off16()),
  gotol: () => S(BPF_JMP32 | BPF_JA, 0, 0, 0, imm32()),
  mayGoto: () => S(BPF_JMP | BPF_JCOND, 0, 0, off16()),
  callHelper: () => S(BPF_JMP | BPF_CALL, 0, 0, 0, pick([int(212), imm32()])),
  callPseudo: () => S(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, imm32()),
  callKfunc: () => S(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, imm32()),
  exit: () => S(BPF_JMP | BPF_EXIT),
};

/** Map references print as `map[id:N]` / `map[id:N][0]+M`, the xlated dump's spelling. */
const immText = (insn: Insn): string | undefined => {
  if (insn.src === BPF_PSEUDO_MAP_FD) return `map[id:${insn.imm}]`;
  if (insn.src === BPF_PSEUDO_MAP_VALUE) return `map[id:${insn.imm}][0]+${insn.next?.imm ?? 0}`;
  return undefined;
};

const hex = (insns: readonly Insn[]): string => Array.from(encode(insns), (x) => x.toString(16).padStart(2, '0')).join('');

t.test('assemble(printProgram(p)) == p', async (t) => {
  const names = Object.keys(FORMS);
  const seen = new Set<string>();
  const failures: string[] = [];
  const PROGRAMS = 2500;
  let insnCount = 0;
  for (let k = 0; k < PROGRAMS; k++) {
    const p: Insn[] = [];
    const n = 1 + int(24);
    for (let i = 0; i < n; i++) {
      const name = pick(names);
      seen.add(name);
      p.push(FORMS[name]());
    }
    insnCount += n;
    const text = printProgram(p, { immText });
    let back: string;
    try {
      back = hex(assemble(text));
    } catch (e) {
      back = `error: ${(e as Error).message}`;
    }
    if (back !== hex(p)) {
      // Name the first instruction that does not come back.
      const bad = p.find((insn) => {
        try {
          return hex(assemble(printInsn(insn, { immText }))) !== hex([insn]);
        } catch {
          return true;
        }
      });
      failures.push(bad ? `${printInsn(bad, { immText })} (${hex([bad])})` : text);
      if (failures.length > 20) break;
    }
  }
  t.same(failures, [], `${PROGRAMS} programs, ${insnCount} instructions round-trip`);
  t.same([...seen].sort(), names.sort(), 'every form was generated');
});

t.test('xlated text (no opcode prefix) round-trips where it is unambiguous', async (t) => {
  // Without the `(18)` prefix a small ld_imm64 constant reads as a mov, as in llvm-mc; map
  // references and everything but constant ld_imm64 and calls still come back.
  const forms = Object.keys(FORMS).filter((f) => !['ldImm64', 'callHelper', 'callPseudo', 'callKfunc', 'exit'].includes(f));
  let n = 0;
  const failures: string[] = [];
  for (let k = 0; k < 3000; k++) {
    const insn = FORMS[pick(forms)]();
    const text = printXlatedInsn(insn, { immText });
    n++;
    let back = '';
    try {
      back = hex(assemble(text));
    } catch (e) {
      back = `error: ${(e as Error).message}`;
    }
    if (back !== hex([insn])) failures.push(`${text}: ${back} != ${hex([insn])}`);
    if (failures.length > 20) break;
  }
  t.same(failures, [], `${n} xlated lines round-trip`);
});
