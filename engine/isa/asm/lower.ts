// Lowering: statements -> 8-byte slots, with jump and call targets still symbolic, then
// label resolution inside the text. Calls into other functions stay as relocations for the
// link pass (link.ts).

import type { Insn, RawSlot } from '../insn.ts';
import type { Pos, Reg, Size, Stmt, StmtBody, Target } from './ast.ts';
import { helperId } from '../helpers.ts';
import {
  BPF_ALU, BPF_ALU64, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_ST, BPF_STX,
  BPF_B, BPF_H, BPF_W, BPF_DW, BPF_ABS, BPF_IND, BPF_MEM, BPF_MEMSX, BPF_ATOMIC,
  BPF_K, BPF_X, BPF_TO_BE, BPF_TO_LE, BPF_NEG, BPF_END,
  BPF_JA, BPF_CALL, BPF_EXIT, BPF_JCOND, BPF_MAY_GOTO,
  BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_FUNC, LD_IMM64, INSN_SIZE,
} from '../opcodes.ts';

/** A call or function-address load that names a function outside this text. */
export interface PendingReloc {
  /** Index into the function's instruction list. */
  readonly index: number;
  readonly kind: 'call' | 'func';
  readonly target: string;
  readonly pos: Pos;
}

export interface Lowered {
  readonly insns: Insn[];
  readonly relocs: PendingReloc[];
  /** Named labels by slot index. */
  readonly labels: Map<string, number>;
}

export interface LowerContext {
  readonly errorAt: (message: string, pos: Pos) => Error;
  /** Functions `call name` may target (when given, other unknown names are errors). */
  readonly externs?: readonly string[];
  /** Registers the asm clobbers (clang's clobber list), for "r"-operand allocation. */
  readonly clobbers: readonly string[];
  /** Operand names in operand-list order (the order clang allocates registers in). */
  readonly operandOrder: readonly string[];
  /** Label each `func` operand stands for. */
  readonly funcLabel: (operand: string) => string | undefined;
}

const SIZE_BITS: Readonly<Record<Size, number>> = { 1: BPF_B, 2: BPF_H, 4: BPF_W, 8: BPF_DW };

/** clang's BPF register allocation order for inline-asm "r" operands (measured, clang-19). */
const ALLOC_ORDER = [1, 2, 3, 4, 5, 0, 6, 7, 8, 9];

type Fixup =
  | { readonly kind: 'off' | 'imm'; readonly target: Target }
  /** `helper`: `call name` falls back to this helper id when no function has that name. */
  | { readonly kind: 'call' | 'func'; readonly target: Target; readonly helper?: number };

interface Slot {
  raw: RawSlot;
  readonly pos: Pos;
  readonly fix?: Fixup;
  /** Came from a data directive (may be half of an LD_IMM64). */
  readonly data: boolean;
  /** Statement index, for numeric local label lookup. */
  readonly stmt: number;
}

const i32 = (v: bigint): number => Number(BigInt.asIntN(32, v));

