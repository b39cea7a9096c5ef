// Differential testing against the live kernel: a generator of small scalar-only programs
// (fixed seed) and a reader that turns a level-2 verifier log into per-instruction
// transitions (inputs as printed before the instruction, outputs as printed after it),
// plus the check that recomputes each transition with this folder's functions.
// Loading is left to the caller (scripts/record-scalar-oracle.ts, the live test).

import {
  BPF_ALU, BPF_ALU64, BPF_JMP, BPF_JMP32, BPF_K, BPF_X, BPF_LDX, BPF_MEM, BPF_W, BPF_B, BPF_H,
  BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD,
  BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END, BPF_TO_BE, BPF_EXIT, BPF_CALL,
  BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE,
  BPF_JSLT, BPF_JSLE, BPF_JA, BPF_STX, BPF_DW, BPF_MEMSX, BPF_REG_FP, bpfClass, bpfOp, bpfSrc,
  bpfMode, bpfSize, sizeBytes,
} from '../../isa/opcodes.ts';
import { type Insn, ldImm64 } from '../../isa/insn.ts';
import { type ScalarBounds, coerceToSize, coerceToSizeSx } from './bounds.ts';
import { scalarAlu, scalarImm, scalarMovImm, maybeForkScalars } from './alu.ts';
import { isBranchTaken, refineBothBranches } from './branch.ts';
import { formatScalar, parseScalar } from './print.ts';

// ---------------------------------------------------------------- generator

/** mulberry32: small, fast, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });

/** A main-line item: a plain instruction, or a conditional jump to its own exit block. */
type Item = { readonly insn: Insn; readonly toExit?: boolean };

const WORK = [2, 3, 4, 5, 6, 7, 8];
const CTX = 9;
const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG,
  BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END];
const JMP_OPS = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE,
  BPF_JSLT, BPF_JSLE];

const INTERESTING_IMMS = [0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 100, 127, 128, 255, 256,
  0x3ff, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, -0x80000000, -1, -2, -8, -16, -100, -128,
  -256, -0x8000, 0x12345678, 0x0ff0, 0x5555, 0xaaaa, 0x0f0f0f0f, 0x40000000, -0x40000000];

const INTERESTING_64 = [0x100000000n, 0xffffffffn, 0x7fffffffffffffffn, 0x8000000000000000n,
  0xffffffff00000000n, 0x00000000fffffff0n, 0xfffffffffffffff0n, 0x123456789abcdefn,
  0x80000000n, 0xffffffff80000000n, 0x1ffffffffn, 0x8000000000000001n];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function randImm(r: () => number): number {
  const c = r();
  if (c < 0.6) return pick(r, INTERESTING_IMMS);
  if (c < 0.8) return Math.floor(r() * 2000) - 1000;
  return (Math.floor(r() * 0x1_0000_0000) | 0);
}

/** One random shaping/ALU instruction on working registers. */
function randAlu(r: () => number, dst: number, src: number): Insn[] {
  const op = pick(r, ALU_OPS);
  const is64 = r() < 0.5;
  const cls = is64 ? BPF_ALU64 : BPF_ALU;
  const useX = r() < 0.5;
  switch (op) {
    case BPF_NEG:
      return [ins(cls | BPF_NEG | BPF_K, dst)];
    case BPF_END: {
      const imm = pick(r, [16, 32, 64]);
      if (is64) return [ins(BPF_ALU64 | BPF_END, dst, 0, 0, imm)];
      return [ins(BPF_ALU | BPF_END | (r() < 0.5 ? BPF_TO_BE : 0), dst, 0, 0, imm)];
    }
    case BPF_MOV: {
      if (!useX) return [ins(cls | BPF_MOV | BPF_K, dst, 0, 0, randImm(r))];
      const off = is64 ? pick(r, [0, 8, 16, 32]) : pick(r, [0, 8, 16]);
      if (src === dst) return [ins(cls | BPF_MOV | BPF_X, dst, src, off)];
      // The copy links dst and src by id; overwrite src at once so no two live
      // registers share an id (linked-register refinement is the driver's business).
      return [ins(cls | BPF_MOV | BPF_X, dst, src, off), ins(BPF_ALU64 | BPF_MOV | BPF_K, src, 0, 0, randImm(r))];
    }
    case BPF_LSH:
    case BPF_RSH:
    case BPF_ARSH:
      if (useX) return [ins(cls | op | BPF_X, dst, src)];
      return [ins(cls | op | BPF_K, dst, 0, 0, Math.floor(r() * (is64 ? 64 : 32)))];
    case BPF_DIV:
    case BPF_MOD: {
      const off = r() < 0.4 ? 1 : 0;
      if (useX) return [ins(cls | op | BPF_X, dst, src, off)];
      let imm = randImm(r);
      if (imm === 0) imm = 3;
      return [ins(cls | op | BPF_K, dst, 0, off, imm)];
    }
    default:
      if (useX) return [ins(cls | op | BPF_X, dst, src)];
      return [ins(cls | op | BPF_K, dst, 0, 0, randImm(r))];
  }
}

