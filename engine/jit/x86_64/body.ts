// One BPF instruction -> x86-64, as the 6.18 kernel JIT's do_jit() translates it.
//
// The translation of an instruction depends on the pass state only through branch targets
// (addrs from the previous pass, which is how the size-convergence loop works) and the
// tail-call labels. Everything here writes into a fresh Code for that one instruction.

import type { Insn } from '../../isa/insn.ts';
import { imm64 } from '../../isa/insn.ts';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_DIV,
  BPF_DW, BPF_END, BPF_EXIT, BPF_FETCH, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP,
  BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_LD, BPF_LDX,
  BPF_LOAD_ACQ, BPF_LSH, BPF_MEM, BPF_MEMSX, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR,
  BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE, BPF_RSH, BPF_ST, BPF_STORE_REL, BPF_STX, BPF_SUB, BPF_W, BPF_X, BPF_XCHG,
  BPF_XOR, bpfClass, bpfMode, bpfOp, bpfSize, bpfSrc, BPF_B, BPF_H,
} from '../../isa/opcodes.ts';
import {
  Code, isImm8, ldsx, ldsxIndex, ldx, ldxIndex, memIndexOperand, memOperand, modrmExt, modrmRR,
  movImm32, movImm64, movRR, movRR32, movRR64, movsxRR, nops, rex, rex1If, rexIf, st, stIndex, stx,
  stxIndex, vex3,
} from './code.ts';
import { BPF_REG_PRIV_FP, REG_ARENA, REG_AUX, REG_AX, X86, isExt, low3, x86Of } from './regs.ts';
import {
  epilogue, frameSize, loadTailCallCntPtr, savedBytes, tailCallDirect, tailCallIndirect, type TailCallLabels,
} from './frame.ts';
import { JitError, type JitFunction, type JitMode, type KernelConfig } from './types.ts';
import { isLdAbsInd, isMayGoto, ldAbsCall, mayGoto } from './native.ts';
import { isStackArgInsn, popArgs, stackArgAccess, v4BeforeCall, type StackArgContext } from './stack-args.ts';

/** Internal opcode modes and codes (include/linux/filter.h), not part of the uapi. */
export const BPF_PROBE_MEM = 0x20;
export const BPF_PROBE_MEMSX = 0x40;
export const BPF_PROBE_MEM32 = 0xa0;
export const BPF_PROBE_MEM32SX = 0xc0; // 6.18 arena sign-extending loads (shown as is in the dump)
export const BPF_PROBE_ATOMIC = 0xe0;
export const BPF_NOSPEC = 0xc0;
export const BPF_TAIL_CALL = 0xf0;
export const BPF_ADDR_PERCPU = -1;
export const BPF_ADDR_SPACE_CAST = 1;

/** Start of the vsyscall page and the lowest kernel address + a page (x86-64, 4-level):
 *  the probe-mem bounds check lets a load through only between them. */
const VSYSCALL_ADDR = 0xffffffffff600000n;
const TASK_SIZE_MAX_PLUS_PAGE = 0x00007ffffffff000n + 0x1000n;

/** x86 condition codes (short-jump opcodes; +0x10 after 0x0f for the rel32 form). */
const JCC: Record<number, number> = {
  [BPF_JEQ]: 0x74, [BPF_JSET]: 0x75, [BPF_JNE]: 0x75, [BPF_JGT]: 0x77, [BPF_JLT]: 0x72,
  [BPF_JGE]: 0x73, [BPF_JLE]: 0x76, [BPF_JSGT]: 0x7f, [BPF_JSLT]: 0x7c, [BPF_JSGE]: 0x7d, [BPF_JSLE]: 0x7e,
};

/** Register-register ALU opcodes (and the shift group's /ext values). */
const ALU_RR: Record<number, number> = {
  [BPF_ADD]: 0x01, [BPF_SUB]: 0x29, [BPF_AND]: 0x21, [BPF_OR]: 0x09, [BPF_XOR]: 0x31,
};
/** ModRM /ext of the 0x81/0x83 immediate group, and the eax short forms. */
const ALU_IMM_EXT: Record<number, number> = { [BPF_ADD]: 0, [BPF_OR]: 1, [BPF_AND]: 4, [BPF_SUB]: 5, [BPF_XOR]: 6 };
const ALU_IMM_EAX: Record<number, number> = { [BPF_ADD]: 0x05, [BPF_OR]: 0x0d, [BPF_AND]: 0x25, [BPF_SUB]: 0x2d, [BPF_XOR]: 0x35 };
/** Shift group /ext: shl /4, shr /5, sar /7. */
const SHIFT_EXT: Record<number, number> = { [BPF_LSH]: 4, [BPF_RSH]: 5, [BPF_ARSH]: 7 };