export function lower(input: readonly Stmt[], ctx: LowerContext): Lowered {
  const stmts = withPointerOperands(input, ctx);
  const slots: Slot[] = [];
  const named = new Map<string, number>();
  const numeric = new Map<string, { stmt: number; slot: number }[]>();
  let pending: number[] = []; // data bytes not yet forming a whole slot
  let pendingPos: Pos | undefined;
  let pendingStmt = 0;

  const flushCheck = (pos: Pos, what: string): void => {
    if (pending.length) throw ctx.errorAt(`data before this ${what} does not fill whole 8-byte slots`, pendingPos ?? pos);
  };

  stmts.forEach((s, idx) => {
    if (s.kind === 'label') {
      flushCheck(s.pos, 'label');
      if (/^[0-9]+$/.test(s.name)) {
        const defs = numeric.get(s.name) ?? [];
        defs.push({ stmt: idx, slot: slots.length });
        numeric.set(s.name, defs);
      } else {
        if (named.has(s.name)) throw ctx.errorAt(`label '${s.name}' defined twice`, s.pos);
        named.set(s.name, slots.length);
      }
      return;
    }
    if (s.kind === 'data') {
      if (!pending.length) {
        pendingPos = s.pos;
        pendingStmt = idx;
      }
      for (const v of s.values) {
        const u = BigInt.asUintN(s.width * 8, v);
        for (let b = 0; b < s.width; b++) pending.push(Number((u >> BigInt(8 * b)) & 0xffn));
      }
      while (pending.length >= INSN_SIZE) {
        const bytes = pending.slice(0, INSN_SIZE);
        pending = pending.slice(INSN_SIZE);
        slots.push({ raw: slotFromBytes(bytes), pos: pendingPos ?? s.pos, data: true, stmt: pendingStmt });
        pendingPos = s.pos;
        pendingStmt = idx;
      }
      return;
    }
    flushCheck(s.pos, 'instruction');
    const encoded = encodeStmt(s, ctx);
    if (s.opcode !== undefined && encoded[0].raw.code !== s.opcode) {
      const hx = (n: number): string => n.toString(16).padStart(2, '0');
      throw ctx.errorAt(`opcode prefix (${hx(s.opcode)}) does not match the instruction's opcode (${hx(encoded[0].raw.code)})`, s.pos);
    }
    for (const e of encoded) slots.push({ raw: e.raw, pos: s.pos, fix: e.fix, data: false, stmt: idx });
  });
  if (pending.length) throw ctx.errorAt('data does not fill whole 8-byte slots', pendingPos ?? { line: 1, col: 1 });

  const relocsBySlot = new Map<number, { kind: 'call' | 'func'; target: string; pos: Pos }>();
  slots.forEach((slot, at) => {
    if (!slot.fix) return;
    const f = slot.fix;
    if (f.kind === 'call' && f.helper !== undefined && f.target.kind === 'label') {
      const name = f.target.name;
      if (!named.has(name) && !(ctx.externs?.includes(name) ?? false)) {
        slot.raw = { ...slot.raw, src: 0, imm: f.helper };
        return;
      }
    }
    const dest = resolveTarget(f.target, at, slot.stmt, named, numeric, f.kind === 'call' || f.kind === 'func', ctx);
    if (dest.kind === 'extern') {
      relocsBySlot.set(at, { kind: f.kind === 'func' ? 'func' : 'call', target: dest.name, pos: f.target.pos });
      return;
    }
    const rel = dest.rel;
    if (f.kind === 'off') {
      if (rel < -32768n || rel > 32767n) throw ctx.errorAt(`jump offset out of range (${rel})`, f.target.pos);
      slot.raw = { ...slot.raw, off: Number(rel) };
    } else {
      if (rel < -(1n << 31n) || rel >= 1n << 31n) throw ctx.errorAt(`jump offset out of range (${rel})`, f.target.pos);
      slot.raw = { ...slot.raw, imm: Number(rel) };
    }
  });

  // Fold slots into instructions: an LD_IMM64 first half takes the following slot.
  const insns: Insn[] = [];
  const relocs: PendingReloc[] = [];
  for (let at = 0; at < slots.length; at++) {
    const s = slots[at];
    const r = relocsBySlot.get(at);
    if (r) relocs.push({ index: insns.length, ...r });
    if (s.raw.code === LD_IMM64) {
      const second = slots[at + 1];
      if (!second || (s.data && !second.data)) {
        throw ctx.errorAt('an LD_IMM64 (opcode 0x18) written as data needs its second 8-byte half', s.pos);
      }
      insns.push({ ...s.raw, next: second.raw });
      at++;
    } else {
      insns.push(s.raw);
    }
  }
  return { insns, relocs, labels: named };
}

type Dest = { kind: 'rel'; rel: bigint } | { kind: 'extern'; name: string };

