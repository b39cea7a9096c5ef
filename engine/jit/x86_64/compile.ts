// The size-convergence loop (the kernel's bpf_int_jit_compile + do_jit passes) and the
// per-program driver that JITs every function and links bpf-to-bpf calls.
//
// Branch sizes depend on distances, distances on sizes. Pass 0 starts from a 64-bytes-per-
// instruction guess; each pass re-emits with the previous pass's offsets, and images only
// shrink. Once a pass gives the same length as the one before, one more pass writes the
// image. From pass 15 on (and in the final pass of a multi-function program) a jump that
// would shrink is padded with nops instead, so the loop must end.

import { insnSlots, type Insn } from '../../isa/insn.ts';
import { Code } from './code.ts';
import { prologue, type TailCallLabels } from './frame.ts';
import { translate } from './body.ts';
import { hasMayGoto } from './native.ts';
import { v4OutgoingBytes } from './stack-args.ts';
import {
  DEFAULT_KERNEL_CONFIG, JitError, type JitFuncImage, type JitFunction, type JitImage, type JitMode,
  type JitOptions, type KernelConfig,
} from './types.ts';

export const MAX_PASSES = 20;
export const PADDING_PASSES = MAX_PASSES - 5;
/** Largest code the kernel allows one BPF instruction to produce. */
const MAX_INSN_SIZE = 128;

/** Everything that survives from one pass to the next. */
interface PassState {
  readonly addrs: Int32Array;
  cleanupAddr: number;
  readonly labels: TailCallLabels;
}

interface PassEnv {
  readonly fn: JitFunction;
  readonly cfg: KernelConfig;
  readonly mode: JitMode;
  readonly stackDepth: number;
  readonly funcAddr?: bigint;
  readonly funcAddrs?: readonly bigint[];
  readonly callTarget?: (src: number, imm: number) => bigint;
  readonly ldImm64Value?: (insn: Insn) => bigint;
  readonly ldAbsTarget?: bigint;
}

interface PassOut {
  readonly code: Code;
  readonly insnOffsets: number[];
}

/** One do_jit() pass. With `final`, every instruction must end where the previous pass said. */
function pass(env: PassEnv, st: PassState, padding: boolean, final: boolean): PassOut {
  const { fn } = env;
  const out = prologue(fn, env.cfg, env.mode, env.stackDepth);
  st.addrs[0] = out.length;
  const exit = { seen: false, cleanupAddr: st.cleanupAddr };
  const insnOffsets: number[] = [];
  let slot = 1;
  for (let index = 0; index < fn.insns.length; index++) {
    const insn = fn.insns[index];
    const at = out.length;
    insnOffsets.push(at);
    const code = translate(insn, {
      fn, cfg: env.cfg, mode: env.mode, stackDepth: env.stackDepth, addrs: st.addrs, i: slot, index,
      padding, labels: st.labels, at, exit, funcAddr: env.funcAddr, funcAddrs: env.funcAddrs,
      callTarget: env.callTarget, ldImm64Value: env.ldImm64Value, ldAbsTarget: env.ldAbsTarget,
    });
    if (code.length > MAX_INSN_SIZE) throw new JitError('fatal insn size error', index);
    // An ld_imm64 covers two slots; the kernel records its end on the second one.
    slot += insnSlots(insn) - 1;
    if (final && at + code.length !== st.addrs[slot]) {
      throw new JitError(`instruction ${index} moved in the final pass (${at + code.length} != ${st.addrs[slot]})`, index);
    }
    out.append(code);
    st.addrs[slot] = out.length;
    slot++;
    st.cleanupAddr = exit.cleanupAddr;
  }
  insnOffsets.push(out.length);
  return { code: out, insnOffsets };
}

function slotCount(fn: JitFunction): number {
  let n = 0;
  for (const insn of fn.insns) n += insnSlots(insn);
  return n;
}

interface Converged {
  readonly st: PassState;
  readonly passes: number;
  readonly length: number;
}