/**
 * Spill src to fp-8 and fill dst from its low bytes: a narrow load (zero-extending) or a
 * sign-extending one, which the kernel models with coerce_reg_to_size(_sx). src is then
 * overwritten so that it shares no id with dst.
 */
function spillFill(r: () => number, dst: number, src: number): Insn[] {
  const sx = r() < 0.5;
  const size = sx ? pick(r, [BPF_B, BPF_H, BPF_W]) : pick(r, [BPF_B, BPF_H, BPF_W, BPF_DW]);
  const out = [
    ins(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_FP, src, -8),
    ins(BPF_LDX | (sx ? BPF_MEMSX : BPF_MEM) | size, dst, BPF_REG_FP, -8),
  ];
  if (src !== dst) out.push(ins(BPF_ALU64 | BPF_MOV | BPF_K, src, 0, 0, randImm(r)));
  return out;
}

function randJmp(r: () => number, dst: number, src: number, allowX = true): Item {
  const op = pick(r, JMP_OPS);
  const cls = r() < 0.5 ? BPF_JMP : BPF_JMP32;
  if (allowX && r() < 0.45) return { insn: ins(cls | op | BPF_X, dst, src), toExit: true };
  return { insn: ins(cls | op | BPF_K, dst, 0, 0, randImm(r)), toExit: true };
}

/** Setup: give every working register a value with some interesting range. */
function setup(r: () => number): Item[] {
  const out: Item[] = [{ insn: ins(BPF_ALU64 | BPF_MOV | BPF_X, CTX, 1) }];
  // A 64-bit unknown from a helper, kept in r6..r8 (calls clobber r1..r5).
  if (r() < 0.5) {
    const reg = pick(r, [6, 7, 8]);
    out.push({ insn: ins(BPF_JMP | BPF_CALL, 0, 0, 0, 7) }); // bpf_get_prandom_u32
    out.push({ insn: ins(BPF_ALU64 | BPF_MOV | BPF_X, reg, 0) });
    out.push({ insn: ins(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0) });
  }
  for (const reg of WORK) {
    const c = r();
    if (c < 0.45) {
      // ctx loads: len (u32) or a cb[] word/half/byte.
      const size = pick(r, [BPF_W, BPF_W, BPF_H, BPF_B]);
      const off = size === BPF_W ? pick(r, [0, 48, 52, 56]) : 48 + Math.floor(r() * 4) * (size === BPF_H ? 2 : 1);
      out.push({ insn: ins(BPF_LDX | BPF_MEM | size, reg, CTX, off) });
    } else if (c < 0.6) {
      // A 64-bit unknown built from two u32 ctx words.
      out.push({ insn: ins(BPF_LDX | BPF_MEM | BPF_W, reg, CTX, 48) });
      out.push({ insn: ins(BPF_LDX | BPF_MEM | BPF_W, 0, CTX, 52) });
      out.push({ insn: ins(BPF_ALU64 | BPF_LSH | BPF_K, reg, 0, 0, 32) });
      out.push({ insn: ins(BPF_ALU64 | BPF_OR | BPF_X, reg, 0) });
      out.push({ insn: ins(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0) });
    } else if (c < 0.7) {
      out.push({ insn: ldImm64(reg, pick(r, INTERESTING_64)) });
    } else if (c < 0.8) {
      out.push({ insn: ins(BPF_ALU64 | BPF_MOV | BPF_K, reg, 0, 0, randImm(r)) });
    } else {
      out.push({ insn: ins(BPF_LDX | BPF_MEM | BPF_W, reg, CTX, 0) });
    }
    // Shape it: masks, offsets, sign games, range-narrowing branches.
    const n = Math.floor(r() * 3);
    for (let i = 0; i < n; i++) {
      const s = r();
      if (s < 0.3) out.push({ insn: ins(BPF_ALU64 | BPF_AND | BPF_K, reg, 0, 0, pick(r, [0xff, 0xfff0, 0x3c, 0x7fffffff, -8, 0xf00f, 0x11, 0x1ff])) });
      else if (s < 0.5) out.push({ insn: ins(pick(r, [BPF_ALU64, BPF_ALU]) | pick(r, [BPF_ADD, BPF_SUB]) | BPF_K, reg, 0, 0, randImm(r)) });
      else if (s < 0.6) out.push({ insn: ins(BPF_ALU64 | BPF_ARSH | BPF_K, reg, 0, 0, pick(r, [1, 4, 31, 32, 60])) });
      else out.push(randJmp(r, reg, 0, false));
    }
  }
  return out;
}

