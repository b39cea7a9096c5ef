// Parser: tokens -> statements. One grammar covers both dialects, because the kernel log's
// text differs from LLVM's only in spelling (`(r10 -8)` vs `(r10 - 8)`, `goto pc+3` vs
// `goto +3`, `atomic64_xchg((u64 *)(r1 +0), r2)` vs `xchg_64(r1 + 0, r2)`, ...).

import type { Binding } from './index.ts';
import type { ErrorAt, Token } from './lexer.ts';
import type { Callee, Pos, Reg, Size, Stmt, StmtBody, Target } from './ast.ts';
import { helperId } from '../helpers.ts';
import {
  BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD, BPF_XOR,
  BPF_MOV, BPF_ARSH, BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE,
  BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE, BPF_FETCH, BPF_XCHG, BPF_CMPXCHG, BPF_LOAD_ACQ,
  BPF_STORE_REL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_BTF_ID, LD_IMM64,
} from '../opcodes.ts';

export interface ParseContext {
  readonly bindings: Readonly<Record<string, Binding>>;
  readonly errorAt: ErrorAt;
  /** Upper bound on statements produced by `.rept` expansion (keeps hostile input cheap). */
  readonly maxStatements: number;
}

/** `op=` spellings of ALU operations -> [BPF op, off]. */
const ALU_ASSIGN: Readonly<Record<string, readonly [number, number]>> = {
  '+=': [BPF_ADD, 0], '-=': [BPF_SUB, 0], '*=': [BPF_MUL, 0], '/=': [BPF_DIV, 0],
  '|=': [BPF_OR, 0], '&=': [BPF_AND, 0], '<<=': [BPF_LSH, 0], '>>=': [BPF_RSH, 0],
  '%=': [BPF_MOD, 0], '^=': [BPF_XOR, 0], 's>>=': [BPF_ARSH, 0],
  's/=': [BPF_DIV, 1], 's%=': [BPF_MOD, 1],
};

const JMP_COND: Readonly<Record<string, number>> = {
  '==': BPF_JEQ, '>': BPF_JGT, '>=': BPF_JGE, '&': BPF_JSET, '!=': BPF_JNE, 's>': BPF_JSGT,
  's>=': BPF_JSGE, '<': BPF_JLT, '<=': BPF_JLE, 's<': BPF_JSLT, 's<=': BPF_JSLE,
};

/** `lock *(u64 *)(r1 + 0) += r2`: the non-fetching atomics. */
const LOCK_OPS: Readonly<Record<string, number>> = {
  '+=': BPF_ADD, '|=': BPF_OR, '&=': BPF_AND, '^=': BPF_XOR,
};

const FETCH_OPS: Readonly<Record<string, number>> = {
  add: BPF_ADD | BPF_FETCH, or: BPF_OR | BPF_FETCH, and: BPF_AND | BPF_FETCH, xor: BPF_XOR | BPF_FETCH,
};

const SIZES: Readonly<Record<string, readonly [Size, boolean]>> = {
  u8: [1, false], u16: [2, false], u32: [4, false], u64: [8, false],
  s8: [1, true], s16: [2, true], s32: [4, true],
};

const DATA_WIDTH: Readonly<Record<string, Size>> = {
  '.byte': 1, '.short': 2, '.2byte': 2, '.hword': 2, '.long': 4, '.4byte': 4, '.int': 4,
  '.quad': 8, '.8byte': 8,
};

/** Parse a whole token stream into statements, expanding `.rept`. */
export function parseStatements(tokens: readonly Token[], ctx: ParseContext): Stmt[] {
  const p = new Parser(tokens, ctx);
  const out: Stmt[] = [];
  p.parseBlock(out, undefined);
  return out;
}

class Parser {
  private i = 0;
  private produced = 0;

  constructor(
    private readonly toks: readonly Token[],
    private readonly ctx: ParseContext,
  ) {}

  // ---- token helpers ----

