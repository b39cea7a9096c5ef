// The verifier's public API: verify(prog, opts) runs the 6.18 checks in the kernel's order
// and returns the verdict, errno, log text and per-subprog facts.
//
// Layout of engine/verifier/:
//   env.ts            per-run environment (slots, aux facts, counters, branch stack)
//   reject.ts         how a check fails (message + errno)
//   cfg/              pre-passes: subprogs, insn sanity, CFG walk, liveness table; stack depth
//   state/            register / stack / frame state types and constructors
//   checks/           what must hold per instruction class (alu, mem, ctx, jmp, call, regs)
//   helpers/          helper prototypes
//   prune.ts          is_state_visited / states_equal (precision-aware, dead slots cleaned)
//   precision/        jmp history and mark_chain_precision backtracking
//   liveness/         6.18 call-chain stack liveness (the `+live -8` lines)
//   scc.ts            loop (SCC) enter/exit and back-edge precision
//   do-check.ts       the main loop
//   log/              the log buffer and the state printer
//   scalar-api.ts     the bridge to the numeric core (engine/verifier/scalar)
//   fixup/            the rewrites after do_check, giving the xlated program

import type { Program, Series } from '../program/types.ts';
import { VerifierEnv } from './env.ts';
import { Reject, E2BIG, EINVAL } from './reject.ts';
import { addSubprogs, checkSubprogs, resolveInsns, checkCfg } from './cfg/prepare.ts';
import { computeLiveRegisters, printLiveRegs } from './cfg/liveness.ts';
import { computeSubprogArgAccess } from './liveness/arg-track-pass.ts';
import { doCheckMain } from './do-check.ts';
import { checkMaxStackDepth } from './cfg/stack-depth.ts';
import { NotImplementedError } from './not-implemented.ts';
import { BPF_LOG_STATS } from './log/log.ts';
import { xlatedProgram, type XlatedOptions } from './fixup/index.ts';
import { checkStackArgUse, stackArgDepth } from './stack-arg/finish.ts';
import { calledGlobals, globalVerified } from './calls/global.ts';
import { checkTailCallMaps } from './unpriv/tail-call.ts';
import { checkSubprogAbnormalReturns } from './calls/func-info.ts';
import { badExpectedAttach, insnSlotCount, maxInsns } from './cfg/prog-load.ts';
import { checkAttachBtfId } from './cfg/attach.ts';
import { addHiddenExceptionCb, exceptionCbSubprog, hasHiddenCb, seenException } from './kfunc/throw.ts';
import { markFastcallPatterns } from './fastcall.ts';
import { removeFastcallSpillsFills } from './fixup/fastcall.ts';
import { progArena } from './checks/arena.ts';

export { NotImplementedError };

export interface VerifyOptions {
  /** Log level bits as bpf_attr.log_level: 1, 2, 4 (stats), combinable. */
  readonly logLevel: number;
  /** Run as an unprivileged loader (no CAP_BPF/PERFMON/NET_ADMIN). */
  readonly unpriv: boolean;
  /** With `unpriv`: capability numbers the loader keeps (__caps_unpriv), e.g. CAP_BPF (39)
   *  alone gives bpf_capable without the PERFMON-gated leaks and Spectre bypasses. */
  readonly capsUnpriv?: readonly number[];
  readonly series: Series;
  /** How the xlated program names kernel objects (map ids, kernel addresses). */
  readonly xlated?: XlatedOptions;
  /** The load carries BTF func_info for every function (libbpf with a -g object). When
   *  unset, subprograms with a known return type are taken to have it. */
  readonly funcInfo?: boolean;
  /** nr_cpu_ids of the machine the kernel runs on: bpf_get_smp_processor_id returns
   *  [0, nr_cpu_ids - 1] (6.18). Default: this machine's (engine/verifier/machine.ts). */
  readonly nrCpuIds?: number;
}

export interface SubprogFacts {
  readonly start: number;
  readonly stackDepth: number;
  readonly argCount: number;
  /** v4: bytes; merged: slot counts. */
  readonly stackArgIn: number;
  readonly stackArgOut: number;
}

export interface VerifyResult {
  readonly accepted: boolean;
  /** 0 on success, else EACCES (13), EINVAL (22), E2BIG (7), ... */
  readonly errno: number;
  readonly log: string;
  readonly xlated?: Program['insns'];
  /** Why `xlated` is missing from an accepted program (a rewrite not modelled yet). */
  readonly xlatedMissing?: string;
  readonly subprogs: readonly SubprogFacts[];
  readonly stats: { readonly processedInsns: number; readonly totalStates: number; readonly peakStates: number };
  /** BPF exceptions (kfunc/throw.ts): some path throws (the main function is then an
   *  exception boundary), the exception callback's subprog (0: none), and whether it is the
   *  hidden default one (JITed, but not counted in the kernel's jited_func_lens). */
  readonly exception?: { readonly seen: boolean; readonly cbSubprog: number; readonly hidden: boolean };
  /** Slot where the exception callback starts in `xlated`. */
  readonly exceptionCbStart?: number;
  /** With `xlated`: each of its functions' stack depth after the rewrites that take stack
   *  (bpf_loop inlining, may_goto), dead callbacks gone; what the JIT frames and the stats
   *  line prints. */
  readonly xlatedStackDepths?: readonly number[];
  /** With `xlated`, when it differs from it: the program as the JIT gets it (arena accesses
   *  as PROBE_MEM32, which the dump shows as MEM). */
  readonly jitInsns?: Program['insns'];
  /** The program has an arena (env->prog->aux->arena): the JIT sets up its base register. */
  readonly hasArena?: boolean;
}