export interface GenProgram {
  readonly insns: Insn[];
}

/** A program: setup, then `len` random ALU ops and jumps, each jump to its own block. */
export function genProgram(r: () => number, len: number): GenProgram {
  const items = setup(r);
  for (let i = 0; i < len; i++) {
    const dst = pick(r, WORK);
    const src = r() < 0.1 ? dst : pick(r, WORK);
    const c = r();
    if (c < 0.28) items.push(randJmp(r, dst, src));
    else if (c < 0.36) for (const insn of spillFill(r, dst, src)) items.push({ insn });
    else for (const insn of randAlu(r, dst, src)) items.push({ insn });
  }
  items.push({ insn: ins(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0) }, { insn: ins(BPF_JMP | BPF_EXIT) });
  // Lay out: slot numbers (LD_IMM64 takes two), then one block per jump that sets r0 and
  // jumps back to the instruction after the jump, so both outcomes carry on.
  const slotAt: number[] = [];
  let slots = 0;
  for (const it of items) {
    slotAt.push(slots);
    slots += it.insn.next ? 2 : 1;
  }
  const insns: Insn[] = [];
  let blockSlot = slots;
  let k = 0;
  const exits: Insn[] = [];
  items.forEach((it, i) => {
    if (!it.toExit) {
      insns.push(it.insn);
      return;
    }
    insns.push({ ...it.insn, off: blockSlot - slotAt[i] - 1 });
    const back = slotAt[i] + 1;
    exits.push(ins(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, ++k), ins(BPF_JMP | BPF_JA, 0, 0, back - (blockSlot + 1) - 1));
    blockSlot += 2;
  });
  return { insns: insns.concat(exits) };
}

// ---------------------------------------------------------------- log reader

/** One instruction's effect on scalars, as the kernel printed it. */
export type Transition =
  | {
      /** A fill of a just-spilled scalar: `dst` is the spilled register's state. */
      readonly k: 'fill';
      readonly pc: number;
      readonly insn: readonly [number, number, number, number, number];
      readonly dst: string;
      readonly out: string;
    }
  | {
      readonly k: 'alu';
      readonly pc: number;
      /** code, dst, src, off, imm */
      readonly insn: readonly [number, number, number, number, number];
      readonly dst: string;
      readonly src?: string;
      readonly out: string;
    }
  | {
      readonly k: 'jmp';
      readonly pc: number;
      readonly insn: readonly [number, number, number, number, number];
      readonly dst: string;
      readonly src?: string;
      /** Where the kernel went next on this path. */
      readonly next: number;
      /** Fall-through states printed on the jump line ([dst, src?]), when it printed any. */
      readonly ft?: readonly string[];
      /** States at the target ("from pc to target:"), when the taken path was pushed. */
      readonly tk?: readonly string[];
      /** The taken path was pruned on arrival, so its state was not printed. */
      readonly tkPruned?: boolean;
      /** "verifier bug: REG INVARIANTS VIOLATION ..." lines logged for this jump. */
      readonly viol?: readonly string[];
    };