/** Jumps may use the 2-byte form only up to +123: a larger positive limit lets a je/jmp pair
 *  flip sizes forever across passes (the kernel's convergence fix). */
const isImm8Jump = (v: number): boolean => v >= -128 && v <= 123;
const isSimm32n = (v: number): boolean => v >= -0x80000000 && v <= 0x7fffffff;

/** What one instruction's translation may look at. */
export interface InsnContext {
  readonly fn: JitFunction;
  readonly cfg: KernelConfig;
  readonly mode: JitMode;
  readonly stackDepth: number;
  /** Slot-indexed end offsets (kernel `addrs`): addrs[k] = end of the code of slot k-1. */
  readonly addrs: Int32Array;
  /** 1-based slot number of this instruction (kernel `i`). */
  readonly i: number;
  /** Index into fn.insns. */
  readonly index: number;
  /** Jump padding is on (late passes and the final pass of a subprog). */
  readonly padding: boolean;
  readonly labels: TailCallLabels;
  /** Image offset where this instruction starts. */
  readonly at: number;
  /** Exit bookkeeping, shared across the pass. */
  readonly exit: { seen: boolean; cleanupAddr: number };
  /** Absolute address of this function's image, when known (for rel32 of calls). */
  readonly funcAddr?: bigint;
  readonly funcAddrs?: readonly bigint[];
  readonly callTarget?: (src: number, imm: number) => bigint;
  readonly ldImm64Value?: (insn: Insn) => bigint;
  /** native: the runtime's LD_ABS/LD_IND reader (see native.ts). */
  readonly ldAbsTarget?: bigint;
}

export function translate(insn: Insn, x: InsnContext): Code {
  const c = new Code();
  const sa = x.fn.stackArgs;
  if (sa) {
    if (isStackArgInsn(insn, sa.series)) {
      stackArgAccess(c, insn, stackArgContext(x), x.index);
      return c;
    }
    // merged renumbered the verifier's AX to r12: it lives where r11 did before.
    if (sa.series === 'merged' && (insn.dst === 12 || insn.src === 12)) {
      insn = { ...insn, dst: insn.dst === 12 ? 11 : insn.dst, src: insn.src === 12 && !isCallLike(insn) ? 11 : insn.src };
    }
  }
  // 6.18 private stack: every use of the frame pointer names r9 instead of rbp.
  if (x.fn.privateStack && x.mode === 'kernel' && (insn.dst === 10 || insn.src === 10)) {
    insn = { ...insn, dst: insn.dst === 10 ? BPF_REG_PRIV_FP : insn.dst, src: insn.src === 10 ? BPF_REG_PRIV_FP : insn.src };
  }
  const cls = bpfClass(insn.code);
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64:
      alu(c, insn, x);
      break;
    case BPF_LD:
      if (isLdAbsInd(insn)) nativeLdAbs(c, insn, x);
      else ldImm64(c, insn, x);
      break;
    case BPF_LDX:
      load(c, insn, x);
      break;
    case BPF_ST:
    case BPF_STX:
      store(c, insn, x);
      break;
    case BPF_JMP:
    case BPF_JMP32:
      jump(c, insn, x);
      break;
    default:
      throw new JitError(`unknown opcode ${hex(insn.code)}`, x.index);
  }
  return c;
}

const hex = (v: number): string => v.toString(16).padStart(2, '0');

function unknown(insn: Insn, x: InsnContext): never {
  throw new JitError(`unknown opcode ${hex(insn.code)}`, x.index);
}

/** BPF register -> x86, with r10 meaning rbp. */
const R = (r: number): number => x86Of(r);

// ---- ALU ----

