// x86-64 machine code -> the text the kernel selftests' `__jited` patterns are matched
// against. The selftests (jit_disasm_helpers.c) disassemble each JIT'ed function with LLVM's
// C API in AT&T syntax with hex immediates; this file gives the same text without LLVM:
// iced-x86 decodes, iced's GAS formatter does most operands, and the places where LLVM and
// iced disagree are written out here (immediates, branch targets, a few mnemonics).
//
// Layout, per function i (pc restarts at 0 in every function):
//   func #i:
//   <pc hex>:\t<bytes as "xx ", padded to 36 columns>[L<n>:]\t<mnemonic>[\t<operands>]
//   (empty line)
// Branch targets inside the function become labels L0, L1, ... in address order. The
// selftest collects at most 32 targets, keeps duplicates (two jumps to one place take two
// names; the jump prints the first, the line the one glibc's bsearch lands on), and prints
// every other target as an absolute address relative to the function start, wrapped to
// 64 bits. LLVM's text is cut to 63 characters (the selftest's 64-byte buffer).

import {
  Code, Decoder, DecoderOptions, Formatter, FormatterSyntax, OpKind, Register, type Instruction,
} from 'iced-x86';
import { InputError } from '../errors.ts';

/** jit_disasm_helpers.c: MAX_LOCAL_LABELS, and the byte column width (12 bytes x 3). */
const MAX_LOCAL_LABELS = 32;
const BYTES_COLUMN = 36;
/** LLVMDisasmInstruction writes at most buffer size - 1 characters. */
const MAX_TEXT = 63;

let formatter: Formatter | undefined;

function gas(): Formatter {
  if (formatter) return formatter;
  const f = new Formatter(FormatterSyntax.Gas);
  f.hexPrefix = '0x';
  f.hexSuffix = '';
  f.uppercaseHex = false;
  f.smallHexNumbersInDecimal = false;
  f.spaceAfterOperandSeparator = true;
  f.branchLeadingZeros = false;
  f.showBranchSize = false;
  f.gasShowMnemonicSizeSuffix = true;
  f.signedMemoryDisplacements = true;
  f.showZeroDisplacements = false;
  f.leadingZeros = false;
  f.displacementLeadingZeros = false;
  f.addLeadingZeroToHexNumbers = false;
  f.alwaysShowScale = false;
  f.showUselessPrefixes = false;
  formatter = f;
  return f;
}

/** LLVM prints immediates as signed 64-bit hex: `0x2a`, `-0x10`. */
export function hexSigned(v: bigint): string {
  const s = BigInt.asIntN(64, v);
  return s < 0n ? `-0x${(-s).toString(16)}` : `0x${s.toString(16)}`;
}

const hexU64 = (v: bigint): string => `0x${BigInt.asUintN(64, v).toString(16)}`;

/** The immediate as LLVM's disassembler keeps it, which decides how it prints: an 8-bit
 *  encoding is sign-extended whatever the operand size (`addl $-0x4`, `movb $-0x1`); 16- and
 *  32-bit encodings keep their operand-size value (`movl $0xfffffff9`, `movw $0xffff`); a
 *  32-bit encoding of a 64-bit operand is sign-extended (`movq $-0x10`). */
function llvmImmediate(ins: Instruction, op: number): bigint {
  const raw = ins.immediate(op);
  switch (ins.opKind(op)) {
    case OpKind.Immediate8:
    case OpKind.Immediate8_2nd:
    case OpKind.Immediate8to16:
    case OpKind.Immediate8to32:
    case OpKind.Immediate8to64:
      return BigInt.asIntN(8, raw & 0xffn);
    case OpKind.Immediate16:
      return raw & 0xffffn;
    case OpKind.Immediate32:
      return raw & 0xffffffffn;
    case OpKind.Immediate32to64:
      return BigInt.asIntN(32, raw & 0xffffffffn);
    default:
      return BigInt.asIntN(64, raw);
  }
}

