// What the harness asks of a backend (our engine or the live kernel), and what it gets back.
// The matcher judges both backends' outcomes with the same code.

import type { Program, Series } from '../engine/program/types.ts';

export interface RunRequest {
  readonly program: Program;
  /** __auxiliary programs loaded alongside (e.g. tail-call targets). */
  readonly auxiliary: readonly Program[];
  /** __log_level as given; 0 means "no log unless the load fails" (libbpf retries at 1). */
  readonly logLevel: number;
  /** Final prog flags (base flags with __flag edits applied). */
  readonly flags: number;
  readonly unpriv: boolean;
  readonly series: Series;
  /** A __retval was given: run the program once on a 64-byte zero packet. */
  readonly execute: boolean;
  readonly wantXlated: boolean;
  readonly wantJited: boolean;
  /** Keep CAP_SYS_ADMIN for the run (suite `sys_admin: keep`); by default it is dropped, as
   *  prog_tests/verifier.c does for every verifier_* file. */
  readonly keepSysAdmin?: boolean;
  /** The program carries BTF func_info for every function (suite `func_info: true`: a
   *  libbpf object compiled with -g); otherwise only global subprograms force it. */
  readonly funcInfo?: boolean;
  /** __caps_unpriv: capabilities the unpriv run keeps (numbers). */
  readonly capsUnpriv?: readonly number[];
  /** __linear_size: the test run's __sk_buff ctx gets data_end = this. */
  readonly linearSize?: number;
  /** The suite's kfunc declarations with a BTF id, by id: what the interpreter binds calls to. */
  readonly kfuncNames?: ReadonlyMap<number, string>;
  /** __btf_path, as written by the test (resolved by the backend, if it can). */
  readonly btfPath?: string;
  /** __stderr / __stdout patterns were given: the run must report the program's streams. */
  readonly wantStreams?: boolean;
}

export type RetvalOutcome =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly reason: string };

export interface RunOutcome {
  readonly loaded: boolean;
  readonly errno: number;
  /** The verifier log as a test_loader would see it (after libbpf's level-1 retry). */
  readonly log: string;
  /** Xlated program text, one `N: text` line per instruction, as test_loader prints it. */
  readonly xlated?: string;
  /** JIT disassembly in the selftests' LLVM AT&T format. */
  readonly jited?: string;
  readonly retval?: RetvalOutcome;
  /** Per subprogram ("func#N"), v4 bytes or merged slots. */
  readonly stackArgDepth?: Readonly<Record<string, { readonly incoming: number; readonly outgoing: number }>>;
  /** The backend cannot run this test here, and why (never counted as a pass). */
  readonly skip?: string;
  /** A capability this backend lacks (e.g. "verifier not implemented"): a failure. */
  readonly unsupported?: string;
}

export interface Backend {
  readonly name: 'engine' | 'kernel';
  run(req: RunRequest): Promise<RunOutcome>;
  close?(): Promise<void>;
}