function alu(c: Code, insn: Insn, x: InsnContext): void {
  const is64 = bpfClass(insn.code) === BPF_ALU64;
  const op = bpfOp(insn.code);
  const isX = bpfSrc(insn.code) === BPF_X;
  const dst = R(insn.dst);
  const src = isX && op !== BPF_END ? R(insn.src) : 0;
  const imm = insn.imm | 0;
  switch (op) {
    case BPF_ADD: case BPF_SUB: case BPF_AND: case BPF_OR: case BPF_XOR:
      if (isX) {
        rexIf(c, is64, dst, src);
        c.b(ALU_RR[op], modrmRR(dst, src));
      } else {
        rex1If(c, is64, dst);
        if (isImm8(imm)) c.b(0x83, modrmExt(dst, ALU_IMM_EXT[op]), imm);
        else if (dst === X86.rax) c.b(ALU_IMM_EAX[op]).i32(imm);
        else c.b(0x81, modrmExt(dst, ALU_IMM_EXT[op])).i32(imm);
      }
      return;
    case BPF_MOV:
      if (!isX) return movImm32(c, is64, dst, imm);
      if (is64 && insn.off === BPF_ADDR_SPACE_CAST && imm === 1 << 16) return castUser(c, dst, src, x);
      if (is64 && insn.off === BPF_ADDR_PERCPU) return movPercpuAddr(c, dst, src);
      if (insn.off === 0) return movRR(c, is64, dst, src);
      return movsxRR(c, insn.off, is64, dst, src);
    case BPF_NEG:
      rex1If(c, is64, dst);
      c.b(0xf7, modrmExt(dst, 3));
      return;
    case BPF_MUL:
      if (isX) {
        rexIf(c, is64, src, dst);
        c.b(0x0f, 0xaf, modrmRR(src, dst));
      } else {
        rexIf(c, is64, dst, dst);
        if (isImm8(imm)) c.b(0x6b, modrmRR(dst, dst), imm);
        else c.b(0x69, modrmRR(dst, dst)).i32(imm);
      }
      return;
    case BPF_DIV: case BPF_MOD:
      if (x.mode === 'native') return guardedDivMod(c, insn, is64, op, isX);
      return divMod(c, insn, is64, op, isX);
    case BPF_LSH: case BPF_RSH: case BPF_ARSH:
      if (!isX) {
        rex1If(c, is64, dst);
        if (imm === 1) c.b(0xd1, modrmExt(dst, SHIFT_EXT[op]));
        else c.b(0xc1, modrmExt(dst, SHIFT_EXT[op]), imm);
        return;
      }
      return shiftByReg(c, insn, is64, op, x);
    case BPF_END:
      return endian(c, insn, is64, dst, x);
    default:
      unknown(insn, x);
  }
}

/** x86 div/idiv work on rdx:rax, so r0 and r3 are saved around them unless they are the
 *  destination; the divisor moves to r11 when it lives in rax or rdx (or is an immediate). */
function divMod(c: Code, insn: Insn, is64: boolean, op: number, isX: boolean): void {
  const dstB = insn.dst;
  const dst = R(dstB);
  if (dstB !== 0) c.b(0x50);
  if (dstB !== 3) c.b(0x52);
  let divisor: number;
  if (isX) {
    divisor = R(insn.src);
    if (insn.src === 0 || insn.src === 3) {
      movRR64(c, REG_AUX, divisor);
      divisor = REG_AUX;
    }
  } else {
    c.b(0x49, 0xc7, 0xc3).i32(insn.imm); // mov r11, imm32
    divisor = REG_AUX;
  }
  if (dstB !== 0) movRR(c, is64, X86.rax, dst);
  if (insn.off === 0) {
    c.b(0x31, 0xd2); // xor edx, edx
    rex1If(c, is64, divisor);
    c.b(0xf7, modrmExt(divisor, 6)); // div
  } else {
    if (is64) c.b(0x48, 0x99); // cqo
    else c.b(0x99); // cdq
    rex1If(c, is64, divisor);
    c.b(0xf7, modrmExt(divisor, 7)); // idiv
  }
  if (op === BPF_MOD && dstB !== 3) movRR(c, is64, dst, X86.rdx);
  else if (op === BPF_DIV && dstB !== 0) movRR(c, is64, dst, X86.rax);
  if (dstB !== 3) c.b(0x5a);
  if (dstB !== 0) c.b(0x58);
}

/**
 * native mode: the kernel JIT relies on the verifier having guarded division (by zero gives
 * 0, modulo by zero keeps dst, signed by -1 negates / gives 0, since x86 idiv would trap).
 * Without that rewrite pass here, the same rules are emitted around the division itself.
 */
function guardedDivMod(c: Code, insn: Insn, is64: boolean, op: number, isX: boolean): void {
  const dst = R(insn.dst);
  const signed = insn.off === 1;
  const byMinusOne = (out: Code): void => {
    if (op === BPF_DIV) {
      rex1If(out, is64, dst);
      out.b(0xf7, modrmExt(dst, 3)); // neg
    } else movImm32(out, false, dst, 0);
  };
  if (!isX) {
    if (signed && insn.imm === -1) return byMinusOne(c);
    return divMod(c, insn, is64, op, isX);
  }
  const src = R(insn.src);
  const body = new Code();
  divMod(body, insn, is64, op, isX);
  const minusOne = new Code();
  if (signed) {
    const neg = new Code();
    byMinusOne(neg);
    rex1If(minusOne, is64, src);
    minusOne.b(0x83, modrmExt(src, 7), 0xff); // cmp src, -1
    minusOne.b(0x75, neg.length + 2); // jne -> the division
    minusOne.append(neg);
    minusOne.b(0xeb, body.length); // jmp end
  }
  const zero = new Code();
  if (op === BPF_DIV) movImm32(zero, false, dst, 0);
  else if (!is64) movRR32(zero, dst, dst);
  zero.b(0xeb, minusOne.length + body.length);
  rexIf(c, is64, src, src);
  c.b(0x85, modrmRR(src, src)); // test src, src
  c.b(0x75, zero.length); // jnz -> past the by-zero result
  c.append(zero).append(minusOne).append(body);
}