function resolveTarget(
  t: Target,
  at: number,
  stmt: number,
  named: ReadonlyMap<string, number>,
  numeric: ReadonlyMap<string, readonly { stmt: number; slot: number }[]>,
  isCall: boolean,
  ctx: LowerContext,
): Dest {
  switch (t.kind) {
    case 'rel':
      return { kind: 'rel', rel: t.off };
    case 'local': {
      const defs = numeric.get(t.n) ?? [];
      const def = t.dir === 'b' ? defs.filter((d) => d.stmt <= stmt).pop() : defs.find((d) => d.stmt > stmt);
      if (!def) throw ctx.errorAt(`undefined local label '${t.n}${t.dir}'`, t.pos);
      return { kind: 'rel', rel: BigInt(def.slot - (at + 1)) };
    }
    case 'label': {
      const slot = named.get(t.name);
      if (slot !== undefined) return { kind: 'rel', rel: BigInt(slot - (at + 1)) };
      if (isCall) {
        if (!ctx.externs || ctx.externs.includes(t.name)) return { kind: 'extern', name: t.name };
        throw ctx.errorAt(`unknown function '${t.name}'`, t.pos);
      }
      throw ctx.errorAt(`undefined label '${t.name}'`, t.pos);
    }
  }
}

/** clang's handling of a "r"-constraint `%[func]` operand: before the asm body it loads the
 *  function's address into a register it picks (first free in ALLOC_ORDER, skipping the
 *  clobbers, operands in operand-list order) and substitutes that register. */
function withPointerOperands(stmts: readonly Stmt[], ctx: LowerContext): readonly Stmt[] {
  const used = new Set<string>();
  for (const s of stmts) if (s.kind === 'alu' && typeof s.src !== 'bigint' && s.src.ptr) used.add(s.src.ptr);
  if (!used.size) return stmts;
  const clobbered = new Set(ctx.clobbers.map((c) => c.trim().replace(/^w/, 'r')));
  const free = ALLOC_ORDER.filter((n) => !clobbered.has(`r${n}`));
  const order = [...ctx.operandOrder.filter((n) => used.has(n)), ...[...used].filter((n) => !ctx.operandOrder.includes(n))];
  const regOf = new Map<string, number>();
  const prologue: Stmt[] = [];
  for (const name of order) {
    const n = free.shift();
    const first = stmts.find((s) => s.kind === 'alu' && typeof s.src !== 'bigint' && s.src.ptr === name);
    const pos = first?.pos ?? { line: 1, col: 1 };
    if (n === undefined) throw ctx.errorAt('inline assembly requires more registers than available', pos);
    regOf.set(name, n);
    const label = ctx.funcLabel(name) ?? name;
    const dst: Reg = { n, w: false, pos };
    prologue.push({ kind: 'ldfunc', dst, target: { kind: 'label', name: label, pos }, pos });
  }
  const rewritten = stmts.map((s): Stmt => {
    if (s.kind !== 'alu' || typeof s.src === 'bigint' || !s.src.ptr) return s;
    const n = regOf.get(s.src.ptr) ?? 0;
    return { ...s, src: { n, w: s.dst.w, pos: s.src.pos } };
  });
  return [...prologue, ...rewritten];
}

function slotFromBytes(b: readonly number[]): RawSlot {
  const off = (b[2] | (b[3] << 8)) << 16 >> 16;
  const imm = b[4] | (b[5] << 8) | (b[6] << 16) | (b[7] << 24);
  return { code: b[0], dst: b[1] & 0x0f, src: b[1] >> 4, off, imm };
}

interface Encoded {
  readonly raw: RawSlot;
  readonly fix?: Fixup;
}

const slot = (code: number, dst = 0, src = 0, off = 0, imm = 0): RawSlot => ({ code, dst, src, off, imm });

