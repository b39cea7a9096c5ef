// check_max_stack_depth: along every chain of bpf-to-bpf calls from the main program, the
// frames' stack sizes (each rounded up to 16 with the JIT on) must fit in 512 bytes.
// Tracing program types get a private stack per subprog on x86-64 (6.18), so only each
// subprog's own size is limited there.

import { BPF_JMP, BPF_CALL, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, LD_IMM64 } from '../../isa/opcodes.ts';
import { reject, EACCES, E2BIG } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { isThrowCall, throwInCallback } from '../kfunc/throw.ts';
import { asyncCallbackSubprogs } from '../calls/timer.ts';

const MAX_BPF_STACK = 512;
const MAX_CALL_FRAMES = 8;
const PRIV_STACK_MIN_SIZE = 64;
const PRIV_STACK_TYPES = new Set(['KPROBE', 'TRACEPOINT', 'PERF_EVENT', 'RAW_TRACEPOINT']);

const roundUp = (n: number): number => Math.ceil(n / 16) * 16;

export function checkMaxStackDepth(env: VerifierEnv): void {
  const priv = PRIV_STACK_TYPES.has(env.prog.progType) && !env.subprogs.some((s) => s.hasTailCall);
  // inCb: this function is a callback or runs below one (bpf_throw is refused there).
  const walk = (idx: number, depth: number, frame: number, inCb = false): void => {
    const own = roundUp(env.subprogs[idx].stackDepth);
    if (priv && own >= PRIV_STACK_MIN_SIZE) {
      if (own > MAX_BPF_STACK) throw reject(EACCES, `stack size of subprog ${idx} is ${own}. Too large`);
    } else {
      depth += own;
      if (depth > MAX_BPF_STACK) throw reject(EACCES, `combined stack size of ${frame + 1} calls is ${depth}. Too large`);
    }
    const end = idx + 1 < env.subprogs.length ? env.subprogs[idx + 1].start : env.insnCnt;
    for (let i = env.subprogs[idx].start; i < end; i++) {
      const s = env.slots[i];
      if (inCb && isThrowCall(s)) throwInCallback(i, idx);
      const call = (s.code === (BPF_JMP | BPF_CALL) && s.src === BPF_PSEUDO_CALL) || (s.code === LD_IMM64 && s.src === BPF_PSEUDO_FUNC);
      if (!call) continue;
      const target = env.subprogs.findIndex((sp) => sp.start === i + s.imm + 1);
      // A timer callback runs on a stack of its own unless called directly (a root below).
      if (s.code === LD_IMM64 && async.has(target)) continue;
      if (frame + 1 >= MAX_CALL_FRAMES) throw reject(E2BIG, `the call stack of ${frame + 1} frames is too deep !`);
      walk(target, depth, frame + 1, inCb || s.code === LD_IMM64);
    }
  };
  const async = asyncCallbackSubprogs(env);
  walk(0, 0, 0);
  for (const cb of async) walk(cb, 0, 0, true);
}
