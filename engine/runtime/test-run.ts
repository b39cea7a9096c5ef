// The input a program gets from test_loader's one test run, as a RunEnv: 64 zero bytes of
// data (nothing at all for SYSCALL programs), the auxiliary programs and then the program
// itself as the list a PROG_ARRAY's init values index, and for __linear_size a zeroed
// __sk_buff ctx whose data_end is the linear size. Every caller that wants "what the
// kernel's BPF_PROG_TEST_RUN of this test does" (engine backend, retval parity, native
// runs) builds its env here, so they cannot drift apart.

import type { Program, Series } from '../program/types.ts';
import { SKB, SKB_SIZE } from './context.ts';
import { DEFAULT_PACKET_SIZE, type RunEnv } from './index.ts';
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