function encodeStmt(s: Stmt, ctx: LowerContext): Encoded[] {
  const off16 = (v: bigint): number => {
    if (v < -32768n || v > 32767n) throw ctx.errorAt(`offset ${v} out of range [-32768, 32767]`, s.pos);
    return Number(v);
  };
  const b: StmtBody = s;
  switch (b.kind) {
    case 'alu': {
      const cls = b.is64 ? BPF_ALU64 : BPF_ALU;
      if (typeof b.src === 'bigint') return [{ raw: slot(cls | b.op | BPF_K, b.dst.n, 0, b.off, i32(b.src)) }];
      return [{ raw: slot(cls | b.op | BPF_X, b.dst.n, b.src.n, b.off, b.imm === undefined ? 0 : i32(b.imm)) }];
    }
    case 'neg':
      return [{ raw: slot((b.is64 ? BPF_ALU64 : BPF_ALU) | BPF_NEG | BPF_K, b.dst.n) }];
    case 'end': {
      const code = b.bswap ? BPF_ALU64 | BPF_END | BPF_TO_LE : BPF_ALU | BPF_END | (b.toBe ? BPF_TO_BE : BPF_TO_LE);
      return [{ raw: slot(code, b.dst.n, 0, 0, b.bits) }];
    }
    case 'ldx':
      return [{ raw: slot(BPF_LDX | SIZE_BITS[b.size] | (b.signed ? BPF_MEMSX : BPF_MEM), b.dst.n, b.base.n, off16(b.off)) }];
    case 'stx':
      return [{ raw: slot(BPF_STX | SIZE_BITS[b.size] | BPF_MEM, b.base.n, b.src.n, off16(b.off)) }];
    case 'st':
      return [{ raw: slot(BPF_ST | SIZE_BITS[b.size] | BPF_MEM, b.base.n, 0, off16(b.off), i32(b.imm)) }];
    case 'atomic':
      return [{ raw: slot(BPF_STX | SIZE_BITS[b.size] | BPF_ATOMIC, b.base.n, b.src.n, off16(b.off), b.op) }];
    case 'ldabs':
      return [{ raw: slot(BPF_LD | SIZE_BITS[b.size] | BPF_ABS, 0, 0, 0, i32(b.imm)) }];
    case 'ldind':
      return [{ raw: slot(BPF_LD | SIZE_BITS[b.size] | BPF_IND, 0, b.src.n, 0, i32(b.imm)) }];
    case 'ldimm64':
      return [{ raw: slot(LD_IMM64, b.dst.n, b.pseudo, 0, i32(b.lo)) }, { raw: slot(0, 0, 0, 0, i32(b.hi)) }];
    case 'ldfunc':
      return [
        { raw: slot(LD_IMM64, b.dst.n, BPF_PSEUDO_FUNC), fix: { kind: 'func', target: b.target } },
        { raw: slot(0) },
      ];
    case 'jmp': {
      const cls = b.is32 ? BPF_JMP32 : BPF_JMP;
      const raw = typeof b.src === 'bigint'
        ? slot(cls | b.op | BPF_K, b.dst.n, 0, 0, i32(b.src))
        : slot(cls | b.op | BPF_X, b.dst.n, b.src.n);
      return [{ raw, fix: { kind: 'off', target: b.target } }];
    }
    case 'ja':
      return b.long
        ? [{ raw: slot(BPF_JMP32 | BPF_JA), fix: { kind: 'imm', target: b.target } }]
        : [{ raw: slot(BPF_JMP | BPF_JA), fix: { kind: 'off', target: b.target } }];
    case 'may_goto':
      return [{ raw: slot(BPF_JMP | BPF_JCOND, 0, BPF_MAY_GOTO), fix: { kind: 'off', target: b.target } }];
    case 'call': {
      const c = b.callee;
      const call = BPF_JMP | BPF_CALL;
      switch (c.kind) {
        case 'helper':
          return [{ raw: slot(call, 0, 0, 0, i32(c.id)) }];
        case 'kfunc':
          return [{ raw: slot(call, 0, BPF_PSEUDO_KFUNC_CALL, 0, i32(c.btfId)) }];
        case 'func':
          return [{ raw: slot(call, 0, BPF_PSEUDO_CALL), fix: { kind: 'call', target: c.target } }];
        case 'name': {
          // A label of this text or a listed function wins; then a helper by name.
          const hid = c.name.startsWith('bpf_') ? helperId(c.name) : undefined;
          const target: Target = { kind: 'label', name: c.name, pos: c.pos };
          return [{ raw: slot(call, 0, BPF_PSEUDO_CALL), fix: { kind: 'call', target, helper: hid } }];
        }
      }
      break;
    }
    case 'callx':
      return [{ raw: slot(BPF_JMP | BPF_CALL | BPF_X, b.reg.n) }];
    case 'exit':
      return [{ raw: slot(BPF_JMP | BPF_EXIT) }];
    case 'nospec':
      return [{ raw: slot(BPF_ST | 0xc0) }];
    case 'label':
    case 'data':
      break;
  }
  throw ctx.errorAt('internal: statement has no encoding', s.pos);
}

