// The in-memory form of a spec suite, after parsing and validation. docs/spec-format.md
// documents the YAML side; each field mirrors one kernel test annotation (bpf_misc.h).

import type { MapDef, Program, Series } from '../../engine/program/types.ts';
import type { KfuncDecl, KfuncParamDecl } from '../../engine/program/kfuncs.ts';

/** A source position in a spec file (1-based). */
export interface SourcePos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** One entry of an ordered expectation list (msgs, xlated, jited). */
export interface PatternSpec {
  /** The pattern text: a substring, or a regex when it holds `{{...}}` islands. */
  readonly text: string;
  /** __not_msg: must not appear in the span between its positive neighbours. */
  readonly negative: boolean;
  /** xlated/jited only: set by a preceding "..." entry, lets this pattern skip lines. */
  readonly anyLine: boolean;
  readonly pos?: SourcePos;
}

/** __retval: a number compared as the kernel's 32-bit int, or "don't check". */
export type RetvalSpec = { readonly kind: 'value'; readonly value: number } | { readonly kind: 'pointer' };

/** Expected stack-argument depth of one subprogram (v4: bytes, merged: slots). */
export interface StackArgDepthSpec {
  readonly incoming: number;
  readonly outgoing: number;
}

/** What one run (privileged or unprivileged) must show. */
export interface Expectation {
  readonly result: 'success' | 'failure';
  readonly msgs: readonly PatternSpec[];
  readonly xlated: readonly PatternSpec[];
  /** __jited patterns for the host arch (x86_64); others are dropped at load time. */
  readonly jited: readonly PatternSpec[];
  readonly retval?: RetvalSpec;
  /** Keyed by "func#N" or subprogram name. */
  readonly stackArgDepth?: Readonly<Record<string, StackArgDepthSpec>>;
  /** __stderr / __stdout: patterns against the program's BPF streams after the test run
   *  (line rules like xlated). Parsed and carried; no backend checks them yet. */
  readonly stderr?: readonly PatternSpec[];
  readonly stdout?: readonly PatternSpec[];
}

/** A flag edit from __flag(...): set or (with "!") clear one BPF_F_* bit. */
export interface FlagOp {
  readonly op: 'set' | 'clear';
  readonly flag: number;
  readonly name: string;
}

export interface TestSpec {
  /** Program name (the C function name in a kernel selftest). */
  readonly name: string;
  /** __description, or the name. */
  readonly description: string;
  /** SEC() name as written, e.g. "socket", "?raw_tp", "tc". */
  readonly section: string;
  /** The program, fully assembled and relocated (maps by index into program.maps). */
  readonly program: Program;
  /** __log_level; 0 when absent (libbpf then retries at 1 only on failure). */
  readonly logLevel: number;
  /** Applied in order to the base flags (BPF_F_TEST_RND_HI32 | BPF_F_TEST_REG_INVARIANTS). */
  readonly flagOps: readonly FlagOp[];
  /** The stack-argument dialect; inherits the suite's, then the CLI's. */
  readonly series?: Series;
  /** __auxiliary: not a test, loaded with every test of the same suite. */
  readonly auxiliary: boolean;
  /** Privileged run, if the mode mask has it (a test with no mode tag is priv-only). */
  readonly priv?: Expectation;
  /** Unprivileged run (__success_unpriv, __msg_unpriv, ...). */
  readonly unpriv?: Expectation;
  /** Expected failure: the run fails when the test starts passing. It applies to the listed
   *  backends only (default: the engine; the live kernel is the reference the specs follow),
   *  and to the listed runs only (`modes`; default: every run of the test). */
  readonly xfail?: { readonly reason: string; readonly backends: readonly ('engine' | 'kernel')[]; readonly modes?: readonly ('priv' | 'unpriv')[] };
  /** Where the test starts in the spec file. */
  readonly pos: SourcePos;
  /** __arch_*: the arches the test runs on (lower case, e.g. "x86_64"); undefined = all.
   *  Keys of `jited` count too, as __jited must follow an __arch_* tag. */
  readonly arch?: readonly string[];
  /** __caps_unpriv: capability numbers re-enabled for the unprivileged run. */
  readonly capsUnpriv?: readonly number[];
  /** `from: progs/<file>.c:<func>`: the C source the stored insns were compiled from. */
  readonly from?: string;
  /** __btf_path: a BTF file (path as the selftest wrote it) libbpf resolves CO-RE and kfunc
   *  externs against instead of vmlinux. */
  readonly btfPath?: string;
  /** __linear_size(n): the test run passes a __sk_buff ctx with data_end = n (tc, cgroup_skb). */
  readonly linearSize?: number;
}

/** A kfunc prototype (BTF style) as a spec's `kfuncs:` declares it: the engine's declaration
 *  shape (engine/program/kfuncs.ts) with the KF_* names as written and a source position. */
export type KfuncParamSpec = KfuncParamDecl;

export interface KfuncSpec extends Omit<KfuncDecl, 'flags' | 'origin'> {
  /** KF_* names as written (their bits are in `flagBits`). */
  readonly flags: readonly string[];
  readonly pos: SourcePos;
}

export interface SuiteSpec {
  readonly file: string;
  readonly suite: string;
  readonly series?: Series;
  readonly maps: readonly MapDef[];
  readonly tests: readonly TestSpec[];
  /** Kfunc prototypes declared by the suite (additive; empty when none). */
  readonly kfuncs?: readonly KfuncSpec[];
  /** `base_flags`: the prog flags every test starts from, before its __flag edits (default
   *  BPF_F_TEST_RND_HI32 | BPF_F_TEST_REG_INVARIANTS, what testing_prog_flags() returns when
   *  its probe succeeds). */
  readonly baseFlags?: number;
  /** `sys_admin: keep`: the runner keeps CAP_SYS_ADMIN (test_progs' RUN_TESTS); the default,
   *  `drop`, is prog_tests/verifier.c's RUN(), which loads without it. */
  readonly keepSysAdmin?: boolean;
  /** `func_info: true`: every program is loaded with BTF func_info (libbpf with a -g object),
   *  which the kernel needs for callbacks, LD_ABS and tail calls in subprograms. */
  readonly funcInfo?: boolean;
}
