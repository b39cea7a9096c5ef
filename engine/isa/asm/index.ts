// Public API of the assembler (LLVM BPF asm as in kernel selftest inline asm, plus the kernel
// verifier log's own instruction text). Implementation: ./lexer.ts, ./parse.ts, ./lower.ts,
// ./link.ts.

import type { Insn } from '../insn.ts';
import { InputError, type Location } from '../../errors.ts';
import { lex } from './lexer.ts';
import { parseStatements } from './parse.ts';
import { lower } from './lower.ts';
import { linkProgram, type LinkedProgram } from './link.ts';

/** What a `%[name]` operand stands for, as bound by the spec (bpf_misc.h's __imm family). */
export type Binding =
  /** __imm_const / __imm_insn: a number (for `.8byte %[x]`, the 64-bit raw instruction). */
  | { readonly kind: 'const'; readonly value: bigint }
  /** __imm_addr(map): `r1 = %[map] ll` becomes ld_imm64 BPF_PSEUDO_MAP_FD with imm = index. */
  | { readonly kind: 'map'; readonly index: number }
  /** __imm(helper): `call %[bpf_map_lookup_elem]` becomes a helper call with this id. */
  | { readonly kind: 'helper'; readonly id: number }
  /** __imm(kfunc): a BPF_PSEUDO_KFUNC_CALL whose imm is this BTF id. */
  | { readonly kind: 'kfunc'; readonly btfId: number; readonly name: string }
  /** __imm_ptr(subprog) / a static function: a label resolved at link time. */
  | { readonly kind: 'func'; readonly label: string };

export interface AssembleOptions {
  /** File name for error locations. */
  readonly file?: string;
  /** Line of the asm text's first line within that file (1-based), and its column offset. */
  readonly line?: number;
  readonly col?: number;
  readonly bindings?: Readonly<Record<string, Binding>>;
  /** Names of functions assembled after this text, which `call name` may target. Each is
   *  resolved by `link`; unknown names are errors. */
  readonly externs?: readonly string[];
  /** Added: the function's name (for linkProgram's `funcs`); default 'main'. */
  readonly name?: string;
  /** Added: the asm statement's clobber list (e.g. __clobber_common = r0..r5). Only used to
   *  pick the register clang loads a "r"-constraint `%[func]` operand into. */
  readonly clobbers?: readonly string[];
}

/** One relocation left for the link pass. */
export interface AsmReloc {
  /** Index into `insns` of the pseudo call or BPF_PSEUDO_FUNC ld_imm64. */
  readonly index: number;
  readonly kind: 'call' | 'func';
  /** Name of the function it refers to. */
  readonly target: string;
  /** Where the reference is written. */
  readonly loc: Location;
}

/** One assembled function: jumps and calls inside the text resolved, calls to other
 *  functions left as relocations. */
export interface AsmFunction {
  readonly name: string;
  readonly insns: readonly Insn[];
  readonly relocs: readonly AsmReloc[];
  /** Named labels and the slot each marks. */
  readonly labels: ReadonlyMap<string, number>;
}

/** Bound on statements after `.rept` expansion: far above any real program (the kernel's
 *  limit is 1M instructions), low enough to keep hostile input cheap. */
export const MAX_STATEMENTS = 1_000_000;

/** Assemble one function's text; jumps resolved, calls to other functions left symbolic. */
export function assembleFunction(text: string, opts: AssembleOptions = {}): AsmFunction {
  const toLoc = (line: number, col: number): Location => ({
    ...(opts.file !== undefined ? { file: opts.file } : {}),
    line: (opts.line ?? 1) + line - 1,
    col: col + (opts.col ?? 0),
  });
  const errorAt = (message: string, line: number, col: number): InputError =>
    new InputError(message, toLoc(line, col));
  const bindings = opts.bindings ?? {};
  const tokens = lex(text, errorAt);
  const stmts = parseStatements(tokens, { bindings, errorAt, maxStatements: MAX_STATEMENTS });
  const lowered = lower(stmts, {
    errorAt: (message, pos) => errorAt(message, pos.line, pos.col),
    externs: opts.externs,
    clobbers: opts.clobbers ?? [],
    operandOrder: Object.keys(bindings),
    funcLabel: (name) => {
      const b = bindings[name];
      return b?.kind === 'func' ? b.label : undefined;
    },
  });
  return {
    name: opts.name ?? 'main',
    insns: lowered.insns,
    relocs: lowered.relocs.map((r) => ({ index: r.index, kind: r.kind, target: r.target, loc: toLoc(r.pos.line, r.pos.col) })),
    labels: lowered.labels,
  };
}

/** Link functions the way libbpf lays out a program: the main function first, then each
 *  called subprogram appended in order of first reference (depth first, exactly as
 *  libbpf's bpf_object__reloc_code recurses), pseudo-call imms fixed up. */
export { linkProgram };
export type { LinkedProgram };

/** Convenience: assemble + link a single self-contained text. */
export function assemble(text: string, opts: AssembleOptions = {}): Insn[] {
  const fn = assembleFunction(text, { ...opts, externs: opts.externs ?? [] });
  return linkProgram(fn, new Map()).insns;
}
