// BPF exceptions (6.18): the bpf_throw(u64 cookie) kfunc and its exception callback.
//
// What a throw does: it ends the path like an exit of the whole program, wherever the frame
// is, and control passes to the exception callback, whose return value becomes the program's.
// What must hold at the throw point: no spin lock (refused earlier, as for every call under
// a lock), no RCU read section, no reference held in any frame, and, with the default
// callback, the cookie must be a valid program return value (it is returned as is).
//
// The callback is either a global `int cb(u64 cookie)` named by an `exception_callback:<cb>`
// decl tag on the main function's BTF, or, when none is given, a hidden subprogram the
// verifier appends after verification: `r0 = r1; exit`. The hidden one is JITed but does
// not count in bpf_prog_info's func_cnt (jited_func_lens, jited_ksyms), while the xlated
// dump shows its two instructions and the `stack depth` stats line its 0.

import type { Insn, RawSlot } from '../../isa/insn.ts';
import { BPF_CALL, BPF_EXIT, BPF_JMP, BPF_PSEUDO_KFUNC_CALL } from '../../isa/opcodes.ts';
import type { VerifierEnv } from '../env.ts';
import { reject, EINVAL } from '../reject.ts';
import { checkResourceLeak } from '../checks/refs.ts';
import { checkReturnCode } from '../checks/call.ts';
import { kernelKfunc } from './meta.ts';

export const BPF_THROW = 'bpf_throw';
/** The BTF decl tag on the main function that names the exception callback. */
export const EXCEPTION_CB_TAG = 'exception_callback:';

/** Per-run exception facts (the kernel keeps them in bpf_verifier_env). */
interface ExceptionFacts {
  /** seen_exception: some path reached bpf_throw. */
  seen: boolean;
  /** exception_callback_subprog (0 = none yet). */
  cbSubprog: number;
  /** The callback is the hidden default one (hidden_subprog_cnt). */
  hidden: boolean;
}

const facts = new WeakMap<VerifierEnv, ExceptionFacts>();

function factsOf(env: VerifierEnv): ExceptionFacts {
  let f = facts.get(env);
  if (!f) facts.set(env, (f = { seen: false, cbSubprog: 0, hidden: false }));
  return f;
}

export const seenException = (env: VerifierEnv): boolean => facts.get(env)?.seen ?? false;
export const exceptionCbSubprog = (env: VerifierEnv): number => facts.get(env)?.cbSubprog ?? 0;
export const hasHiddenCb = (env: VerifierEnv): boolean => facts.get(env)?.hidden ?? false;

/** is_bpf_throw_kfunc: a kernel kfunc call (off 0) to bpf_throw. */
export function isThrowCall(insn: Pick<Insn, 'code' | 'src' | 'off' | 'imm'>): boolean {
  return insn.code === (BPF_JMP | BPF_CALL) && insn.src === BPF_PSEUDO_KFUNC_CALL && insn.off === 0 &&
    kernelKfunc(insn.imm)?.name === BPF_THROW;
}

/** The bpf_throw part of check_kfunc_call, after the argument checks and before the
 *  caller-saved registers are clobbered: the cookie is the return value when the default
 *  callback will return it. */
export function noteThrow(env: VerifierEnv): void {
  const f = factsOf(env);
  f.seen = true;
  // A global subprogram verified on its own has only the scalar rule, which the u64
  // parameter already enforced.
  if (!f.cbSubprog && !env.curState.frames[0].subprogno) checkReturnCode(env, 1);
}

/** process_bpf_exit_full for an exception exit: checked in whatever frame throws, with the
 *  locks checked too, and references of every frame counted. Returns normally when the path
 *  may end here. */
export function exceptionExit(env: VerifierEnv): void {
  checkResourceLeak(env, true, BPF_THROW, true);
}

/** check_max_stack_depth's rule: no throw inside a callback (or a function it calls). */
export function throwInCallback(insnIdx: number, subprog: number): never {
  throw reject(EINVAL, `bpf_throw kfunc (insn ${insnIdx}) cannot be called from callback subprog ${subprog}`);
}

/** Record the exception callback found through the main function's decl tag. */
export function setExceptionCb(env: VerifierEnv, subprog: number): void {
  factsOf(env).cbSubprog = subprog;
}

/** The callback the main function's BTF names (bpf_find_exception_callback_insn_off), as
 *  the start slot of its function, or undefined when there is no tag. Needs func_info. */
export function findExceptionCallbackStart(env: VerifierEnv): number | undefined {
  const funcs = env.prog.funcs;
  const main = funcs.find((f) => f.start === 0);
  const tags = (main?.tags ?? []).filter((t) => t.startsWith(EXCEPTION_CB_TAG));
  if (tags.length === 0) return undefined;
  if (tags.length > 1) throw reject(17, 'multiple exception callback tags for main subprog');
  const name = tags[0].slice(EXCEPTION_CB_TAG.length);
  const cb = funcs.find((f) => f.name === name);
  if (!cb) throw reject(2, `exception callback '${name}' could not be found in BTF`);
  if (cb.linkage !== 'global') throw reject(EINVAL, `exception callback '${name}' must have global linkage`);
  if (cb.start === 0) throw reject(EINVAL, 'invalid exception callback insn_off in func_info: 0');
  return cb.start;
}

/** do_check_common's extra rule for the exception callback: one scalar argument. */
export function checkExceptionCbArgs(env: VerifierEnv, subprog: number): void {
  if (subprog !== exceptionCbSubprog(env) || hasHiddenCb(env)) return;
  const fn = env.prog.funcs.find((f) => f.start === env.subprogs[subprog].start);
  const params = fn?.params ?? [];
  const scalar = params.length === 1 && !params[0].type.trim().endsWith('*');
  if (!scalar) throw reject(EINVAL, 'exception cb only supports single integer argument');
}

/** do_misc_fixups' first step: with a throw and no callback of the program's own, the hidden
 *  default callback is appended as one more subprogram (for the stats line, stack depth 0). */
export function addHiddenExceptionCb(env: VerifierEnv): void {
  const f = factsOf(env);
  if (!f.seen || f.cbSubprog) return;
  f.hidden = true;
  f.cbSubprog = env.subprogs.length;
  env.subprogs.push({ start: env.insnCnt, stackDepth: 0, hasTailCall: false, hasLdAbs: false, argCount: 1 });
}

/** The hidden callback's instructions: return the cookie. */
export const HIDDEN_CB: readonly RawSlot[] = [
  { code: 0xbf, dst: 0, src: 1, off: 0, imm: 0 }, // r0 = r1
  { code: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 },
];