  private peek(k = 0): Token {
    return this.toks[Math.min(this.i + k, this.toks.length - 1)];
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private err(t: Token | Pos, message: string): never {
    throw this.ctx.errorAt(message, t.line, t.col);
  }

  private isPunct(text: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'punct' && t.text === text;
  }

  private isIdent(text: string, k = 0): boolean {
    const t = this.peek(k);
    return t.kind === 'ident' && t.text === text;
  }

  private atEnd(): boolean {
    const t = this.peek();
    return t.kind === 'sep' || t.kind === 'eof';
  }

  private describe(t: Token): string {
    if (t.kind === 'eof' || (t.kind === 'sep' && t.text === '\n')) return 'end of line';
    if (t.kind === 'operand') return `%[${t.text}]`;
    return `'${t.text}'`;
  }

  private expectPunct(text: string): Token {
    const t = this.peek();
    if (t.kind !== 'punct' || t.text !== text) this.err(t, `expected '${text}', found ${this.describe(t)}`);
    return this.next();
  }

  private expectIdent(text: string): Token {
    const t = this.peek();
    if (t.kind !== 'ident' || t.text !== text) this.err(t, `expected '${text}', found ${this.describe(t)}`);
    return this.next();
  }

  private expectEnd(): void {
    if (!this.atEnd()) this.err(this.peek(), `unexpected ${this.describe(this.peek())}`);
  }

  private binding(t: Token): Binding | undefined {
    const b = Object.prototype.hasOwnProperty.call(this.ctx.bindings, t.text) ? this.ctx.bindings[t.text] : undefined;
    if (b) return b;
    // Helpers need no explicit binding: `%[bpf_map_lookup_elem]` is what __imm() gives.
    const id = helperId(t.text);
    if (id !== undefined && t.text.startsWith('bpf_')) return { kind: 'helper', id };
    return undefined;
  }

  private requireBinding(t: Token): Binding {
    const b = this.binding(t);
    if (!b) this.err(t, `unbound operand %[${t.text}]`);
    return b;
  }

  // ---- blocks and statements ----

  /** Statements up to end of input, or up to the `.endr` closing a `.rept` (opened at `open`). */
  parseBlock(out: Stmt[], open: Token | undefined): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') {
        if (open) this.err(open, 'unterminated .rept');
        return;
      }
      if (t.kind === 'sep') {
        this.next();
        continue;
      }
      if (t.kind === 'ident' && t.text === '.endr') {
        if (!open) this.err(t, '.endr without .rept');
        this.next();
        this.expectEnd();
        return;
      }
      if (t.kind === 'ident' && t.text === '.rept') {
        this.next();
        const count = this.expr();
        this.expectEnd();
        const body: Stmt[] = [];
        this.parseBlock(body, t);
        if (count < 0n) this.err(t, '.rept count must not be negative');
        // The body's statements were counted once while parsing it.
        const extra = (count - 1n) * BigInt(body.length);
        if (extra + BigInt(this.produced) > BigInt(this.ctx.maxStatements)) {
          this.err(t, `.rept expands to more than ${this.ctx.maxStatements} statements`);
        }
        for (let k = 0n; k < count; k++) for (const s of body) out.push(s);
        this.produced += Number(extra);
        continue;
      }
      this.parseLine(out);
      if (!this.atEnd()) this.err(this.peek(), `unexpected ${this.describe(this.peek())}`);
    }
  }

  /** Labels, an optional `(xx)` opcode prefix, then at most one instruction or directive. */
  private parseLine(out: Stmt[]): void {
    for (;;) {
      const t = this.peek();
      if ((t.kind === 'ident' || t.kind === 'num') && this.isPunct(':', 1)) {
        if (t.kind === 'ident' && /^[rw][0-9]+$/.test(t.text)) this.err(t, `register '${t.text}' used as a label`);
        this.next();
        this.next();
        this.push(out, { kind: 'label', name: t.kind === 'num' ? String(t.value) : t.text }, t);
        continue;
      }
      break;
    }
    let opcode: number | undefined;
    if (this.peek().kind === 'opcode') opcode = Number(this.next().value);
    if (this.atEnd()) {
      if (opcode !== undefined) this.err(this.peek(), 'expected an instruction after the opcode prefix');
      return;
    }
    const start = this.peek();
    const body = this.statement(opcode);
    if (body.kind === 'data' && opcode !== undefined) this.err(start, 'an opcode prefix cannot precede a directive');
    this.push(out, body, start, opcode);
  }

  private push(out: Stmt[], body: StmtBody, at: Token, opcode?: number): void {
    if (++this.produced > this.ctx.maxStatements) this.err(at, `more than ${this.ctx.maxStatements} statements`);
    out.push({ ...body, pos: { line: at.line, col: at.col }, ...(opcode !== undefined ? { opcode } : {}) });
  }

  private statement(opcode: number | undefined): StmtBody {
    const t = this.peek();
    if (t.kind === 'ident') {
      if (t.text.startsWith('.')) return this.directive();
      switch (t.text) {
        case 'exit':
          this.next();
          return { kind: 'exit' };
        case 'nospec':
          this.next();
          return { kind: 'nospec' };
        case 'goto':
        case 'gotol':
        case 'ja':
          this.next();
          return { kind: 'ja', long: t.text === 'gotol', target: this.target() };
        case 'may_goto':
          this.next();
          return { kind: 'may_goto', target: this.target() };
        case 'if':
          return this.condJump();
        case 'call':
          this.next();
          return { kind: 'call', callee: this.callee() };
        case 'callx':
          this.next();
          return { kind: 'callx', reg: this.reg() };
        case 'lock':
          return this.lockAtomic();
        case 'store_release':
          return this.storeRelease();
        default:
          if (this.regToken(t)) return this.assignment(opcode);
      }
    }
    if (t.kind === 'punct' && t.text === '*') return this.store();
    return this.err(t, `unknown instruction ${this.describe(t)}`);
  }

  private directive(): StmtBody {
    const t = this.next();
    const width = DATA_WIDTH[t.text];
    if (width === undefined) this.err(t, `unsupported directive '${t.text}'`);
    const values: bigint[] = [this.expr()];
    while (this.isPunct(',')) {
      this.next();
      values.push(this.expr());
    }
    return { kind: 'data', width, values };
  }

  // ---- registers, memory operands, expressions ----

  private regToken(t: Token): boolean {
    return t.kind === 'ident' && /^[rw][0-9]+$/.test(t.text);
  }

  private reg(): Reg {
    const t = this.peek();
    if (t.kind === 'operand') {
      const b = this.binding(t);
      if (b?.kind === 'func') {
        this.next();
        return { n: -1, w: false, pos: t, ptr: t.text };
      }
    }
    if (t.kind !== 'ident' || !/^[rw][0-9]+$/.test(t.text)) this.err(t, `expected a register, found ${this.describe(t)}`);
    const n = Number(t.text.slice(1));
    if (n > 15 || t.text.length > 3) this.err(t, `unknown register '${t.text}'`);
    this.next();
    return { n, w: t.text[0] === 'w', pos: { line: t.line, col: t.col } };
  }

  /** A 64-bit register (`rN`), as memory bases and most fixed operands require. */
  private reg64(what: string): Reg {
    const r = this.reg();
    if (r.w) this.err(r.pos, `${what} must be a 64-bit register (rN), not 'w${r.n}'`);
    return r;
  }

  /** `(u32 *)` or `(s8 *)`, with the opening parenthesis already seen or not. */
  private sizeCast(): [Size, boolean, Token] {
    const open = this.expectPunct('(');
    const t = this.peek();
    const s = t.kind === 'ident' ? SIZES[t.text] : undefined;
    if (!s) this.err(t, `expected a size (u8, u16, u32, u64, s8, s16, s32), found ${this.describe(t)}`);
    this.next();
    this.expectPunct('*');
    this.expectPunct(')');
    return [s[0], s[1], open];
  }

  /** `(rN + off)`, `(rN -8)`, `(rN)`, `(rN + %[off])`. */
  private memRef(): { base: Reg; off: bigint } {
    this.expectPunct('(');
    const base = this.reg64('a memory base');
    let off = 0n;
    if (!this.isPunct(')')) {
      const t = this.peek();
      if (!this.isPunct('+') && !this.isPunct('-') && t.kind !== 'operand' && t.kind !== 'num') {
        this.err(t, `expected an offset or ')', found ${this.describe(t)}`);
      }
      off = this.expr();
    }
    this.expectPunct(')');
    return { base, off };
  }

  /** `*(u32 *)(r1 + 8)`: the `*` and the cast and the address. */
  private deref(): { size: Size; signed: boolean; base: Reg; off: bigint; at: Token } {
    const at = this.expectPunct('*');
    const [size, signed] = this.sizeCast();
    const { base, off } = this.memRef();
    return { size, signed, base, off, at };
  }

  /** Integer expressions as llvm-mc evaluates them (64-bit two's complement), with C
   *  precedence: | ^ & then << >> then + - then * / % then unary - ~ +. */
  expr(): bigint {
    return this.binary(0);
  }

  private static readonly LEVELS: readonly (readonly string[])[] = [
    ['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '%'],
  ];

  private binary(level: number): bigint {
    if (level >= Parser.LEVELS.length) return this.unary();
    let v = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      if (t.kind !== 'punct' || !Parser.LEVELS[level].includes(t.text)) return v;
      this.next();
      const r = this.binary(level + 1);
      v = BigInt.asIntN(64, applyBinary(t.text, v, r, () => this.err(t, 'division by zero in expression')));
    }
  }

  private unary(): bigint {
    const t = this.peek();
    if (t.kind === 'punct' && (t.text === '-' || t.text === '+' || t.text === '~')) {
      this.next();
      const v = this.unary();
      return t.text === '-' ? BigInt.asIntN(64, -v) : t.text === '~' ? BigInt.asIntN(64, ~v) : v;
    }
    if (t.kind === 'num') {
      this.next();
      const v = t.value ?? 0n;
      if (v >= 1n << 64n) this.err(t, `number '${t.text}' does not fit in 64 bits`);
      return BigInt.asIntN(64, v);
    }
    if (t.kind === 'operand') {
      const b = this.requireBinding(t);
      this.next();
      if (b.kind === 'const') return BigInt.asIntN(64, b.value);
      if (b.kind === 'helper') return BigInt(b.id);
      if (b.kind === 'map') return BigInt(b.index);
      return this.err(t, `operand %[${t.text}] (a ${b.kind}) is not a number`);
    }
    return this.err(t, `expected a number, found ${this.describe(t)}`);
  }

  // ---- jumps and calls ----

  /** `+3`, `-1`, `5`, `pc+3`, `pc-2`, `l0_%=`, `1f`, `2b`. */
  private target(): Target {
    const t = this.peek();
    const pos = { line: t.line, col: t.col };
    if (t.kind === 'ident' && t.text === 'pc' && (this.isPunct('+', 1) || this.isPunct('-', 1))) {
      this.next();
      return { kind: 'rel', off: this.expr(), pos };
    }
    if (t.kind === 'localref') {
      this.next();
      return { kind: 'local', n: String(BigInt(t.text)), dir: t.dir ?? 'f', pos };
    }
    if (t.kind === 'ident' && !this.regToken(t)) {
      this.next();
      return { kind: 'label', name: t.text, pos };
    }
    if (t.kind === 'operand') {
      const b = this.binding(t);
      if (b?.kind === 'func') {
        this.next();
        return { kind: 'label', name: b.label, pos };
      }
    }
    if (t.kind === 'num' || t.kind === 'operand' || this.isPunct('+') || this.isPunct('-')) {
      return { kind: 'rel', off: this.expr(), pos };
    }
    return this.err(t, `expected a jump target, found ${this.describe(t)}`);
  }

  private condJump(): StmtBody {
    this.expectIdent('if');
    const dst = this.reg();
    const opTok = this.peek();
    const op = opTok.kind === 'punct' ? JMP_COND[opTok.text] : undefined;
    if (op === undefined) this.err(opTok, `expected a comparison, found ${this.describe(opTok)}`);
    this.next();
    let src: Reg | bigint;
    if (this.regToken(this.peek())) {
      src = this.reg();
      if (src.w !== dst.w) this.err(src.pos, 'both registers of a comparison must be rN or both wN');
    } else {
      src = this.expr();
    }
    this.expectIdent('goto');
    return { kind: 'jmp', is32: dst.w, op, dst, src, target: this.target() };
  }

  private callee(): Callee {
    const t = this.peek();
    const pos = { line: t.line, col: t.col };
    if (t.kind === 'ident' && t.text === 'pc' && (this.isPunct('+', 1) || this.isPunct('-', 1))) {
      return { kind: 'func', target: this.target() };
    }
    if (t.kind === 'operand') {
      const b = this.requireBinding(t);
      this.next();
      switch (b.kind) {
        case 'helper':
          return { kind: 'helper', id: BigInt(b.id) };
        case 'kfunc':
          return { kind: 'kfunc', btfId: BigInt(b.btfId) };
        case 'func':
          return { kind: 'func', target: { kind: 'label', name: b.label, pos } };
        case 'const':
          return { kind: 'helper', id: b.value };
        default:
          return this.err(t, `operand %[${t.text}] (a ${b.kind}) cannot be called`);
      }
    }
    if (t.kind === 'ident') {
      this.next();
      // The log's name for a kfunc without BTF: `call kernel-function#N`.
      if (t.text === 'kernel' && this.isPunct('-') && this.isIdent('function', 1) && this.peek(2).kind === 'hashnum') {
        this.next();
        this.next();
      }
      const h = this.peek();
      if (h.kind === 'hashnum') {
        // Kernel log: `call bpf_map_lookup_elem#1`, `call unknown#300`, `call kfunc_name#btf_id`.
        this.next();
        const id = h.value ?? 0n;
        if (t.text === 'unknown' || (t.text === 'bpf_unspec' && id === 0n)) return { kind: 'helper', id };
        const hid = helperId(t.text);
        if (hid !== undefined && t.text.startsWith('bpf_')) {
          if (BigInt(hid) !== id) this.err(h, `helper ${t.text} has id ${hid}, not ${id}`);
          return { kind: 'helper', id };
        }
        // `kernel-function#N` or `<btf name>#N`: a kfunc call with BTF id N.
        return { kind: 'kfunc', btfId: id };
      }
      return { kind: 'name', name: t.text, pos };
    }
    if (t.kind === 'num' || this.isPunct('-') || this.isPunct('+')) return { kind: 'helper', id: this.expr() };
    if (t.kind === 'localref') return { kind: 'func', target: this.target() };
    return this.err(t, `expected a call target, found ${this.describe(t)}`);
  }

  // ---- stores and atomics ----

  private store(): StmtBody {
    const { size, signed, base, off, at } = this.deref();
    if (signed) this.err(at, 'a store cannot use a signed size');
    this.expectPunct('=');
    if (this.regToken(this.peek())) return { kind: 'stx', size, base, off, src: this.reg() };
    return { kind: 'st', size, base, off, imm: this.expr() };
  }

  private lockAtomic(): StmtBody {
    this.expectIdent('lock');
    const { size, signed, base, off, at } = this.deref();
    if (signed || (size !== 4 && size !== 8)) this.err(at, 'atomic operations need u32 or u64');
    const opTok = this.next();
    const op = opTok.kind === 'punct' ? LOCK_OPS[opTok.text] : undefined;
    if (op === undefined) this.err(opTok, `expected '+=', '|=', '&=' or '^=', found ${this.describe(opTok)}`);
    return { kind: 'atomic', size, op, base, off, src: this.reg() };
  }

  /** `store_release((u64 *)(r1 + 0), r2)` (6.18 kernel log and LLVM 20+). */
  private storeRelease(): StmtBody {
    this.expectIdent('store_release');
    this.expectPunct('(');
    const [size, signed, at] = this.sizeCast();
    if (signed) this.err(at, 'store_release cannot use a signed size');
    const { base, off } = this.memRef();
    this.expectPunct(',');
    const src = this.reg();
    this.expectPunct(')');
    return { kind: 'atomic', size, op: BPF_STORE_REL, base, off, src };
  }

  // ---- `rN ...` statements ----

  private assignment(opcode: number | undefined): StmtBody {
    const dst = this.reg();
    const opTok = this.peek();
    if (opTok.kind !== 'punct') this.err(opTok, `expected an assignment operator, found ${this.describe(opTok)}`);
    const alu = ALU_ASSIGN[opTok.text];
    if (alu) {
      this.next();
      const src = this.aluSource(dst);
      return { kind: 'alu', is64: !dst.w, op: alu[0], dst, src, off: alu[1] };
    }
    if (opTok.text !== '=') this.err(opTok, `unknown operator '${opTok.text}'`);
    this.next();
    return this.assignRhs(dst, opcode);
  }

  private aluSource(dst: Reg): Reg | bigint {
    if (this.regToken(this.peek())) {
      const src = this.reg();
      if (src.w !== dst.w) this.err(src.pos, 'both registers must be rN or both wN');
      return src;
    }
    return this.expr();
  }

  private assignRhs(dst: Reg, opcode: number | undefined): StmtBody {
    const t = this.peek();
    // r1 = -r1
    if (t.kind === 'punct' && t.text === '-' && this.regToken(this.peek(1))) {
      this.next();
      const r = this.reg();
      if (r.n !== dst.n || r.w !== dst.w) this.err(r.pos, 'negation must name the destination register');
      return { kind: 'neg', is64: !dst.w, dst };
    }
    // r1 = (s8)r2
    if (t.kind === 'punct' && t.text === '(') {
      const s = this.peek(1);
      const bits = s.kind === 'ident' ? { s8: 8, s16: 16, s32: 32 }[s.text] : undefined;
      if (bits !== undefined && this.isPunct(')', 2)) {
        this.next();
        this.next();
        this.next();
        const src = this.reg();
        if (src.w !== dst.w) this.err(src.pos, 'both registers must be rN or both wN');
        return { kind: 'alu', is64: !dst.w, op: BPF_MOV, dst, src, off: bits };
      }
    }
    // r1 = *(u32 *)(r2 + 8), r0 = *(u8 *)skb[4], r0 = *(u16 *)skb[r1 + 4]
    if (t.kind === 'punct' && t.text === '*') return this.load(dst);
    // r1 = &(void __percpu *)(r2): the kernel's internal per-CPU address mov (off -1)
    if (t.kind === 'punct' && t.text === '&') {
      this.next();
      this.expectPunct('(');
      this.expectIdent('void');
      this.expectIdent('__percpu');
      this.expectPunct('*');
      this.expectPunct(')');
      this.expectPunct('(');
      const src = this.reg64('the per-CPU source');
      this.expectPunct(')');
      return { kind: 'alu', is64: true, op: BPF_MOV, dst: this.need64(dst), src, off: -1 };
    }
    if (t.kind === 'ident') {
      const named = this.namedRhs(dst, t);
      if (named) return named;
      if (this.regToken(t)) {
        const src = this.reg();
        if (src.w !== dst.w) this.err(src.pos, 'both registers must be rN or both wN');
        return { kind: 'alu', is64: !dst.w, op: BPF_MOV, dst, src, off: 0 };
      }
      // r1 = cb ll: address of a function (BPF_PSEUDO_FUNC)
      if (this.isIdent('ll', 1)) {
        this.next();
        this.next();
        return { kind: 'ldfunc', dst: this.need64(dst), target: { kind: 'label', name: t.text, pos: t } };
      }
      return this.err(t, `unexpected '${t.text}'`);
    }
    if (t.kind === 'operand') {
      const b = this.requireBinding(t);
      const ll = this.isIdent('ll', 1);
      if (b.kind === 'func') {
        this.next();
        if (ll) {
          this.next();
          return { kind: 'ldfunc', dst: this.need64(dst), target: { kind: 'label', name: b.label, pos: t } };
        }
        // clang's "r" operand: a register it loads the address into first (see lower.ts)
        return { kind: 'alu', is64: !dst.w, op: BPF_MOV, dst, src: { n: -1, w: dst.w, pos: t, ptr: t.text }, off: 0 };
      }
      if (b.kind === 'map') {
        this.next();
        if (!ll) this.err(t, `map operand %[${t.text}] needs 'll' (r1 = %[${t.text}] ll)`);
        this.next();
        return { kind: 'ldimm64', dst: this.need64(dst), pseudo: BPF_PSEUDO_MAP_FD, lo: BigInt(b.index), hi: 0n };
      }
      if (b.kind === 'kfunc') {
        this.next();
        if (!ll) this.err(t, `ksym operand %[${t.text}] needs 'll'`);
        this.next();
        return { kind: 'ldimm64', dst: this.need64(dst), pseudo: BPF_PSEUDO_BTF_ID, lo: BigInt(b.btfId), hi: 0n };
      }
    }
    // r1 = 5, r1 = 0x123456789 ll, (18) r1 = 0x5 (kernel log ld_imm64)
    const value = this.expr();
    if (this.isIdent('ll') || opcode === LD_IMM64) {
      if (this.isIdent('ll')) this.next();
      const v = BigInt.asUintN(64, value);
      return { kind: 'ldimm64', dst: this.need64(dst), pseudo: 0, lo: v & 0xffffffffn, hi: v >> 32n };
    }
    return { kind: 'alu', is64: !dst.w, op: BPF_MOV, dst, src: value, off: 0 };
  }

  private need64(r: Reg): Reg {
    if (r.w) this.err(r.pos, `this instruction needs a 64-bit register (r${r.n}), not 'w${r.n}'`);
    return r;
  }

  /** Right-hand sides introduced by a name: be16/le32/bswap64, atomics, addr_space_cast,
   *  load_acquire, map[id:N]. */
  private namedRhs(dst: Reg, t: Token): StmtBody | undefined {
    const end = /^(be|le|bswap)(16|32|64)$/.exec(t.text);
    if (end) {
      this.next();
      const r = this.reg();
      if (r.n !== dst.n || r.w || dst.w) this.err(r.pos, `${t.text} must read and write the same rN register`);
      return { kind: 'end', bswap: end[1] === 'bswap', toBe: end[1] === 'be', bits: Number(end[2]), dst };
    }
    const fetch = /^atomic(64)?_fetch_(add|or|and|xor)$/.exec(t.text);
    if (fetch) {
      this.next();
      const { size, base, off, src } = this.atomicArgs(t, fetch[1] === '64', 1);
      this.sameReg(dst, src[0], t.text);
      return { kind: 'atomic', size, op: FETCH_OPS[fetch[2]], base, off, src: src[0] };
    }
    const xchg = /^atomic(64)?_(xchg|cmpxchg)$/.exec(t.text);
    if (xchg) {
      this.next();
      const cmp = xchg[2] === 'cmpxchg';
      const { size, base, off, src } = this.atomicArgs(t, xchg[1] === '64', cmp ? 2 : 1);
      if (cmp) return this.cmpxchg(dst, src[0], src[1], size, base, off);
      this.sameReg(dst, src[0], t.text);
      return { kind: 'atomic', size, op: BPF_XCHG, base, off, src: src[0] };
    }
    // LLVM: xchg_64(r1 + 0, r2), xchg32_32(r1 + 0, w2), cmpxchg_64(r1 + 0, r0, r2)
    const llvmX = /^(xchg|cmpxchg)(_64|32_32)$/.exec(t.text);
    if (llvmX) {
      this.next();
      const size: Size = llvmX[2] === '_64' ? 8 : 4;
      this.expectPunct('(');
      const base = this.reg64('a memory base');
      const off = this.isPunct(',') ? 0n : this.expr();
      const regs: Reg[] = [];
      const want = llvmX[1] === 'cmpxchg' ? 2 : 1;
      for (let k = 0; k < want; k++) {
        this.expectPunct(',');
        regs.push(this.reg());
      }
      this.expectPunct(')');
      if (llvmX[1] === 'cmpxchg') return this.cmpxchg(dst, regs[0], regs[1], size, base, off);
      this.sameReg(dst, regs[0], t.text);
      return { kind: 'atomic', size, op: BPF_XCHG, base, off, src: regs[0] };
    }
    if (t.text === 'load_acquire') {
      this.next();
      this.expectPunct('(');
      const [size, signed, at] = this.sizeCast();
      if (signed) this.err(at, 'load_acquire cannot use a signed size');
      const { base, off } = this.memRef();
      this.expectPunct(')');
      // The encoding puts the loaded-into register in dst and the address in src.
      return { kind: 'atomic', size, op: BPF_LOAD_ACQ, base: dst, off, src: base };
    }
    if (t.text === 'addr_space_cast') {
      this.next();
      this.expectPunct('(');
      const src = this.reg64('addr_space_cast source');
      this.expectPunct(',');
      const to = this.expr();
      this.expectPunct(',');
      const from = this.expr();
      this.expectPunct(')');
      const imm = (BigInt.asUintN(16, to) << 16n) | BigInt.asUintN(16, from);
      return { kind: 'alu', is64: true, op: BPF_MOV, dst: this.need64(dst), src, off: 1, imm };
    }
    if (t.text === 'map' && this.isPunct('[', 1)) return this.mapRef(dst);
    return undefined;
  }

  /** `((u64 *)(r1 + 0), r2[, r3])` of the kernel's atomic texts. */
  private atomicArgs(t: Token, is64: boolean, nregs: number): { size: Size; base: Reg; off: bigint; src: Reg[] } {
    this.expectPunct('(');
    const [size, signed, at] = this.sizeCast();
    if (signed || (size !== 4 && size !== 8)) this.err(at, 'atomic operations need u32 or u64');
    if (is64 && size !== 8) this.err(at, `${t.text} needs (u64 *)`);
    const { base, off } = this.memRef();
    const src: Reg[] = [];
    for (let k = 0; k < nregs; k++) {
      this.expectPunct(',');
      src.push(this.reg());
    }
    this.expectPunct(')');
    return { size, base, off, src };
  }

  private cmpxchg(dst: Reg, old: Reg, src: Reg, size: Size, base: Reg, off: bigint): StmtBody {
    if (dst.n !== 0) this.err(dst.pos, 'cmpxchg returns its result in r0');
    if (old.n !== 0) this.err(old.pos, 'cmpxchg compares against r0');
    return { kind: 'atomic', size, op: BPF_CMPXCHG, base, off, src };
  }

  private sameReg(dst: Reg, src: Reg, what: string): void {
    if (dst.n !== src.n) this.err(src.pos, `${what} returns into its source register: expected r${dst.n}`);
  }

  /** `map[id:5]` and `map[id:5][0]+8` (bpftool-style xlated text): map index 5, as
   *  BPF_PSEUDO_MAP_FD, or BPF_PSEUDO_MAP_VALUE with the value offset in the second imm. */
  private mapRef(dst: Reg): StmtBody {
    this.expectIdent('map');
    this.expectPunct('[');
    this.expectIdent('id');
    this.expectPunct(':');
    const id = this.expr();
    this.expectPunct(']');
    if (!this.isPunct('[')) {
      return { kind: 'ldimm64', dst: this.need64(dst), pseudo: BPF_PSEUDO_MAP_FD, lo: BigInt.asUintN(32, id), hi: 0n };
    }
    this.next();
    const zero = this.peek();
    if (this.expr() !== 0n) this.err(zero, 'only [0] is supported after map[id:N]');
    this.expectPunct(']');
    let off = 0n;
    if (this.isPunct('+')) {
      this.next();
      off = this.expr();
    }
    return {
      kind: 'ldimm64', dst: this.need64(dst), pseudo: BPF_PSEUDO_MAP_VALUE,
      lo: BigInt.asUintN(32, id), hi: BigInt.asUintN(32, off),
    };
  }

  private load(dst: Reg): StmtBody {
    const at = this.expectPunct('*');
    const [size, signed] = this.sizeCast();
    if (this.isIdent('skb')) {
      this.next();
      // (u64 is not a valid packet load, but it is encodable and the kernel prints it.)
      if (signed) this.err(at, 'packet loads cannot be signed');
      if (dst.n !== 0 || dst.w) this.err(dst.pos, 'packet loads write r0');
      this.expectPunct('[');
      if (this.regToken(this.peek())) {
        const src = this.reg64('the packet offset register');
        let imm = 0n;
        if (!this.isPunct(']')) imm = this.expr();
        this.expectPunct(']');
        return { kind: 'ldind', size, src, imm };
      }
      const imm = this.expr();
      this.expectPunct(']');
      return { kind: 'ldabs', size, imm };
    }
    const { base, off } = this.memRef();
    return { kind: 'ldx', size, signed, dst, base, off };
  }
}

function applyBinary(op: string, a: bigint, b: bigint, divZero: () => never): bigint {
  switch (op) {
    case '|': return a | b;
    case '^': return a ^ b;
    case '&': return a & b;
    case '<<': return b < 0n || b > 63n ? 0n : a << b;
    case '>>': return b < 0n || b > 63n ? (a < 0n ? -1n : 0n) : a >> b;
    case '+': return a + b;
    case '-': return a - b;
    case '*': return a * b;
    case '/': return b === 0n ? divZero() : a / b;
    default: return b === 0n ? divZero() : a % b;
  }
}
