// Which functions of a program the 6.18 kernel gives a private (per-CPU) stack, so that
// deep tracing programs do not eat into the kernel stack they interrupt.
//
// The rules, as the verifier applies them (6.18; the feature arrived in 6.13):
//  - only program types that may run nested inside arbitrary kernel code: kprobe, tracepoint,
//    perf_event, raw_tracepoint, and tracing programs other than iterators;
//  - not when any function tail calls;
//  - per function reachable from the main one (through calls and synchronous callbacks),
//    when its own stack depth, rounded up to 16, is at least 64 bytes.
// Asynchronous callbacks (timers, workqueues) and exception callbacks keep the normal stack.

import type { ProgType } from '../../program/types.ts';
import type { JitFunction } from './types.ts';
import { BPF_TAIL_CALL } from './body.ts';
import { isPseudoCall, isPseudoFunc } from './xlated.ts';

/** BPF_PRIV_STACK_MIN_SIZE: below this the JIT overhead is not worth it. */
export const PRIV_STACK_MIN_SIZE = 64;

const ADAPTIVE_TYPES: ReadonlySet<ProgType> = new Set<ProgType>(['KPROBE', 'TRACEPOINT', 'PERF_EVENT', 'RAW_TRACEPOINT']);

/** The program type allows a private stack at all (bpf_enable_priv_stack). */
export function privateStackAllowed(progType: ProgType, expectedAttachType?: string): boolean {
  if (ADAPTIVE_TYPES.has(progType)) return true;
  // Tracing programs that need recursion protection; iterators do not.
  return progType === 'TRACING' && expectedAttachType !== 'TRACE_ITER';
}

const roundUp16 = (n: number): number => (n + 15) & ~15;

/** Mark the functions that use a private stack. `asyncCallbacks`: function indices the
 *  verifier treats as asynchronous callbacks (not walked from main). */
export function withPrivateStack(
  funcs: readonly JitFunction[], progType: ProgType, expectedAttachType?: string,
  asyncCallbacks: ReadonlySet<number> = new Set(),
): JitFunction[] {
  if (!privateStackAllowed(progType, expectedAttachType)) return [...funcs];
  const tailCalls = funcs.some((f) => f.insns.some((i) => i.code === (0x05 | BPF_TAIL_CALL)));
  if (tailCalls) return [...funcs];
  const reach = new Set<number>();
  const walk = (k: number): void => {
    if (reach.has(k) || asyncCallbacks.has(k) || funcs[k].exceptionCb) return;
    reach.add(k);
    funcs[k].insns.forEach((insn, i) => {
      if (!isPseudoCall(insn) && !isPseudoFunc(insn)) return;
      const t = funcs[k].subprogRefs?.get(i);
      if (t !== undefined) walk(t);
    });
  };
  walk(0);
  return funcs.map((f, k) => (reach.has(k) && roundUp16(f.stackDepth) >= PRIV_STACK_MIN_SIZE ? { ...f, privateStack: true } : f));
}