/** With BMI2 (and the count not already in rcx) a VEX shlx/shrx/sarx; otherwise the count
 *  goes through cl, saving rcx (or moving the destination to r11 when it is rcx). */
function shiftByReg(c: Code, insn: Insn, is64: boolean, op: number, x: InsnContext): void {
  let dst = R(insn.dst);
  const src = R(insn.src);
  if (x.cfg.bmi2 && insn.src !== 4) {
    const pp = op === BPF_LSH ? 1 : op === BPF_RSH ? 3 : 2; // 66 / f2 / f3
    vex3(c, isExt(dst), false, isExt(dst), 2, is64, src, false, pp);
    c.b(0xf7, modrmRR(dst, dst));
    return;
  }
  if (insn.src !== 4) {
    if (insn.dst === 4) {
      movRR64(c, REG_AUX, dst);
      dst = REG_AUX;
    } else {
      c.b(0x51);
    }
    movRR64(c, X86.rcx, src);
  }
  rex1If(c, is64, dst);
  c.b(0xd3, modrmExt(dst, SHIFT_EXT[op]));
  if (insn.src !== 4) {
    if (insn.dst === 4) movRR64(c, X86.rcx, REG_AUX);
    else c.b(0x59);
  }
}

/** BPF_END: to-BE (and the unconditional bswap of ALU64) swaps then zero-extends; to-LE on
 *  a little-endian CPU only truncates. */
function endian(c: Code, insn: Insn, is64: boolean, dst: number, x: InsnContext): void {
  const swap = is64 || bpfSrc(insn.code) === BPF_X;
  const bits = insn.imm;
  if (swap) {
    if (bits === 16) {
      c.b(0x66);
      if (isExt(dst)) c.b(0x41);
      c.b(0xc1, modrmExt(dst, 1), 8); // ror r16, 8
      movzx16(c, dst);
    } else if (bits === 32) {
      if (isExt(dst)) c.b(0x41);
      c.b(0x0f, 0xc8 + low3(dst));
    } else if (bits === 64) {
      c.b(rex(true, dst, 0), 0x0f, 0xc8 + low3(dst));
    } else unknown(insn, x);
    return;
  }
  if (bits === 16) movzx16(c, dst);
  else if (bits === 32) {
    if (isExt(dst)) c.b(0x45);
    c.b(0x89, modrmRR(dst, dst));
  } else if (bits !== 64) unknown(insn, x);
}

function movzx16(c: Code, dst: number): void {
  if (isExt(dst)) c.b(0x45, 0x0f, 0xb7);
  else c.b(0x0f, 0xb7);
  c.b(modrmRR(dst, dst));
}

/** Arena addr_space_cast(.., 1, 0): user address from the low 32 bits, 0 stays 0. */
function castUser(c: Code, dst: number, src: number, x: InsnContext): void {
  const userStart = x.fn.arena?.userVmStart ?? 0n;
  if (dst !== src) movRR32(c, dst, src);
  rex1If(c, true, dst);
  c.b(0xc1, modrmExt(dst, 4), 32); // shl dst, 32
  rex1If(c, true, dst);
  const hi = Number(BigInt.asIntN(32, userStart >> 32n));
  // The user address is per load (where the arena was mmapped): marked in kernel mode.
  if (dst === X86.rax) c.b(0x0d);
  else c.b(0x81, modrmExt(dst, 1)); // or dst, hi32
  if (x.mode === 'kernel') c.reloc('arena', 4);
  c.i32(hi);
  rex1If(c, true, dst);
  c.b(0xc1, modrmExt(dst, 0), 32); // rol dst, 32
  c.b(0x4d, 0x31, 0xdb); // xor r11, r11
  rexIf(c, false, dst, dst);
  c.b(0x85, modrmRR(dst, dst)); // test dst32, dst32
  rexIf(c, true, REG_AUX, dst);
  c.b(0x0f, 0x44, modrmRR(REG_AUX, dst)); // cmove dst, r11
}

