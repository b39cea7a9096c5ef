// Per-run stack-argument bookkeeping: the series in force, each subprogram's argument count
// and the counts the JIT needs (merged `stack_arg_cnt` / `max_out_stack_arg_cnt`, v4
// `incoming_stack_arg_depth` / `outgoing_stack_arg_depth`). Kept beside the env, not in it,
// so that series `none` runs carry nothing.

import type { VerifierEnv } from '../env.ts';
import type { FuncState, RegState, VerifierState } from '../state/types.ts';
import { RegType } from '../state/types.ts';
import { markNotInit, markUnknown, newReg } from '../state/regs.ts';
import { type Dialect, dialectOf, inCount, MAX_REG_ARGS } from './dialect.ts';

export interface SubprogArgs {
  /** Arguments from the BTF prototype (FuncDef.params); 5 when unknown (r1..r5 only). */
  nargs: number;
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

/** Argument count of subprogram `n` from its BTF prototype, when the program has one. */
export function subprogNargs(env: VerifierEnv, n: number): number | undefined {
  const start = env.subprogs[n]?.start;
  return env.prog.funcs.find((f) => f.start === start)?.params?.length;
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
            const nargs = i === 0 ? 1 : (subprogNargs(env, i) ?? MAX_REG_ARGS);
            return { nargs, inSlots: inCount(nargs), outSlots: 0, maxWritten: 0, usesStackArgs: nargs > MAX_REG_ARGS };
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
