// Per-run stack-argument bookkeeping: the series in force, each subprogram's argument count
// and the counts the JIT needs (merged `stack_arg_cnt` / `max_out_stack_arg_cnt`, v4
// `incoming_stack_arg_depth` / `outgoing_stack_arg_depth`). Kept beside the env, not in it,
// so that series `none` runs carry nothing.

import type { VerifierEnv } from '../env.ts';
import type { FuncState, RegState, VerifierState } from '../state/types.ts';
import { RegType, baseType } from '../state/types.ts';
import { markNotInit, markUnknown, newReg } from '../state/regs.ts';
import { type Dialect, dialectOf, inCount, MAX_FUNC_ARGS, MAX_REG_ARGS } from './dialect.ts';

export interface SubprogArgs {
  /** Arguments from the BTF prototype (FuncDef.params); 5 when unknown (r1..r5 only). */
  nargs: number;
  /** btf_prepare_func_args succeeds: only then does a static call check the slots. */
  readonly reliable: boolean;
  /** Stack arguments this subprogram receives. */
  readonly inSlots: number;
  /** Largest stack-argument need of any call it makes (slots). */
  outSlots: number;
  /** Highest outgoing slot it writes, plus one (merged max_out_stack_arg_cnt). */
  maxWritten: number;
  /** Some insn of it is a tail call (for the v4/merged tail-call rule). */
  usesStackArgs: boolean;
}

export interface StackArgRun {
  readonly d: Dialect;
  readonly subprogs: SubprogArgs[];
}

const runs = new WeakMap<VerifierEnv, StackArgRun | null>();

/** Parameters of subprogram `n` from its BTF prototype, when the program has one. */
export function subprogParams(env: VerifierEnv, n: number): readonly { name: string; type: string }[] | undefined {
  const start = env.subprogs[n]?.start;
  return env.prog.funcs.find((f) => f.start === start)?.params;
}

const CTX_TYPES = /^struct (__sk_buff|xdp_md|pt_regs|bpf_sock_ops|sk_msg_md|bpf_sock_addr|bpf_sock|bpf_sockopt|bpf_sysctl|bpf_perf_event_data|sk_reuseport_md|bpf_sk_lookup|bpf_nf_ctx|bpf_raw_tracepoint_args|bpf_cgroup_dev_ctx) \*$/;

/** A static function's parameter btf_prepare_func_args accepts: an integer or enum, or a
 *  pointer to the program's context. Anything else makes the prototype unreliable. */
function reliableParam(type: string): boolean {
  const t = type.replace(/\bconst\b/g, '').replace(/\s+/g, ' ').trim();
  if (CTX_TYPES.test(t)) return true;
  return !t.includes('*') && !/^(struct|union) /.test(t);
}

/** The run's stack-argument state; undefined under series `none`. */
export function stackArgRun(env: VerifierEnv): StackArgRun | undefined {
  let r = runs.get(env);
  if (r === undefined) {
    const d = dialectOf(env.opts.series);
    r = d
      ? {
          d,
          subprogs: env.subprogs.map((_, i) => {
            const params = i === 0 ? undefined : subprogParams(env, i);
            const reliable = params !== undefined && params.length <= MAX_FUNC_ARGS && params.every((p) => reliableParam(p.type));
            // merged sets arg_cnt before the prototype is vetted (commit 3ab5bd317ee2). v4
            // (choice, docs/series.md): the incoming depth also comes from the prototype's
            // length, so a pointer parameter does not hide the stack arguments.
            const nargs = params?.length ?? (i === 0 ? 1 : MAX_REG_ARGS);
            return { nargs, reliable, inSlots: inCount(nargs), outSlots: 0, maxWritten: 0, usesStackArgs: nargs > MAX_REG_ARGS };
          }),
        }
      : null;
    runs.set(env, r);
  }
  return r ?? undefined;
}

/** The slot `spi` of `f`, grown on demand (zero-filled = NOT_INIT, grow_stack_arg_slots). */
export function slotAt(f: FuncState, spi: number): RegState {
  while (f.stackArgs.length <= spi) f.stackArgs.push(newReg());
  return f.stackArgs[spi];
}

/** Every outgoing slot of `f` becomes NOT_INIT (invalidate_outgoing_stack_args). */
export function invalidateOutgoing(f: FuncState): void {
  for (const r of f.stackArgs) markNotInit(r);
}

/** A pointer held in a slot lost its meaning (released, packet data moved): what the slot
 *  holds from now on, per series. */
export function invalidateSlotValue(d: Dialect, r: RegState): void {
  if (d.invalidateTo === 'not_init') markNotInit(r);
  else markUnknown(r);
}

/** Every initialised stack-arg slot of every frame (bpf_for_each_spilled_stack_arg). */
export function* stackArgRegs(st: VerifierState): Generator<RegState> {
  for (const f of st.frames) for (const r of f.stackArgs) if (r.type !== RegType.NOT_INIT) yield r;
}

const isPktAny = (r: RegState): boolean => {
  const t = baseType(r.type);
  return t === RegType.PTR_TO_PACKET || t === RegType.PTR_TO_PACKET_META || t === RegType.PTR_TO_PACKET_END;
};

/** clear_all_pkt_pointers reaches the outgoing slots too (the slots are part of the state
 *  the kernel walks). Only v4 can still hold one here: merged slots die at every call. The
 *  slot turns invalid the way a register does (mark_reg_invalid). */
export function clearStackArgPktPointers(env: VerifierEnv): void {
  if (!stackArgRun(env)) return;
  for (const f of env.curState.frames) {
    for (const r of f.stackArgs) {
      if (!isPktAny(r)) continue;
      if (env.allowPtrLeaks) markUnknown(r);
      else markNotInit(r);
    }
  }
}
