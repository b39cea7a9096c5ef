// A byte buffer for one instruction's (or one prologue's) machine code, plus the x86-64
// encoding pieces the kernel JIT builds everything from. Registers are x86 numbers (see
// regs.ts). Each helper reproduces the kernel's exact choice of prefix and form, which is
// not always the shortest one (for example `movzx` of a byte always carries REX.W).

import { isExt, low3, needsRexByte } from './regs.ts';

/** Where a 4- or 8-byte field in the image refers to something outside it. */
export interface Reloc {
  /** Byte offset of the field inside the function image. */
  readonly at: number;
  readonly size: 4 | 8;
  readonly kind: RelocKind;
  /** helper/kfunc: the call insn's imm; subprog/func: the target function index. */
  readonly target?: number;
}

export type RelocKind =
  /** rel32 of a call to a helper, kfunc or inlined kernel function. */
  | 'call'
  /** rel32 of a bpf-to-bpf call; target = function index. */
  | 'subprog'
  /** rel32 of the final `jmp __x86_return_thunk`. */
  | 'return-thunk'
  /** rel32 of a jump to the retpoline thunk (indirect tail call). */
  | 'indirect-thunk'
  /** imm64 of a map pointer or map value address. */
  | 'map'
  /** imm32 holding the kernel address of this_cpu_off. */
  | 'percpu'
  /** imm of a BPF_PSEUDO_FUNC ld_imm64 (a callback's address); target = function index. */
  | 'func-addr'
  /** imm64 of a native helper's address (native mode). */
  | 'native-helper'
  /** Arena addresses: kern_vm_start (imm64 into r12) and the upper half of user_vm_start
   *  (imm32 of addr_space_cast to the user space). Per load, like map addresses. */
  | 'arena'
  /** 6.18 private stack: the per-CPU frame pointer (imm64 into r9). */
  | 'priv-stack'
  /** rel32 of an installed direct tail call's jump into the target program. */
  | 'tail-call-target';

/** One exception-table entry (the kernel's populate_extable for PROBE_MEM32, PROBE_MEM32SX
 *  and PROBE_ATOMIC): a fault at `at` resumes `len` bytes later, with the x86 register
 *  `clear` zeroed first (loads) or nothing changed (stores, atomics). */
export interface ExEntry {
  /** Byte offset of the faulting x86 instruction inside the function image. */
  readonly at: number;
  /** Its length: where execution continues after a fault. */
  readonly len: number;
  /** x86 register number to zero, or undefined (the kernel's DONT_CLEAR). */
  readonly clear?: number;
}

export class Code {
  readonly bytes: number[] = [];
  readonly relocs: Reloc[] = [];
  readonly extable: ExEntry[] = [];

  get length(): number {
    return this.bytes.length;
  }

  /** Raw bytes (each taken modulo 256). */
  b(...xs: number[]): this {
    for (const x of xs) this.bytes.push(x & 0xff);
    return this;
  }

  /** A little-endian 32-bit field (any sign). */
  i32(v: number): this {
    const u = v >>> 0;
    return this.b(u, u >>> 8, u >>> 16, u >>> 24);
  }

  i64(v: bigint): this {
    const u = BigInt.asUintN(64, v);
    this.i32(Number(u & 0xffffffffn));
    return this.i32(Number(u >> 32n));
  }

  /** Note that the next `size` bytes are a reference of `kind`. */
  reloc(kind: RelocKind, size: 4 | 8, target?: number): this {
    this.relocs.push({ at: this.bytes.length, size, kind, ...(target !== undefined ? { target } : {}) });
    return this;
  }

  /** Note that the bytes from `at` to here are one instruction whose fault is fixed up. */
  fault(at: number, clear?: number): this {
    this.extable.push({ at, len: this.bytes.length - at, ...(clear !== undefined ? { clear } : {}) });
    return this;
  }