/** Verify `prog` as the 6.18 kernel would. Throws NotImplementedError for features not
 *  modelled yet (never a guessed verdict). */
export function verify(prog: Program, opts: VerifyOptions): VerifyResult {
  if (prog.insns.length === 0 || insnSlotCount(prog) > maxInsns(opts)) {
    // bpf_prog_load refuses an empty or too long program before the verifier runs: no log.
    return result(undefined, false, E2BIG, '');
  }
  if (badExpectedAttach(prog)) return result(undefined, false, EINVAL, '');
  const env = new VerifierEnv(prog, opts);
  const started = process.hrtime.bigint();
  let errno = 0;
  try {
    addSubprogs(env);
    checkSubprogs(env);
    checkSubprogAbnormalReturns(env);
    resolveInsns(env);
    checkCfg(env);
    checkAttachBtfId(env);
    markFastcallPatterns(env);
    if (opts.series === 'merged') computeSubprogArgAccess(env); // merged: arg tracking runs first
    computeLiveRegisters(env);
    if (env.log.level2) printLiveRegs(env);
    doCheckMain(env);
    if (!env.log.level2) env.log.reset(0);
    doCheckSubprogs(env);
    removeFastcallSpillsFills(env); // may shrink stack depths: before the depth check
    checkMaxStackDepth(env);
    checkStackArgUse(env);
    checkTailCallMaps(env);
    addHiddenExceptionCb(env);
  } catch (e) {
    if (!(e instanceof Reject)) throw e;
    errno = e.errno;
    if (e.text) env.log.verbose(`${e.text}\n`);
  }
  // The rewrites run before the stats line, which shows the depths they leave (bpf_check).
  const xl = errno === 0 ? xlatedOf(env, opts) : {};
  printStats(env, started, xl.xlatedStackDepths);
  return { ...result(env, errno === 0, errno, env.log.text), ...xl };
}


/** do_check_subprogs: each called global subprogram, verified on its own after main. */
function doCheckSubprogs(env: VerifierEnv): void {
  const done = new Set<number>();
  for (let more = true; more; ) {
    more = false;
    // The exception callback is presumed called (kfunc/throw.ts).
    const cb = exceptionCbSubprog(env);
    for (const i of [...new Set([...calledGlobals(env), ...(cb ? [cb] : [])])].sort((a, b) => a - b)) {
      if (done.has(i)) continue;
      done.add(i);
      more = true;
      // Explored states do not carry over between subprograms (free_states).
      env.explored.clear();
      env.exploredStates = 0;
      doCheckMain(env, i);
      if (!env.log.level2) env.log.reset(0);
      globalVerified(env, i);
    }
  }
}

function printStats(env: VerifierEnv, started: bigint, depths: readonly number[] = env.subprogs.map((s) => s.stackDepth)): void {
  const log = env.log;
  if (!log.enabled) return;
  if (log.level & BPF_LOG_STATS) {
    const usec = (process.hrtime.bigint() - started) / 1000n;
    log.verbose(`verification time ${usec} usec\n`);
    log.verbose(`stack depth ${depths.join('+')}\n`);
  }
  log.verbose(
    `processed ${env.insnProcessed} insns (limit 1000000) max_states_per_insn ${env.maxStatesPerInsn} ` +
      `total_states ${env.totalStates} peak_states ${env.peakStates} mark_read 0\n`,
  );
}

/** The post-verification rewrites (fixup/), or why they could not be modelled. */
function xlatedOf(env: VerifierEnv, opts: VerifyOptions): Pick<VerifyResult, 'xlated' | 'xlatedMissing' | 'exceptionCbStart' | 'xlatedStackDepths' | 'jitInsns' | 'hasArena'> {
  try {
    // Unprivileged loads get more rewrites than fixup/ models: report that rather than a
    // privileged-looking dump.
    if (opts.unpriv) throw new NotImplementedError('unprivileged rewrites (nospec barriers, pointer ALU masking, dead-code traps, array index masking)');
    const starts: number[] = [];
    const depths: number[] = [];
    const jit: Program['insns'][number][] = [];
    const xlated = xlatedProgram(env, opts.xlated, starts, depths, jit);
    const jitDiffers = jit.length > 0;
    // The exception callback is never called: the JIT learns where it starts from here.
    const cb = exceptionCbSubprog(env);
    return { xlated, xlatedStackDepths: depths, ...(jitDiffers ? { jitInsns: jit } : {}), ...(progArena(env) ? { hasArena: true } : {}), ...(cb && starts[cb] !== undefined ? { exceptionCbStart: starts[cb] } : {}) };
  } catch (e) {
    if (e instanceof NotImplementedError) return { xlatedMissing: e.message };
    throw e;
  }
}

function result(env: VerifierEnv | undefined, accepted: boolean, errno: number, log: string): VerifyResult {
  return {
    accepted,
    errno,
    log,
    subprogs: (env?.subprogs ?? []).map((s, i) => {
      const d = env ? stackArgDepth(env, i) : { incoming: 0, outgoing: 0 };
      return { start: s.start, stackDepth: s.stackDepth, argCount: s.argCount, stackArgIn: d.incoming, stackArgOut: d.outgoing };
    }),
    stats: { processedInsns: env?.insnProcessed ?? 0, totalStates: env?.totalStates ?? 0, peakStates: env?.peakStates ?? 0 },
    ...(env && (seenException(env) || exceptionCbSubprog(env))
      ? { exception: { seen: seenException(env), cbSubprog: exceptionCbSubprog(env), hidden: hasHiddenCb(env) } }
      : {}),
  };
}