const INSN_LINE = /^(\d+): \(([0-9a-f]{2})\) (.*?)(?: {2,}; (.*))?$/;
const STATE_LINE = /^(\d+): (R\d+=.*)$/;
const FROM_LINE = /^from (\d+) to (\d+): (R\d+=.*)$/;
const FROM_SAFE_LINE = /^from (\d+) to (\d+)(?: \(speculative execution\))?: safe$/;
const SAFE_LINE = /^(\d+): safe$/;
const VIOLATION_LINE = /^verifier bug: REG INVARIANTS VIOLATION/;

/** `R1=ctx() R6=scalar(...)` -> { 1: 'ctx()', 6: 'scalar(...)' } (stack slots ignored). */
export function parseRegs(s: string): Map<number, string> {
  const out = new Map<number, string>();
  const re = /(?:^|\s)(R(\d+)|fp-?\d+)=/g;
  const hits: { reg: number; start: number; end: number }[] = [];
  for (let m = re.exec(s); m; m = re.exec(s)) {
    hits.push({ reg: m[2] === undefined ? -1 : Number(m[2]), start: m.index, end: m.index + m[0].length });
  }
  hits.forEach((h, i) => {
    const stop = i + 1 < hits.length ? hits[i + 1].start : s.length;
    if (h.reg >= 0) out.set(h.reg, s.slice(h.end, stop).trim());
  });
  return out;
}

/**
 * Walk a level-2 log of a program made by genProgram. `slots` maps pc -> raw slot
 * [code,dst,src,off,imm]. Only ALU and conditional-jump instructions on scalars are kept.
 */