/** dst = src + this_cpu_off (gs-relative). The address of this_cpu_off is a kernel symbol. */
function movPercpuAddr(c: Code, dst: number, src: number): void {
  movRR64(c, dst, src);
  c.b(0x65, rex(true, 0, dst), 0x03, 0x04 | (low3(dst) << 3), 0x25).reloc('percpu', 4).i32(0);
}

const isCallLike = (insn: Insn): boolean => bpfClass(insn.code) === BPF_LD || (bpfClass(insn.code) === BPF_JMP && bpfOp(insn.code) === BPF_CALL);

function stackArgContext(x: InsnContext): StackArgContext {
  const sa = x.fn.stackArgs!;
  return {
    frame: sa, bpfStack: (x.fn.stackDepth + 7) & ~7, frameBytes: frameSize(x.stackDepth),
    calleeSavedBytes: savedBytes(x.fn), native: x.mode === 'native',
  };
}

// ---- native-only rewrites (native.ts) ----

function nativeLdAbs(c: Code, insn: Insn, x: InsnContext): void {
  if (x.mode !== 'native' || x.ldAbsTarget === undefined) unknown(insn, x);
  const ret = new Code();
  epilogue(ret, x.fn, x.cfg, x.mode);
  ldAbsCall(c, insn, x.ldAbsTarget, ret);
}

// ---- ld_imm64 ----

function ldImm64(c: Code, insn: Insn, x: InsnContext): void {
  if (!insn.next) unknown(insn, x);
  const dst = R(insn.dst);
  switch (insn.src) {
    case BPF_PSEUDO_MAP_FD: case BPF_PSEUDO_MAP_VALUE: case BPF_PSEUDO_MAP_IDX: case BPF_PSEUDO_MAP_IDX_VALUE:
      // A kernel pointer (map or value address): never a 32-bit immediate.
      if (x.mode === 'kernel') return movImm64(c, dst, 0n, true, { kind: 'map' });
      return movImm64(c, dst, x.ldImm64Value?.(insn) ?? imm64(insn), true, { kind: 'map' });
    case BPF_PSEUDO_FUNC: {
      const target = x.fn.subprogRefs?.get(x.index);
      // A single-function kernel image keeps a dead callback reference as a plain value.
      if (target === undefined && x.mode === 'kernel') return movImm64(c, dst, imm64(insn));
      if (target === undefined) throw new JitError('BPF_PSEUDO_FUNC without a known target function', x.index);
      const addr = x.funcAddrs?.[target];
      if (x.mode === 'native') return movImm64(c, dst, addr ?? 0n, true, { kind: 'func-addr', target });
      // Kernel text addresses (0xffffffffc...) fit a sign-extended imm32. Before the final
      // pass the kernel uses MODULES_VADDR as a stand-in of the same size.
      const value = addr ?? 0xffffffffa0000000n;
      const before = c.length;
      movImm64(c, dst, value);
      c.relocs.push({ at: before + (c.length - before - 4), size: 4, kind: 'func-addr', target });
      return;
    }
    default:
      return movImm64(c, dst, imm64(insn));
  }
}

// ---- loads and stores ----

function load(c: Code, insn: Insn, x: InsnContext): void {
  const mode = bpfMode(insn.code);
  const size = bpfSize(insn.code);
  const dst = R(insn.dst);
  const src = R(insn.src);
  switch (mode) {
    case BPF_MEM:
      return ldx(c, size, dst, src, insn.off);
    case BPF_MEMSX:
      if (size === BPF_DW) unknown(insn, x);
      return ldsx(c, size, dst, src, insn.off);
    case BPF_PROBE_MEM: case BPF_PROBE_MEMSX:
      return probeLoad(c, insn, mode === BPF_PROBE_MEMSX, x);
    case BPF_PROBE_MEM32: {
      const at = c.length;
      ldxIndex(c, size, dst, src, REG_ARENA, insn.off);
      return void c.fault(at, dst);
    }
    case BPF_PROBE_MEM32SX: {
      const at = c.length;
      ldsxIndex(c, size, dst, src, REG_ARENA, insn.off);
      return void c.fault(at, dst);
    }
    default:
      unknown(insn, x);
  }
}

/** A load from a BTF pointer: only addresses in the kernel half are dereferenced (a fault
 *  there is fixed up through the exception table); anything else reads as 0. */