/** D0/D1 shifts and rotates by one: LLVM prints no `$0x1` operand (`shll\t%eax`). */
function isShiftByOne(ins: Instruction): boolean {
  return Code[ins.code].endsWith('_1');
}

function isImmediate(kind: OpKind): boolean {
  return kind >= OpKind.Immediate8 && kind <= OpKind.Immediate32to64;
}

function isNearBranch(kind: OpKind): boolean {
  return kind === OpKind.NearBranch16 || kind === OpKind.NearBranch32 || kind === OpKind.NearBranch64;
}

const IMUL_IMM = new Set<Code>([
  Code.Imul_r16_rm16_imm8, Code.Imul_r16_rm16_imm16, Code.Imul_r32_rm32_imm8, Code.Imul_r32_rm32_imm32,
  Code.Imul_r64_rm64_imm8, Code.Imul_r64_rm64_imm32,
]);

/** Mnemonics where LLVM's AT&T spelling differs from iced's GAS one. */
const MNEMONIC_FIX: Readonly<Record<string, string>> = {
  leaveq: 'leave',
  call: 'callq',
  ret: 'retq',
  jmpq: 'jmp',
  movabs: 'movabsq',
};

/** A memory operand without base or index: LLVM prints the 32-bit displacement signed. */
function memoryAbsolute(ins: Instruction, text: string): string {
  if (ins.memoryBase !== Register.None || ins.memoryIndex !== Register.None) return text;
  const seg = ins.memorySegment !== Register.DS && ins.memorySegment !== Register.None ? `%${Register[ins.memorySegment].toLowerCase()}:` : '';
  return `${seg}${hexSigned(BigInt.asIntN(32, ins.memoryDisplacement & 0xffffffffn))}`;
}

/** One instruction as LLVM prints it: `\t<mnemonic>[\t<operands>]`; `branch` names targets. */
export function insnText(ins: Instruction, branch: (target: bigint) => string): string {
  const f = gas();
  let mnemonic = f.formatMnemonic(ins);
  // iced prints prefixes with the mnemonic ("lock xaddq"); LLVM prints "lock" as its own field.
  let prefix = '';
  const sp = mnemonic.lastIndexOf(' ');
  if (sp >= 0) {
    prefix = mnemonic.slice(0, sp);
    mnemonic = mnemonic.slice(sp + 1);
  }
  mnemonic = MNEMONIC_FIX[mnemonic] ?? mnemonic;
  const ops: string[] = [];
  const operand = (io: number, text: () => string): string => {
    const kind = ins.opKind(io);
    if (isImmediate(kind)) return `$${hexSigned(llvmImmediate(ins, io))}`;
    if (isNearBranch(kind)) return branch(ins.nearBranchTarget);
    if (kind === OpKind.Memory) return memoryAbsolute(ins, text());
    return text();
  };
  if (IMUL_IMM.has(ins.code)) {
    // iced shortens `imul $k, %rax, %rax` to two operands; LLVM always prints all three.
    ops.push(operand(2, () => ''), operand(1, () => f.formatOperand(ins, f.getFormatterOperand(ins, 1) ?? 1)), `%${f.formatRegister(ins.opRegister(0)).replace(/^%/, '')}`);
  } else {
    const n = f.operandCount(ins);
    for (let i = 0; i < n; i++) {
      const io = f.getInstructionOperand(ins, i);
      if (io !== undefined && isShiftByOne(ins) && isImmediate(ins.opKind(io))) continue;
      ops.push(io === undefined ? f.formatOperand(ins, i) : operand(io, () => f.formatOperand(ins, i)));
    }
  }
  const body = ops.length ? `\t${mnemonic}\t${ops.join(', ')}` : `\t${mnemonic}`;
  return prefix ? `\t${prefix}\t${body}` : body;
}