  append(other: Code): this {
    const base = this.bytes.length;
    for (const r of other.relocs) this.relocs.push({ ...r, at: r.at + base });
    for (const e of other.extable) this.extable.push({ ...e, at: e.at + base });
    this.bytes.push(...other.bytes);
    return this;
  }
}

export const isImm8 = (v: number): boolean => v >= -128 && v <= 127;
export const isSimm32 = (v: bigint): boolean => BigInt.asIntN(32, v) === v;
export const isUimm32 = (v: bigint): boolean => BigInt.asUintN(32, v) === v;

/** REX with W and the B (rm/base), R (reg) and X (index) extension bits. */
export function rex(w: boolean, rm: number, reg: number, index = 0): number {
  return 0x40 | (w ? 8 : 0) | (isExt(reg) ? 4 : 0) | (isExt(index) ? 2 : 0) | (isExt(rm) ? 1 : 0);
}

/** ModRM for a register-direct operand pair. */
export const modrmRR = (rm: number, reg: number): number => 0xc0 | (low3(reg) << 3) | low3(rm);

/** ModRM with an opcode extension /ext on a register operand. */
export const modrmExt = (rm: number, ext: number): number => 0xc0 | (ext << 3) | low3(rm);

/** REX for a two-register op: always with W when 64-bit, else only when a register needs it. */
export function rexIf(c: Code, is64: boolean, rm: number, reg: number): void {
  if (is64 || isExt(rm) || isExt(reg)) c.b(rex(is64, rm, reg));
}

/** The one-register form of rexIf. */
export function rex1If(c: Code, is64: boolean, rm: number): void {
  if (is64 || isExt(rm)) c.b(rex(is64, rm, 0));
}

/** ModRM + displacement for [base + off] with `reg` in the reg field. Always a disp8 or
 *  disp32, never the no-displacement form (rbp/r13 as a base would need one anyway). */
export function memOperand(c: Code, base: number, reg: number, off: number): void {
  if (isImm8(off)) c.b(0x40 | (low3(reg) << 3) | low3(base), off);
  else c.b(0x80 | (low3(reg) << 3) | low3(base)).i32(off);
}

/** ModRM + SIB + displacement for [base + index + off] (scale 1). */
export function memIndexOperand(c: Code, base: number, reg: number, index: number, off: number): void {
  const sib = low3(base) | (low3(index) << 3);
  if (isImm8(off)) c.b(0x44 | (low3(reg) << 3), sib, off);
  else c.b(0x84 | (low3(reg) << 3), sib).i32(off);
}

/** 64-bit register move, omitted when it would be a no-op. */
export function movRR64(c: Code, dst: number, src: number): void {
  if (dst !== src) c.b(rex(true, dst, src), 0x89, modrmRR(dst, src));
}

/** 32-bit register move: always emitted, since it zero-extends. */
export function movRR32(c: Code, dst: number, src: number): void {
  if (isExt(dst) || isExt(src)) c.b(rex(false, dst, src));
  c.b(0x89, modrmRR(dst, src));
}

export function movRR(c: Code, is64: boolean, dst: number, src: number): void {
  if (is64) movRR64(c, dst, src);
  else movRR32(c, dst, src);
}

/** dst = imm32: sign-extending `mov r64, imm32` only when the value must be negative in 64
 *  bits, `xor r32, r32` for zero, otherwise the zero-extending `mov r32, imm32`. */
export function movImm32(c: Code, signExtend: boolean, dst: number, imm: number): void {
  if (signExtend && (imm | 0) < 0) {
    c.b(rex(true, dst, 0), 0xc7, modrmExt(dst, 0)).i32(imm);
    return;
  }
  if ((imm | 0) === 0) {
    if (isExt(dst)) c.b(rex(false, dst, dst));
    c.b(0x31, modrmRR(dst, dst));
    return;
  }
  if (isExt(dst)) c.b(rex(false, dst, 0));
  c.b(0xb8 + low3(dst)).i32(imm);
}