function probeLoad(c: Code, insn: Insn, signed: boolean, x: InsnContext): void {
  const dst = R(insn.dst);
  const src = R(insn.src);
  const size = bpfSize(insn.code);
  movImm64(c, REG_AX, VSYSCALL_ADDR);
  movRR64(c, REG_AUX, src);
  if (insn.off) {
    rex1If(c, true, REG_AUX);
    c.b(0x81, modrmExt(REG_AUX, 0)).i32(insn.off);
  }
  rexIf(c, true, REG_AUX, REG_AX);
  c.b(0x29, modrmRR(REG_AUX, REG_AX)); // sub r11, r10
  movImm64(c, REG_AX, BigInt.asUintN(64, TASK_SIZE_MAX_PLUS_PAGE - VSYSCALL_ADDR));
  rexIf(c, true, REG_AUX, REG_AX);
  c.b(0x39, modrmRR(REG_AUX, REG_AX)); // cmp r11, r10
  const ja = c.length;
  c.b(0x77, 0);
  movImm32(c, false, dst, 0);
  const jmp = c.length;
  c.b(0xeb, 0);
  const loadAt = c.length;
  c.bytes[ja + 1] = loadAt - (ja + 2);
  if (signed) ldsx(c, size, dst, src, insn.off);
  else ldx(c, size, dst, src, insn.off);
  c.bytes[jmp + 1] = c.length - loadAt;
  void x;
}

function store(c: Code, insn: Insn, x: InsnContext): void {
  const cls = bpfClass(insn.code);
  const mode = bpfMode(insn.code);
  const size = bpfSize(insn.code);
  const dst = R(insn.dst);
  if (cls === BPF_ST) {
    if (mode === BPF_NOSPEC) return void c.b(0x0f, 0xae, 0xe8); // lfence
    if (mode === BPF_MEM) return st(c, size, dst, insn.off, insn.imm);
    if (mode === BPF_PROBE_MEM32) {
      const at = c.length;
      stIndex(c, size, dst, REG_ARENA, insn.off, insn.imm);
      return void c.fault(at);
    }
    unknown(insn, x);
  }
  const src = R(insn.src);
  if (mode === BPF_MEM) return stx(c, size, dst, src, insn.off);
  if (mode === BPF_PROBE_MEM32) {
    const at = c.length;
    stxIndex(c, size, dst, src, REG_ARENA, insn.off);
    return void c.fault(at);
  }
  if (mode === BPF_ATOMIC || mode === BPF_PROBE_ATOMIC) return atomic(c, insn, mode === BPF_PROBE_ATOMIC, x);
  unknown(insn, x);
}

/** BPF atomics map onto lock-prefixed x86 read-modify-writes; fetch-and/or/xor have no x86
 *  instruction and become a cmpxchg loop. Load-acquire / store-release are plain moves on
 *  x86's TSO memory model (6.15+). */
function atomic(c: Code, insn: Insn, arena: boolean, x: InsnContext): void {
  const size = bpfSize(insn.code);
  const dst = R(insn.dst);
  const src = R(insn.src);
  const op = insn.imm;
  if (op === BPF_LOAD_ACQ || op === BPF_STORE_REL) {
    if (arena) {
      // Class STX: a fault leaves even load_acquire's dst as it was (DONT_CLEAR).
      const at = c.length;
      if (op === BPF_LOAD_ACQ) ldxIndex(c, size, dst, src, REG_ARENA, insn.off);
      else stxIndex(c, size, dst, src, REG_ARENA, insn.off);
      c.fault(at);
      return;
    }
    // load_acquire: dst = *(src + off); store_release: *(dst + off) = src.
    if (op === BPF_LOAD_ACQ) ldx(c, size, dst, src, insn.off);
    else stx(c, size, dst, src, insn.off);
    return;
  }
  if (size === BPF_B || size === BPF_H) unknown(insn, x);
  const is64 = size === BPF_DW;
  if (arena) {
    const at = c.length;
    atomicRmw(c, op, is64, dst, src, insn.off, REG_ARENA, x, insn);
    c.fault(at); // the native zero-extension below still runs after a fault
    if (x.mode === 'native' && op === BPF_CMPXCHG && !is64) movRR32(c, X86.rax, X86.rax);
    return;
  }
  if (op === (BPF_AND | BPF_FETCH) || op === (BPF_OR | BPF_FETCH) || op === (BPF_XOR | BPF_FETCH)) {
    movRR64(c, REG_AX, X86.rax); // cmpxchg needs rax: keep r0 in r10
    const realSrc = insn.src === 0 ? REG_AX : src;
    const realDst = insn.dst === 0 ? REG_AX : dst;
    const loop = c.length;
    ldx(c, size, X86.rax, realDst, insn.off);
    movRR(c, is64, REG_AUX, X86.rax);
    rexIf(c, is64, REG_AUX, realSrc);
    c.b(ALU_RR[op & ~BPF_FETCH], modrmRR(REG_AUX, realSrc));
    atomicRmw(c, BPF_CMPXCHG, is64, realDst, REG_AUX, insn.off, undefined, x, insn);
    c.b(0x75, -(c.length - loop) - 2); // jne loop
    movRR(c, is64, realSrc, X86.rax);
    movRR64(c, X86.rax, REG_AX);
    return;
  }
  atomicRmw(c, op, is64, dst, src, insn.off, undefined, x, insn);
  // BPF's 32-bit cmpxchg always zero-extends r0; x86 leaves rax's upper half alone when the
  // compare succeeds. The verifier inserts `w0 = w0` after it (opt_subreg_zext_lo32_rnd_hi32);
  // native mode, which JITs the program as loaded, emits that itself.
  if (x.mode === 'native' && op === BPF_CMPXCHG && !is64) movRR32(c, X86.rax, X86.rax);
}

