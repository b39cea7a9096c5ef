// Native-mode shapes for instructions the kernel's verifier rewrites before its JIT sees
// them. The native runner JITs the program as loaded (no verifier rewrites), so the JIT
// emits what those rewrites would do itself, with the interpreter's semantics
// (engine/runtime/machine.ts), which is what the native/interpreter comparison checks:
//   - may_goto: a per-frame countdown in a slot just below the BPF stack, set at entry;
//   - LD_ABS / LD_IND: a call to the runtime's packet reader; out of range returns 0 from
//     the current function, as the kernel's lowered sequence does.

import type { Insn } from '../../isa/insn.ts';
import { BPF_ABS, BPF_IND, BPF_JCOND, BPF_JMP, BPF_LD, bpfClass, bpfMode, bpfSize, BPF_B, BPF_H } from '../../isa/opcodes.ts';
import { Code } from './code.ts';
import { x86Of, X86, isExt, low3 } from './regs.ts';
import type { JitFunction } from './types.ts';
import { v4OutgoingBytes } from './stack-args.ts';

/** The interpreter's per-frame may_goto budget (runtime BPF_MAX_LOOPS). */
export const NATIVE_MAY_GOTO_BUDGET = 8 * 1024 * 1024;

export const isMayGoto = (insn: Insn): boolean => insn.code === (BPF_JMP | BPF_JCOND) && insn.src === 0;
export const isLdAbsInd = (insn: Insn): boolean =>
  bpfClass(insn.code) === BPF_LD && (bpfMode(insn.code) === BPF_ABS || bpfMode(insn.code) === BPF_IND);

export const hasMayGoto = (fn: JitFunction): boolean => fn.insns.some(isMayGoto);

/** rbp offset of the may_goto counter: right below the BPF stack. */
export const mayGotoSlot = (fn: JitFunction): number =>
  -(((fn.stackDepth + 7) & ~7) + (fn.stackArgs?.series === 'v4' ? v4OutgoingBytes(fn.stackArgs, true) : 0) + 8);

const rbpDisp32 = (c: Code, modrmReg: number, disp: number): void => void c.b(0x85 | (modrmReg << 3)).i32(disp);

/** Prologue part: `mov qword [rbp + slot], budget`. */
export function initMayGoto(c: Code, fn: JitFunction): void {
  c.b(0x48, 0xc7);
  rbpDisp32(c, 0, mayGotoSlot(fn));
  c.i32(NATIVE_MAY_GOTO_BUDGET);
}

/** may_goto: taken when the budget is spent, else spend one. Fixed size (23 bytes), so the
 *  size-convergence passes never see it change; `rel` is the branch distance from the end
 *  of this instruction's code. */
export function mayGoto(c: Code, fn: JitFunction, rel: number): void {
  const slot = mayGotoSlot(fn);
  c.b(0x48, 0x83);
  rbpDisp32(c, 7, slot); // cmp qword [rbp+slot], 0
  c.b(0x00);
  c.b(0x75, 5); // jne -> the decrement
  c.b(0xe9).i32(rel + 8); // jmp target (8 bytes of `sub` follow)
  c.b(0x48, 0x83);
  rbpDisp32(c, 5, slot); // sub qword [rbp+slot], 1
  c.b(0x01);
}

/** LD_ABS / LD_IND: r0 = the runtime's packet read at (imm [+ src]); a negative answer
 *  (out of range) makes the function return 0 through `ret`, an inline copy of the exit. */
export function ldAbsCall(c: Code, insn: Insn, target: bigint, ret: Code): void {
  const size = bpfSize(insn.code) === BPF_B ? 1 : bpfSize(insn.code) === BPF_H ? 2 : 4;
  if (bpfMode(insn.code) === BPF_IND) {
    const src = x86Of(insn.src);
    if (isExt(src)) c.b(0x44);
    c.b(0x89, 0xc0 | (low3(src) << 3) | X86.rdi); // mov edi, src32
    c.b(0x81, 0xc7).i32(insn.imm); // add edi, imm32
  } else {
    c.b(0xbf).i32(insn.imm); // mov edi, imm32
  }
  c.b(0xbe).i32(size); // mov esi, size
  c.b(0x49, 0xbb).reloc('native-helper', 8, -1).i64(target); // movabs r11, target
  c.b(0x41, 0xff, 0xd3); // call r11
  c.b(0x48, 0x85, 0xc0); // test rax, rax
  const tail = new Code().b(0x31, 0xc0).append(ret); // xor eax, eax; exit
  c.b(0x79, tail.length); // jns -> value in r0
  c.append(tail);
}