/** dst = imm64 with the shortest of the three forms above or `movabs`. `rel` marks the
 *  immediate as a reference (only meaningful with `forceAbs`, which always uses movabs). */
export function movImm64(c: Code, dst: number, value: bigint, forceAbs = false, rel?: { kind: RelocKind; target?: number }): void {
  const v = BigInt.asUintN(64, value);
  if (!forceAbs && isUimm32(v)) {
    movImm32(c, false, dst, Number(v));
  } else if (!forceAbs && isSimm32(BigInt.asIntN(64, v))) {
    movImm32(c, true, dst, Number(BigInt.asIntN(32, v)));
  } else {
    c.b(rex(true, dst, 0), 0xb8 + low3(dst));
    if (rel) c.reloc(rel.kind, 8, rel.target);
    c.i64(v);
  }
}

/** Sign-extending register move (BPF movsx). Note the kernel's operand order: the source
 *  sits in ModRM.rm (REX.B) and the destination in ModRM.reg (REX.R). */
export function movsxRR(c: Code, bits: number, is64: boolean, dst: number, src: number): void {
  if (is64) {
    if (bits === 8) c.b(rex(true, src, dst), 0x0f, 0xbe, modrmRR(src, dst));
    else if (bits === 16) c.b(rex(true, src, dst), 0x0f, 0xbf, modrmRR(src, dst));
    else if (bits === 32) c.b(rex(true, src, dst), 0x63, modrmRR(src, dst));
    return;
  }
  if (bits === 8) {
    c.b(rex(false, src, dst), 0x0f, 0xbe, modrmRR(src, dst));
  } else if (bits === 16) {
    if (isExt(dst) || isExt(src)) c.b(rex(false, src, dst));
    c.b(0x0f, 0xbf, modrmRR(src, dst));
  }
}

/** Size field of a load/store: BPF_B, BPF_H, BPF_W or BPF_DW. */
export type MemSize = 0x10 | 0x08 | 0x00 | 0x18;
const B = 0x10, H = 0x08, W = 0x00;

/** dst = zero-extended *(size *)(src + off). */
export function ldx(c: Code, size: number, dst: number, src: number, off: number): void {
  if (size === B) c.b(rex(true, src, dst), 0x0f, 0xb6);
  else if (size === H) c.b(rex(true, src, dst), 0x0f, 0xb7);
  else if (size === W) {
    if (isExt(dst) || isExt(src)) c.b(rex(false, src, dst));
    c.b(0x8b);
  } else c.b(rex(true, src, dst), 0x8b);
  memOperand(c, src, dst, off);
}

/** dst = sign-extended *(size *)(src + off). */
export function ldsx(c: Code, size: number, dst: number, src: number, off: number): void {
  if (size === B) c.b(rex(true, src, dst), 0x0f, 0xbe);
  else if (size === H) c.b(rex(true, src, dst), 0x0f, 0xbf);
  else c.b(rex(true, src, dst), 0x63);
  memOperand(c, src, dst, off);
}

/** dst = *(size *)(src + index + off), the arena (r12-indexed) load. */
export function ldxIndex(c: Code, size: number, dst: number, src: number, index: number, off: number): void {
  if (size === B) c.b(rex(false, src, dst, index), 0x0f, 0xb6);
  else if (size === H) c.b(rex(false, src, dst, index), 0x0f, 0xb7);
  else if (size === W) c.b(rex(false, src, dst, index), 0x8b);
  else c.b(rex(true, src, dst, index), 0x8b);
  memIndexOperand(c, src, dst, index, off);
}

/** Arena sign-extending load. */
export function ldsxIndex(c: Code, size: number, dst: number, src: number, index: number, off: number): void {
  if (size === B) c.b(rex(true, src, dst, index), 0x0f, 0xbe);
  else if (size === H) c.b(rex(true, src, dst, index), 0x0f, 0xbf);
  else c.b(rex(true, src, dst, index), 0x63);
  memIndexOperand(c, src, dst, index, off);
}