function atomicRmw(c: Code, op: number, is64: boolean, dst: number, src: number, off: number, index: number | undefined, x: InsnContext, insn: Insn): void {
  c.b(0xf0); // lock
  if (index === undefined) rexIf(c, is64, dst, src);
  else c.b(rex(is64, dst, src, index));
  switch (op) {
    case BPF_ADD: case BPF_AND: case BPF_OR: case BPF_XOR:
      c.b(ALU_RR[op]);
      break;
    case BPF_ADD | BPF_FETCH:
      c.b(0x0f, 0xc1); // xadd
      break;
    case BPF_XCHG:
      c.b(0x87);
      break;
    case BPF_CMPXCHG:
      c.b(0x0f, 0xb1);
      break;
    default:
      unknown(insn, x);
  }
  if (index === undefined) memOperand(c, dst, src, off);
  else memIndexOperand(c, dst, src, index, off);
}

// ---- jumps, calls, exit ----

function jump(c: Code, insn: Insn, x: InsnContext): void {
  const cls = bpfClass(insn.code);
  const op = bpfOp(insn.code);
  const is64 = cls === BPF_JMP;
  if (op === BPF_CALL) {
    if (cls !== BPF_JMP) unknown(insn, x);
    return call(c, insn, x);
  }
  if (isMayGoto(insn)) {
    if (x.mode !== 'native') unknown(insn, x);
    return mayGoto(c, x.fn, x.addrs[x.i + insn.off] - x.addrs[x.i]);
  }
  if (op === BPF_TAIL_CALL && cls === BPF_JMP) {
    if (x.fn.directTailCalls?.has(x.index)) tailCallDirect(c, x.fn, x.stackDepth, x.labels, x.mode === 'kernel' && !!x.fn.patchedTailCalls?.has(x.index));
    else tailCallIndirect(c, x.fn, x.cfg, x.stackDepth, x.labels);
    return;
  }
  if (op === BPF_EXIT) {
    if (cls !== BPF_JMP) unknown(insn, x);
    if (x.exit.seen) return uncondJump(c, x.exit.cleanupAddr - x.addrs[x.i], x);
    x.exit.seen = true;
    x.exit.cleanupAddr = x.at;
    epilogue(c, x.fn, x.cfg, x.mode);
    return;
  }
  if (op === BPF_JA) {
    const rel = cls === BPF_JMP ? insn.off : insn.imm;
    // `goto -1` (dead code the verifier replaced) always jumps back over its own 2 bytes.
    const off = rel === -1 ? -2 : x.addrs[x.i + rel] - x.addrs[x.i];
    if (off === 0) {
      if (x.padding) {
        const pad = sizeDiff(x, c);
        if (pad !== 0 && pad !== 2 && pad !== 5) throw new JitError(`unexpected nop jump padding: ${pad} bytes`, x.index);
        nops(c, pad);
      }
      return;
    }
    return uncondJump(c, off, x);
  }
  const jcc = JCC[op];
  if (jcc === undefined) unknown(insn, x);
  const dst = R(insn.dst);
  const isX = bpfSrc(insn.code) === BPF_X;
  if (isX) {
    const src = R(insn.src);
    rexIf(c, is64, dst, src);
    c.b(op === BPF_JSET ? 0x85 : 0x39, modrmRR(dst, src));
  } else if (op === BPF_JSET) {
    rex1If(c, is64, dst);
    c.b(0xf7, modrmExt(dst, 0)).i32(insn.imm);
  } else if (insn.imm === 0) {
    rexIf(c, is64, dst, dst);
    c.b(0x85, modrmRR(dst, dst));
  } else {
    rex1If(c, is64, dst);
    if (isImm8(insn.imm)) c.b(0x83, modrmExt(dst, 7), insn.imm);
    else c.b(0x81, modrmExt(dst, 7)).i32(insn.imm);
  }
  const off = x.addrs[x.i + insn.off] - x.addrs[x.i];
  if (isImm8Jump(off)) {
    if (x.padding) {
      const pad = sizeDiff(x, c) - 2;
      if (pad !== 0 && pad !== 4) throw new JitError(`unexpected jmp_cond padding: ${pad} bytes`, x.index);
      nops(c, pad);
    }
    c.b(jcc, off);
  } else if (isSimm32n(off)) {
    c.b(0x0f, jcc + 0x10).i32(off);
  } else {
    throw new JitError(`cond_jmp gen bug ${off}`, x.index);
  }
}

