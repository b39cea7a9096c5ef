// The input a program gets from test_loader's one test run, as a RunEnv: 64 zero bytes of
// data (nothing at all for SYSCALL programs), the auxiliary programs and then the program
// itself as the list a PROG_ARRAY's init values index, and for __linear_size a zeroed
// __sk_buff ctx whose data_end is the linear size. Every caller that wants "what the
// kernel's BPF_PROG_TEST_RUN of this test does" (engine backend, retval parity, native
// runs) builds its env here, so they cannot drift apart.

import type { Program, Series } from '../program/types.ts';
import { SKB, SKB_SIZE } from './context.ts';
import { DEFAULT_PACKET_SIZE, type RunEnv, type RunResult, runProgram } from './index.ts';
import { kfuncsByName } from './kfuncs/index.ts';

export interface TestRunInput {
  readonly auxiliary?: readonly Program[];
  readonly series?: Series;
  /** __linear_size: data_end of the __sk_buff ctx_in. */
  readonly linearSize?: number;
  /** Kfuncs the program calls by BTF id (a suite's `kfuncs:`), bound by name. */
  readonly kfuncs?: ReadonlyMap<number, string>;
}

/** test_loader's ctx_in for __linear_size: zeroes with only data_end set. */
export function linearSizeCtx(linearSize: number): Uint8Array {
  const ctx = new Uint8Array(SKB_SIZE);
  new DataView(ctx.buffer).setUint32(SKB.data_end, linearSize >>> 0, true);
  return ctx;
}

export function testRunEnv(prog: Program, input: TestRunInput = {}): RunEnv {
  const syscall = prog.progType === 'SYSCALL';
  return {
    progs: [...(input.auxiliary ?? []), prog],
    series: input.series ?? 'none',
    kfuncs: kfuncsByName(input.kfuncs ?? new Map()),
    data: syscall ? new Uint8Array(0) : new Uint8Array(DEFAULT_PACKET_SIZE),
    ...(input.linearSize !== undefined && !syscall ? { ctx: linearSizeCtx(input.linearSize) } : {}),
  };
}

/** What BPF_PROG_TEST_RUN of a TRACING program reports: the kernel calls its own test
 *  functions (bpf_fentry_test1..9, bpf_modify_return_test and _test2) and reports what they
 *  did; the program runs only if it is attached to them, which a test run's program is not.
 *  fentry/fexit: 0 when the functions return what they should. fmod_ret: both modify_return
 *  functions return a + ++*b (+ the other args): 4 + 29 = 33, with b changed twice (the
 *  side effect count in the high half). Any other attach type: -EFAULT. (6.18
 *  net/bpf/test_run.c; not checkable live here: this kernel refuses TRACING loads.) */
export function tracingTestRun(prog: Program): RunResult {
  switch (prog.expectedAttachType) {
    case 'TRACE_FENTRY': case 'TRACE_FEXIT':
      return { ok: true, retval: 0n, insnsExecuted: 0 };
    case 'MODIFY_RETURN':
      return { ok: true, retval: BigInt((2 << 16) | 33), insnsExecuted: 0 };
    default:
      return { ok: false, retval: 0n, fault: `BPF_PROG_TEST_RUN of a TRACING program attached as ${prog.expectedAttachType ?? 'nothing'} fails (-EFAULT)`, insnsExecuted: 0 };
  }
}

/** One test run as test_loader does it: tracing programs as the kernel reports them, any
 *  other program run in the interpreter on testRunEnv's input. */
export function testRun(prog: Program, input: TestRunInput = {}): RunResult {
  if (prog.progType === 'TRACING') return tracingTestRun(prog);
  return runProgram(prog, testRunEnv(prog, input));
}