/** *(size *)(dst + off) = src. */
export function stx(c: Code, size: number, dst: number, src: number, off: number): void {
  if (size === B) {
    if (isExt(dst) || needsRexByte(src)) c.b(rex(false, dst, src));
    c.b(0x88);
  } else if (size === H) {
    c.b(0x66);
    if (isExt(dst) || isExt(src)) c.b(rex(false, dst, src));
    c.b(0x89);
  } else if (size === W) {
    if (isExt(dst) || isExt(src)) c.b(rex(false, dst, src));
    c.b(0x89);
  } else c.b(rex(true, dst, src), 0x89);
  memOperand(c, dst, src, off);
}

/** *(size *)(dst + index + off) = src. */
export function stxIndex(c: Code, size: number, dst: number, src: number, index: number, off: number): void {
  if (size === B) c.b(rex(false, dst, src, index), 0x88);
  else if (size === H) c.b(0x66, rex(false, dst, src, index), 0x89);
  else if (size === W) c.b(rex(false, dst, src, index), 0x89);
  else c.b(rex(true, dst, src, index), 0x89);
  memIndexOperand(c, dst, src, index, off);
}

/** Bytes of the immediate a store of this size carries (a DW store takes a sign-extended imm32). */
export const storeImmBytes = (size: number): number => (size === B ? 1 : size === H ? 2 : 4);

function immBytes(c: Code, imm: number, n: number): void {
  const u = imm >>> 0;
  for (let i = 0; i < n; i++) c.b(u >>> (8 * i));
}

/** *(size *)(dst + off) = imm. */
export function st(c: Code, size: number, dst: number, off: number, imm: number): void {
  if (size === B) {
    if (isExt(dst)) c.b(0x41);
    c.b(0xc6);
  } else if (size === H) {
    c.b(0x66);
    if (isExt(dst)) c.b(0x41);
    c.b(0xc7);
  } else if (size === W) {
    if (isExt(dst)) c.b(0x41);
    c.b(0xc7);
  } else c.b(rex(true, dst, 0), 0xc7);
  memOperand(c, dst, 0, off);
  immBytes(c, imm, storeImmBytes(size));
}

/** *(size *)(dst + index + off) = imm. */
export function stIndex(c: Code, size: number, dst: number, index: number, off: number, imm: number): void {
  if (size === B) c.b(rex(false, dst, 0, index), 0xc6);
  else if (size === H) c.b(0x66, rex(false, dst, 0, index), 0xc7);
  else if (size === W) c.b(rex(false, dst, 0, index), 0xc7);
  else c.b(rex(true, dst, 0, index), 0xc7);
  memIndexOperand(c, dst, 0, index, off);
  immBytes(c, imm, storeImmBytes(size));
}

/** 3-byte VEX prefix (used only for the BMI2 shifts). `vvvv` is an x86 register. */
export function vex3(c: Code, r: boolean, x: boolean, bBit: boolean, map: number, w: boolean, vvvv: number, l: boolean, pp: number): void {
  c.b(0xc4, ((r ? 0 : 1) << 7) | ((x ? 0 : 1) << 6) | ((bBit ? 0 : 1) << 5) | (map & 0x1f),
    ((w ? 1 : 0) << 7) | ((~vvvv & 0xf) << 3) | ((l ? 1 : 0) << 2) | (pp & 3));
}

/** x86 nops of each length as the kernel's x86_nops table has them (P6 nops). */
export const NOPS: readonly (readonly number[])[] = [
  [],
  [0x90],
  [0x66, 0x90],
  [0x0f, 0x1f, 0x00],
  [0x0f, 0x1f, 0x40, 0x00],
  [0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
  [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];

/** `len` bytes of nops, longest first (x86-64's ASM_NOP_MAX is 11). */
export function nops(c: Code, len: number): void {
  while (len > 0) {
    const n = Math.min(len, NOPS.length - 1);
    c.b(...NOPS[n]);
    len -= n;
  }
}