export function extractTransitions(
  log: string,
  slots: readonly (readonly [number, number, number, number, number])[],
  complete = true,
  interesting: ReadonlySet<number> = new Set(WORK),
): Transition[] {
  const lines = log.split('\n');
  const regs = new Map<number, string>();
  const out: Transition[] = [];
  // Jumps whose taken side is still pending: pc -> indices in out (pushed last = popped first).
  const pendingTaken = new Map<number, number[]>();
  let lastJmp: { idx: number; pc: number } | undefined;
  const setAll = (m: Map<number, string>): void => {
    regs.clear();
    for (const [k, v] of m) regs.set(k, v);
  };
  const resolveNext = (pc: number): void => {
    if (!lastJmp) return;
    const t = out[lastJmp.idx];
    if (t.k === 'jmp') out[lastJmp.idx] = { ...t, next: pc };
    lastJmp = undefined;
  };
  for (const line of lines) {
    let m = FROM_SAFE_LINE.exec(line);
    if (m) {
      const idx = pendingTaken.get(Number(m[1]))?.pop();
      const t = idx === undefined ? undefined : out[idx];
      if (idx !== undefined && t?.k === 'jmp') out[idx] = { ...t, tkPruned: true };
      lastJmp = undefined;
      continue;
    }
    m = SAFE_LINE.exec(line);
    if (m) {
      resolveNext(Number(m[1]));
      continue;
    }
    m = FROM_LINE.exec(line);
    if (m) {
      const from = Number(m[1]);
      const state = parseRegs(m[3]);
      setAll(state);
      lastJmp = undefined;
      const idx = pendingTaken.get(from)?.pop();
      if (idx !== undefined) {
        const t = out[idx];
        if (t.k === 'jmp') {
          const tk = [state.get(t.insn[1]) ?? ''];
          if (bpfSrc(t.insn[0]) === BPF_X) tk.push(state.get(t.insn[2]) ?? '');
          out[idx] = { ...t, tk };
        }
      }
      continue;
    }
    if (VIOLATION_LINE.test(line)) {
      const t = lastJmp ? out[lastJmp.idx] : undefined;
      if (lastJmp && t?.k === 'jmp') {
        out[lastJmp.idx] = { ...t, viol: [...(t.viol ?? []), line] };
      }
      continue;
    }
    m = STATE_LINE.exec(line);
    if (m) {
      const state = parseRegs(m[2]);
      // After a violation line the fall-through state comes as "pc: R..=" instead of
      // the "; R..=" tail of the jump line.
      const t = lastJmp ? out[lastJmp.idx] : undefined;
      if (lastJmp && t?.k === 'jmp' && Number(m[1]) === t.pc && t.viol && t.ft === undefined) {
        const ft = [state.get(t.insn[1]) ?? '', ...(bpfSrc(t.insn[0]) === BPF_X ? [state.get(t.insn[2]) ?? ''] : [])];
        out[lastJmp.idx] = { ...t, ft };
        for (const [k, v] of state) regs.set(k, v);
        continue;
      }
      setAll(state);
      continue;
    }
    m = INSN_LINE.exec(line);
    if (!m) continue;
    const pc = Number(m[1]);
    resolveNext(pc);
    const slot = slots[pc];
    const after = m[4] ? parseRegs(m[4]) : new Map<number, string>();
    if (!slot) continue;
    const [code, dst, src] = slot;
    if (!interesting.has(dst)) {
      for (const [k, v] of after) regs.set(k, v);
      continue;
    }
    const prev = pc > 0 ? slots[pc - 1] : undefined;
    if (bpfClass(code) === BPF_LDX && prev && prev[0] === (BPF_STX | BPF_MEM | BPF_DW) && prev[1] === BPF_REG_FP &&
        prev[3] === -8 && src === BPF_REG_FP && slot[3] === -8 && after.has(dst)) {
      const spilled = regs.get(prev[2]);
      if (spilled !== undefined && parseScalar(spilled) !== undefined) {
        out.push({ k: 'fill', pc, insn: slot, dst: spilled, out: after.get(dst) ?? '' });
      }
      for (const [k, v] of after) regs.set(k, v);
      continue;
    }
    const cls = bpfClass(code);
    const op = bpfOp(code);
    const isX = bpfSrc(code) === BPF_X;
    const dstText = regs.get(dst);
    const srcText = isX ? regs.get(src) : undefined;
    const scalarIn = dstText !== undefined && parseScalar(dstText) !== undefined &&
      (!isX || (srcText !== undefined && parseScalar(srcText) !== undefined));
    if ((cls === BPF_ALU || cls === BPF_ALU64) && after.has(dst)) {
      // MOV only needs a scalar source; everything else needs scalar operands.
      const ok = op === BPF_MOV ? !isX || (srcText !== undefined && parseScalar(srcText) !== undefined) : scalarIn;
      if (ok) {
        out.push({ k: 'alu', pc, insn: slot, dst: dstText ?? '', ...(isX ? { src: srcText } : {}), out: after.get(dst) ?? '' });
      }
    } else if ((cls === BPF_JMP || cls === BPF_JMP32) && op !== BPF_CALL && op !== BPF_EXIT && op !== 0 && scalarIn) {
      const ft = m[4] ? [after.get(dst) ?? '', ...(isX ? [after.get(src) ?? ''] : [])] : undefined;
      out.push({ k: 'jmp', pc, insn: slot, dst: dstText ?? '', ...(isX ? { src: srcText } : {}), next: -1, ...(ft ? { ft } : {}) });
      const stack = pendingTaken.get(pc) ?? [];
      stack.push(out.length - 1);
      pendingTaken.set(pc, stack);
      lastJmp = { idx: out.length - 1, pc };
    }
    for (const [k, v] of after) regs.set(k, v);
  }
  // A rejected program stops early: jumps whose taken side never came up tell nothing.
  if (!complete) {
    const open = new Set([...pendingTaken.values()].flat());
    return out.filter((t, i) => t.k !== 'jmp' || !open.has(i));
  }
  return out;
}

/** pc -> raw slot for a program (LD_IMM64's second slot maps to nothing). */
export function slotTable(insns: readonly Insn[]): (readonly [number, number, number, number, number])[] {
  const t: (readonly [number, number, number, number, number])[] = [];
  for (const i of insns) {
    t.push([i.code, i.dst, i.src, i.off, i.imm]);
    if (i.next) t.push([0, 0, 0, 0, 0]);
  }
  return t;
}

/**
 * The same transition independent of where it sat: pc 0, `next` kept relative (1 for the
 * fall-through, off + 1 for the target). Lets identical transitions from different paths
 * and programs be stored once.
 */
export function normalizeTransition(t: Transition): Transition {
  if (t.k !== 'jmp') return { ...t, pc: 0 };
  return { ...t, pc: 0, next: t.next < 0 ? -1 : t.next - t.pc };
}

// ---------------------------------------------------------------- the check

