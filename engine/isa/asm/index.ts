// Public API of the assembler (LLVM BPF asm as in kernel selftest inline asm, plus the kernel
// verifier log's own instruction text). Implementation: ./parse.ts, ./lower.ts, ./link.ts.

import type { Insn } from '../insn.ts';

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
}