/** glibc bsearch over sorted numbers: with duplicates, which equal entry it finds is fixed. */
function bsearch(sorted: readonly bigint[], key: bigint): number {
  let l = 0;
  let u = sorted.length;
  while (l < u) {
    const idx = (l + u) >> 1;
    if (key < sorted[idx]) u = idx;
    else if (key > sorted[idx]) l = idx + 1;
    else return idx;
  }
  return -1;
}

const hex2 = (b: number): string => b.toString(16).padStart(2, '0');

/** One decoded unit: an iced instruction, or LLVM's stand-alone `lock` (see below). */
type Unit = { readonly pc: number; readonly length: number; readonly ins?: Instruction };

const LOCK = 0xf0;

/** Decode a function. LLVM's C API returns a leading F0 (lock) byte as an instruction of its
 *  own (`\tlock`) and decodes what follows separately; do the same. */
function decodeUnits(code: Uint8Array, funcIndex: number): Unit[] {
  const d = new Decoder(64, code, DecoderOptions.None);
  const out: Unit[] = [];
  try {
    let pc = 0;
    while (pc < code.length) {
      if (code[pc] === LOCK) {
        out.push({ pc, length: 1 });
        pc += 1;
        continue;
      }
      d.position = pc;
      d.ip = BigInt(pc);
      const ins = d.decode();
      if (ins.isInvalid) {
        ins.free();
        for (const u of out) u.ins?.free();
        const bytes = Array.from(code.subarray(pc, pc + 16), hex2).join(' ');
        throw new InputError(`func #${funcIndex}: cannot disassemble the instruction at offset 0x${pc.toString(16)}: ${bytes}`);
      }
      out.push({ pc, length: ins.length, ins });
      pc += ins.length;
    }
  } finally {
    d.free();
  }
  return out;
}

/** One function's lines (without the `func #N:` header). */
export function formatFunction(code: Uint8Array, funcIndex = 0): string {
  const units = decodeUnits(code, funcIndex);
  try {
    const len = BigInt(code.length);
    // Pass 1: in-function branch targets, in instruction order, duplicates kept, at most 32.
    const pcs: bigint[] = [];
    for (const { ins } of units) {
      if (!ins) continue;
      for (let i = 0; i < ins.opCount; i++) {
        if (!isNearBranch(ins.opKind(i))) continue;
        const t = ins.nearBranchTarget;
        if (pcs.length < MAX_LOCAL_LABELS && t < len) pcs.push(t);
      }
    }
    pcs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const branch = (t: bigint): string => {
      const i = pcs.indexOf(t);
      return i >= 0 ? `L${i}` : hexU64(t);
    };
    // Pass 2: print.
    let out = '';
    for (const { pc, length, ins } of units) {
      const li = bsearch(pcs, BigInt(pc));
      const label = li >= 0 ? `L${li}:` : '';
      const bytes = Array.from(code.subarray(pc, pc + length), (b) => `${hex2(b)} `).join('');
      const text = ins ? insnText(ins, branch) : '\tlock';
      out += `${pc.toString(16)}:\t${bytes.padEnd(BYTES_COLUMN, ' ')}${label}${text.slice(0, MAX_TEXT)}\n`;
    }
    return out;
  } finally {
    for (const u of units) u.ins?.free();
  }
}

/** The `__jited` text of a JIT image: `funcLens` splits it into functions (jited_func_lens).
 *  Bad input (lengths that do not add up, undecodable bytes) raises InputError. */
export function formatJited(image: Uint8Array, funcLens: readonly number[]): string {
  const total = funcLens.reduce((a, b) => a + b, 0);
  if (funcLens.some((n) => !Number.isInteger(n) || n < 0) || total !== image.length) {
    throw new InputError(`JIT function lengths [${funcLens.join(', ')}] do not add up to the image size ${image.length}`);
  }
  let out = '';
  let pc = 0;
  funcLens.forEach((n, i) => {
    out += `func #${i}:\n${formatFunction(image.subarray(pc, pc + n), i)}\n`;
    pc += n;
  });
  return out;
}