/** Run passes until the length stops changing (bpf_int_jit_compile's loop, first round). */
function converge(env: PassEnv): Converged {
  const n = slotCount(env.fn);
  const addrs = new Int32Array(n + 1);
  for (let k = 0; k <= n; k++) addrs[k] = 64 * (k + 1);
  const st: PassState = { addrs, cleanupAddr: 64 * (n + 1), labels: { direct: 0, indirect: 0 } };
  let old = 0;
  for (let p = 0; p < MAX_PASSES; p++) {
    const len = pass(env, st, p >= PADDING_PASSES, false).code.length;
    if (len === old) return { st, passes: p + 1, length: len };
    old = len;
  }
  throw new JitError(`JIT did not converge in ${MAX_PASSES} passes`);
}

function image(out: PassOut, passes: number): JitFuncImage {
  return {
    code: Uint8Array.from(out.code.bytes),
    relocs: out.code.relocs,
    extable: out.code.extable,
    insnOffsets: out.insnOffsets,
    passes,
  };
}

/** The stack the function reserves. Native mode pads it so that rsp stays 16-byte aligned
 *  at calls (SysV), which the kernel does not need. */
function stackFor(fn: JitFunction, mode: JitMode): number {
  // v4: the outgoing stack-arg area extends the frame below the BPF stack (stack-args.ts).
  const v4 = fn.stackArgs?.series === 'v4' ? v4OutgoingBytes(fn.stackArgs, mode === 'native') : 0;
  // 6.18 private stack: nothing is reserved below rbp; every depth-dependent offset is 0.
  if (mode === 'kernel' && fn.privateStack) return 0;
  if (mode === 'kernel') return v4 ? ((fn.stackDepth + 7) & ~7) + v4 : fn.stackDepth;
  // native: room for the may_goto counter below that (native.ts).
  const rounded = ((fn.stackDepth + 7) & ~7) + v4 + (hasMayGoto(fn) ? 8 : 0);
  let pushed = 8 /* return address */ + 8 /* rbp */ + (fn.tailCallReachable ? 16 : 0);
  pushed += 8 * countCalleeSaved(fn);
  return (rounded + pushed) % 16 === 0 ? rounded : rounded + 8;
}

function countCalleeSaved(fn: JitFunction): number {
  if (fn.exceptionBoundary) return 5;
  const used = new Set<number>();
  for (const insn of fn.insns) {
    if (insn.dst >= 6 && insn.dst <= 9) used.add(insn.dst);
    if (insn.src >= 6 && insn.src <= 9) used.add(insn.src);
  }
  return used.size + (fn.arena ? 1 : 0);
}

/**
 * JIT a whole program: one image per function. Like the kernel, a single-function program
 * gets its final pass right after convergence; with several functions every function first
 * converges on its own, then (addresses known) each gets one more pass with padding on.
 */
export function jitProgram(funcs: readonly JitFunction[], opts: JitOptions = {}): JitImage {
  if (funcs.length === 0) throw new JitError('no functions to JIT');
  const cfg: KernelConfig = { ...DEFAULT_KERNEL_CONFIG, ...opts.config };
  const mode = opts.mode ?? 'kernel';
  const envs: PassEnv[] = funcs.map((fn, k) => ({
    fn, cfg, mode, stackDepth: stackFor(fn, mode),
    funcAddr: opts.funcAddrs?.[k], funcAddrs: opts.funcAddrs, callTarget: opts.callTarget,
    ldImm64Value: opts.ldImm64Value, ldAbsTarget: opts.ldAbsTarget,
  }));
  const images: JitFuncImage[] = [];
  if (funcs.length === 1) {
    const conv = converge(envs[0]);
    images.push(image(pass(envs[0], conv.st, conv.passes >= PADDING_PASSES, true), conv.passes + 1));
  } else {
    const convs = envs.map(converge);
    envs.forEach((env, k) => {
      // The first round ends with its own final pass (the image is allocated then), so the
      // extra pass after linking is the round's passes + 2.
      pass(env, convs[k].st, convs[k].passes >= PADDING_PASSES, true);
      images.push(image(pass(env, convs[k].st, true, true), convs[k].passes + 2));
    });
  }
  const total = images.reduce((a, f) => a + f.code.length, 0);
  const code = new Uint8Array(total);
  let at = 0;
  for (const f of images) {
    code.set(f.code, at);
    at += f.code.length;
  }
  return { funcs: images, code, funcLens: images.map((f) => f.code.length) };
}
