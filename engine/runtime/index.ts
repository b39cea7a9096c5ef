// Public API of the reference interpreter: run a Program once, as BPF_PROG_TEST_RUN would,
// and report r0 or a runtime fault. Nothing here throws for a bad program: an invalid
// instruction, an out-of-bounds access or an unknown helper is a fault in the result.

import type { Program, Series } from '../program/types.ts';
import { buildContext } from './context.ts';
import { defaultHelpers } from './helpers.ts';
import { type HelperFn, type KfuncFn, Machine, MAX_CALL_FRAMES } from './machine.ts';
import { namedArenaIndex } from '../program/arena.ts';
import { MapStore } from './maps.ts';
import { RuntimeFault } from './memory.ts';
import { StackArgState } from './stack-args.ts';
import { execCatching } from './throw.ts';
import { fireDueTimers } from './timer.ts';

export { MapStore, RtMap } from './maps.ts';
export { Machine, MAX_CALL_FRAMES, MAX_BPF_STACK, MAX_TAIL_CALL_CNT, BPF_MAX_LOOPS } from './machine.ts';
export type { HelperFn, KfuncFn } from './machine.ts';
export { RuntimeFault } from './memory.ts';

export interface RunEnv {
  /** The packet; default 64 zero bytes. */
  data?: Uint8Array;
  /** ctx_in: for skb types the settable __sk_buff fields, for XDP xdp_md, else the raw ctx. */
  ctx?: Uint8Array;
  /** Map state; created from program.maps (and their init entries) if absent. */
  maps?: MapStore;
  /** Programs for PROG_ARRAY tail calls (init values index this list). */
  progs?: readonly (Program | undefined)[];
  /** Seed for bpf_get_prandom_u32 (default 0). */
  seed?: number;
  /** Bound on executed instructions (default DEFAULT_MAX_INSNS). */
  maxInsns?: number;
  /** Extra or replacement helpers, by helper id. */
  helpers?: ReadonlyMap<number, HelperFn>;
  /** kfuncs by BTF id (the call's imm). Empty by default. */
  kfuncs?: ReadonlyMap<number, KfuncFn>;
  /** Registers to set at entry after r1 = ctx (e.g. r2 = memory length for bpf_conformance). */
  regs?: Readonly<Record<number, bigint>>;
  /** Stack-argument dialect (default 'none': r11/r12 instructions fault). */
  series?: Series;
}

export interface RunResult {
  ok: boolean;
  /** r0 at exit, as an unsigned 64-bit value (0 on a fault). */
  retval: bigint;
  fault?: string;
  insnsExecuted: number;
  dataOut?: Uint8Array;
  /** bpf_trace_printk output, one entry per call. */
  trace?: string[];
}

/** Default bound on executed instructions. A test run in the kernel has none: a verified
 *  program ends through its bounded loops and may_goto. The bound must let every frame
 *  spend its whole may_goto budget (MAX_CALL_FRAMES x BPF_MAX_LOOPS iterations of a few
 *  instructions each), or loops like `may_goto; goto back` fault where the kernel returns. */
export const DEFAULT_MAX_INSNS = 1 << 28;
export const DEFAULT_PACKET_SIZE = 64;

const HELPERS = defaultHelpers();

export function runProgram(prog: Program, env: RunEnv = {}): RunResult {
  const progs = env.progs ?? [];
  const maps = env.maps ?? MapStore.fromDefs(prog.maps, progs);
  // The arena a program's PROBE_MEM32 accesses reach is its own (a suite may declare several).
  const named = namedArenaIndex(prog);
  const arena = named !== undefined ? maps.ensure(prog.maps[named]).arena : undefined;
  if (arena) maps.space.fallback = arena;
  let helpers: ReadonlyMap<number, HelperFn> = HELPERS;
  if (env.helpers) helpers = new Map([...HELPERS, ...env.helpers]);
  const m = new Machine(maps, helpers, env.kfuncs ?? new Map(), env.maxInsns ?? DEFAULT_MAX_INSNS, progs);
  m.progType = prog.progType;
  m.rngState = (env.seed ?? 0) >>> 0;
  // stack args: set before load, which rewrites r11/r12 forms for the series.
  m.series = env.series ?? 'none';
  if (m.series !== 'none') m.sa = new StackArgState(m.series, MAX_CALL_FRAMES);
  try {
    const code = m.load(prog);
    const ctx = buildContext(m, prog.progType, env.data ?? new Uint8Array(DEFAULT_PACKET_SIZE), env.ctx);
    m.lo.fill(0); m.hi.fill(0);
    m.lo[1] = ctx.r1.lo; m.hi[1] = ctx.r1.hi;
    for (const [r, v] of Object.entries(env.regs ?? {})) m.setReg(Number(r), v);
    m.enterFrame();
    let retval: bigint;
    try {
      execCatching(m, code); // m.exec(code, 0, 0), ending a bpf_throw in its callback
      // The test run reports r0; timers due now fire after it (runtime/timer.ts).
      retval = m.argU64(0);
      fireDueTimers(m);
    } catch (e) {
      if (e instanceof RuntimeFault || e instanceof RangeError) {
        return { ok: false, retval: 0n, fault: e.message, insnsExecuted: m.insns, trace: m.trace, dataOut: ctx.dataOut() };
      }
      throw e;
    }
    return { ok: true, retval, insnsExecuted: m.insns, dataOut: ctx.dataOut(), trace: m.trace };
  } catch (e) {
    if (e instanceof RuntimeFault) return { ok: false, retval: 0n, fault: e.message, insnsExecuted: m.insns };
    throw e;
  } finally {
    m.release();
  }
}