/** Text with ids and the precision mark removed: what our functions are responsible for. */
export function normalizeScalarText(s: string): string {
  return s.replace(/^P/, '').replace(/id=\d+(?:[+-]\d+)?,?/, '').replace(/\(,/, '(').replace(/,\)/, ')');
}

export interface Mismatch {
  readonly t: Transition;
  readonly what: string;
  readonly want: string;
  readonly got: string;
}

const fmt = (b: ScalarBounds | undefined): string => (b ? formatScalar(b) : '<none>');

/** Recompute one transition with this folder's functions; returns the mismatches. */
export function checkTransition(t: Transition): Mismatch[] {
  const [code, dstReg, srcReg, off, imm] = t.insn;
  const op = bpfOp(code);
  const isX = bpfSrc(code) === BPF_X;
  if (t.k === 'fill') {
    const v = parseScalar(t.dst);
    if (!v) return [{ t, what: 'parse', want: t.dst, got: '' }];
    const size = sizeBytes(bpfSize(code));
    const res = size === 8 ? v : bpfMode(code) === BPF_MEMSX ? coerceToSizeSx(v, size) : coerceToSize(v, size);
    const w = normalizeScalarText(t.out);
    const got = fmt(res);
    return w === got ? [] : [{ t, what: 'fill', want: w, got }];
  }
  const isMov = t.k === 'alu' && op === BPF_MOV;
  const dst = isMov ? scalarImm(0) : parseScalar(t.dst);
  const src = isX ? parseScalar(t.src ?? '') : scalarImm(imm);
  if (!dst || !src) return [{ t, what: 'parse', want: t.dst, got: '' }];
  const bad: Mismatch[] = [];
  const cmp = (what: string, want: string | undefined, got: string): void => {
    const w = want === undefined ? '<none>' : normalizeScalarText(want);
    if (w !== got) bad.push({ t, what, want: w, got });
  };
  if (t.k === 'alu') {
    const cls = bpfClass(code);
    const is64 = cls === BPF_ALU64;
    let res: ScalarBounds;
    if (op === BPF_MOV && !isX) {
      res = scalarMovImm(is64, imm);
    } else {
      // The fork on [-1, 0] & K: this path continues with dst = -1.
      const fork = maybeForkScalars(op, dst, src);
      const d = fork ? fork.cont : dst;
      res = scalarAlu(op, is64, d, src, off, imm, bpfSrc(code) === BPF_TO_BE && cls === BPF_ALU);
    }
    cmp('alu', t.out, fmt(res));
    return bad;
  }
  const is32 = bpfClass(code) === BPF_JMP32;
  const sameReg = isX && dstReg === srcReg;
  const pred = isBranchTaken(op, is32, dst, src);
  const target = t.pc + off + 1;
  if (pred >= 0) {
    if (t.ft !== undefined) bad.push({ t, what: 'pred', want: 'explored fall-through', got: `pred=${pred}` });
    if (t.next !== (pred ? target : t.pc + 1)) bad.push({ t, what: 'pred', want: `next=${t.next}`, got: `pred=${pred}` });
    return bad;
  }
  if (t.ft === undefined && t.next !== target) {
    bad.push({ t, what: 'pred', want: 'decided', got: 'pred=-1' });
    return bad;
  }
  const both = refineBothBranches(op, is32, dst, src, sameReg);
  const f = both.fall;
  const k = both.taken;
  const wantViol = (t.viol ?? []).join('\n');
  const gotViol = both.messages.join('\n');
  if (wantViol !== gotViol) bad.push({ t, what: 'violation', want: wantViol, got: gotViol });
  if (t.ft !== undefined) {
    cmp('ft.dst', t.ft[0], fmt(f?.dst));
    if (isX && !sameReg) cmp('ft.src', t.ft[1], fmt(f?.src));
  } else {
    cmp('ft.dst', undefined, fmt(f?.dst));
  }
  if (t.tkPruned) return bad;
  if (t.tk !== undefined) {
    cmp('tk.dst', t.tk[0], fmt(k?.dst));
    if (isX && !sameReg) cmp('tk.src', t.tk[1], fmt(k?.src));
  } else {
    cmp('tk.dst', undefined, fmt(k?.dst));
  }
  void srcReg;
  return bad;
}
