// Parsed assembly statements: what the text says, before encoding. The parser resolves
// syntax (both dialects land on the same statement), the lowering pass turns statements
// into raw slots, and the link pass resolves labels and calls.

/** A position in the asm text (1-based), mapped to the file only when an error is raised. */
export interface Pos {
  readonly line: number;
  readonly col: number;
}

/** A register operand. `ptr` marks clang's "r"-constraint operand: a `%[func]` that clang
 *  first loads into a register it picks, then substitutes by that register's name. */
export interface Reg {
  readonly n: number;
  /** Written as `wN` (32-bit view). */
  readonly w: boolean;
  readonly pos: Pos;
  readonly ptr?: string;
}

/** Where a jump or call goes. */
export type Target =
  /** `goto +3`, `goto pc-2`, `goto 5`: relative to the next slot. */
  | { readonly kind: 'rel'; readonly off: bigint; readonly pos: Pos }
  /** `goto l0_%=`, `call subprog`. */
  | { readonly kind: 'label'; readonly name: string; readonly pos: Pos }
  /** `goto 1f`, `goto 2b`. */
  | { readonly kind: 'local'; readonly n: string; readonly dir: 'f' | 'b'; readonly pos: Pos };

/** What a call instruction calls. */
export type Callee =
  | { readonly kind: 'helper'; readonly id: bigint }
  | { readonly kind: 'kfunc'; readonly btfId: bigint }
  /** A BPF-to-BPF call, by name (a label here or another function) or relative. */
  | { readonly kind: 'func'; readonly target: Target }
  /** `call name` where name may be a label, another function or a helper: decided when
   *  all labels of the text are known. */
  | { readonly kind: 'name'; readonly name: string; readonly pos: Pos };

/** Load/store width in bytes. */
export type Size = 1 | 2 | 4 | 8;

export type StmtBody =
  | { readonly kind: 'label'; readonly name: string }
  | { readonly kind: 'data'; readonly width: Size; readonly values: readonly bigint[] }
  /** ALU/ALU64 with a register or immediate source; `off` carries sdiv/smod (1), movsx
   *  (8/16/32), addr_space_cast (1) and the internal percpu mov (-1). */
  | {
      readonly kind: 'alu';
      readonly is64: boolean;
      readonly op: number;
      readonly dst: Reg;
      readonly src: Reg | bigint;
      readonly off: number;
      /** Register-source forms that still carry an imm (addr_space_cast's address spaces). */
      readonly imm?: bigint;
    }
  | { readonly kind: 'neg'; readonly is64: boolean; readonly dst: Reg }
  /** `be16`/`le32` (ALU class) and `bswap64` (ALU64 class). */
  | { readonly kind: 'end'; readonly bswap: boolean; readonly toBe: boolean; readonly bits: number; readonly dst: Reg }
  | { readonly kind: 'ldx'; readonly size: Size; readonly signed: boolean; readonly dst: Reg; readonly base: Reg; readonly off: bigint }
  | { readonly kind: 'stx'; readonly size: Size; readonly base: Reg; readonly off: bigint; readonly src: Reg }
  | { readonly kind: 'st'; readonly size: Size; readonly base: Reg; readonly off: bigint; readonly imm: bigint }
  /** BPF_STX | BPF_ATOMIC; `op` is the imm field (BPF_ADD, BPF_FETCH|BPF_OR, BPF_XCHG, ...). */
  | { readonly kind: 'atomic'; readonly size: Size; readonly op: number; readonly base: Reg; readonly off: bigint; readonly src: Reg }
  | { readonly kind: 'ldabs'; readonly size: Size; readonly imm: bigint }
  | { readonly kind: 'ldind'; readonly size: Size; readonly src: Reg; readonly imm: bigint }
  /** LD_IMM64 with a constant; `pseudo` is the src_reg (0, or a BPF_PSEUDO_MAP_* kind). */
  | { readonly kind: 'ldimm64'; readonly dst: Reg; readonly pseudo: number; readonly lo: bigint; readonly hi: bigint }
  /** LD_IMM64 BPF_PSEUDO_FUNC: the address of a function (`r1 = cb ll`). */
  | { readonly kind: 'ldfunc'; readonly dst: Reg; readonly target: Target }
  | { readonly kind: 'jmp'; readonly is32: boolean; readonly op: number; readonly dst: Reg; readonly src: Reg | bigint; readonly target: Target }
  /** `goto` (JMP|JA, off) or `gotol` (JMP32|JA, imm). */
  | { readonly kind: 'ja'; readonly long: boolean; readonly target: Target }
  | { readonly kind: 'may_goto'; readonly target: Target }
  | { readonly kind: 'call'; readonly callee: Callee }
  | { readonly kind: 'callx'; readonly reg: Reg }
  | { readonly kind: 'exit' }
  | { readonly kind: 'nospec' };

export type Stmt = StmtBody & {
  readonly pos: Pos;
  /** The kernel log's `(b7)` prefix, checked against the encoding. */
  readonly opcode?: number;
};