/** Bytes this instruction took in the previous pass minus what is emitted so far: the
 *  padding that keeps a shrinking jump from moving everything after it (kernel INSN_SZ_DIFF). */
function sizeDiff(x: InsnContext, c: Code): number {
  return x.addrs[x.i] - x.addrs[x.i - 1] - c.length;
}

function uncondJump(c: Code, off: number, x: InsnContext): void {
  if (isImm8Jump(off)) {
    if (x.padding) {
      const pad = sizeDiff(x, c) - 2;
      if (pad !== 0 && pad !== 3) throw new JitError(`unexpected jump padding: ${pad} bytes`, x.index);
      nops(c, pad);
    }
    c.b(0xeb, off);
  } else if (isSimm32n(off)) {
    c.b(0xe9).i32(off);
  } else {
    throw new JitError(`jmp gen bug ${off}`, x.index);
  }
}

function call(c: Code, insn: Insn, x: InsnContext): void {
  const sa = x.fn.stackArgs;
  if (sa?.series === 'v4') {
    // v4: push the stack args (kfunc: arg 6 to r9) around the call [choice, docs §9].
    const slots = insn.src === BPF_PSEUDO_CALL || insn.src === 2 ? sa.callSlots?.get(x.index) ?? Math.max(0, insn.src === 2 ? insn.off : 0) : 0;
    const pop = v4BeforeCall(c, stackArgContext(x), slots, insn.src !== BPF_PSEUDO_CALL);
    plainCall(c, insn, x);
    popArgs(c, pop);
    return;
  }
  // 6.18 private stack: r9 is caller-saved, so it is kept across every call.
  const keepR9 = x.fn.privateStack && x.mode === 'kernel';
  if (keepR9 && insn.src !== BPF_PSEUDO_CALL) c.b(0x41, 0x51); // push r9
  plainCall(c, insn, x, keepR9);
  if (keepR9) c.b(0x41, 0x59); // pop r9
}

function plainCall(c: Code, insn: Insn, x: InsnContext, pushR9 = false): void {
  if (insn.src === BPF_PSEUDO_CALL) {
    const target = x.fn.subprogRefs?.get(x.index);
    if (target === undefined && x.mode === 'kernel') {
      // A single-function kernel image: a call to a removed callback (never reached) goes to
      // __bpf_call_base + imm, a kernel address like a helper's.
      c.b(0xe8).reloc('call', 4, insn.imm).i32(0);
      return;
    }
    if (target === undefined) throw new JitError('bpf-to-bpf call without a known target function', x.index);
    if (x.fn.tailCallReachable) loadTailCallCntPtr(c, x.stackDepth);
    if (pushR9) c.b(0x41, 0x51); // after the counter pointer load, as the kernel orders them
    const dest = x.funcAddrs?.[target];
    const here = x.funcAddr;
    c.b(0xe8).reloc('subprog', 4, target);
    c.i32(dest !== undefined && here !== undefined ? Number(BigInt.asIntN(32, dest - (here + BigInt(x.at + c.length + 4)))) : 0);
    return;
  }
  if (insn.imm === 0 && x.mode === 'kernel') throw new JitError('call with imm 0', x.index);
  if (x.mode === 'native') {
    const addr = x.callTarget?.(insn.src, insn.imm);
    if (addr === undefined) throw new JitError(`no native target for call src=${insn.src} imm=${insn.imm}`, x.index);
    // Helpers are ordinary SysV functions somewhere in the address space: movabs + call r11.
    c.b(0x49, 0xbb).reloc('native-helper', 8, insn.imm).i64(addr);
    c.b(0x41, 0xff, 0xd3);
    return;
  }
  // The helper/kfunc address is a kernel symbol: marked, left 0.
  c.b(0xe8).reloc('call', 4, insn.imm).i32(0);
}
