// Stack arguments in the interpreter: how a program under the v4 (r12) or merged (r11) series
// passes arguments 6..12 to subprograms and kfuncs. The layout facts come from
// engine/program/series.ts; this file keeps the run-time state.
//
// Model: every frame owns an outgoing area of MAX_STACK_ARG_SLOTS u64 slots, indexed by depth
// d = -off/8 (d = 1 is base-8), each with an "initialized" bit. A bpf-to-bpf call copies the
// arguments the callee takes out of the caller's area, in argument order, into the callee's
// incoming list; base+8*(k+1) then reads argument 6+k. The copy is observably the same as
// reading the caller's slots in place (merged) or the caller's memory (v4), because the
// callee cannot write to its caller's area.
//
// The interpreter runs what the verifier accepted; it still faults, rather than making up a
// value, where a rule would be broken: an uninitialized slot, an r11/r12 form the series does
// not have, a v4 call whose callee's argument count is unknown.

import type { Program, Series } from '../program/types.ts';
import {
  MAX_REG_ARGS, MAX_STACK_ARG_SLOTS, SERIES, type StackArgSeries, classifyStackArgInsn, extraRegs, stackArgCount,
} from '../program/series.ts';
import type { Code } from './decode.ts';
import { RuntimeFault } from './memory.ts';

/** Opcodes no BPF instruction has, standing in for the three stack-arg forms and for a fault
 *  in a Code prepared for one series (class ALU64/JMP with op 0xf0 is undefined). */
export const OP_SA_LOAD = 0xf7;
export const OP_SA_STORE_REG = 0xff;
export const OP_SA_STORE_IMM = 0xfd;
export const OP_SA_FAULT = 0xf5;
const PRIVATE_OPS = new Set([OP_SA_LOAD, OP_SA_STORE_REG, OP_SA_STORE_IMM, OP_SA_FAULT]);

/** A Code's opcodes rewritten for one series, with the fault text of each OP_SA_FAULT slot. */
export interface StackArgCode {
  readonly op: Uint8Array;
  readonly faults: ReadonlyMap<number, string>;
}

/** Rewrite the stack-arg instructions of `code` for `series`; undefined when the code names no
 *  register above r10 and no private opcode (the common case: nothing changes). */
export function prepareStackArgCode(code: Code, series: Series): StackArgCode | undefined {
  let op: Uint8Array | undefined;
  const faults = new Map<number, string>();
  const mark = (pc: number, v: number, fault?: string): void => {
    op ??= code.op.slice();
    op[pc] = v;
    if (fault !== undefined) faults.set(pc, fault);
  };
  for (let pc = 0; pc < code.len; pc++) {
    const c = code.op[pc];
    if (c === 0x18) { pc++; if (code.dst[pc - 1] > 10) mark(pc - 1, OP_SA_FAULT, `R${code.dst[pc - 1]} is invalid`); continue; }
    if (PRIVATE_OPS.has(c)) { mark(pc, OP_SA_FAULT, `invalid opcode 0x${c.toString(16)}`); continue; }
    const insn = { code: c, dst: code.dst[pc], src: code.src[pc], off: code.off[pc], imm: code.imm[pc] };
    if (extraRegs(insn).length === 0) continue;
    const form = classifyStackArgInsn(series, insn);
    if (!form) continue;
    if (form.kind === 'invalid') {
      const why = series === 'none' ? ' (no stack-argument series)' : ` under series ${series}`;
      mark(pc, OP_SA_FAULT, `${form.message}${why}`);
    } else if (form.kind === 'load') mark(pc, OP_SA_LOAD);
    else mark(pc, form.src === undefined ? OP_SA_STORE_IMM : OP_SA_STORE_REG);
  }
  return op ? { op, faults } : undefined;
}

/** Argument counts of the subprograms that declare their parameters, by start slot. */
export function calleeArgCounts(prog: Program): ReadonlyMap<number, number> {
  const m = new Map<number, number>();
  for (const f of prog.funcs) if (f.params) m.set(f.start, f.params.length);
  return m;
}

interface Frame {
  /** Outgoing slots by depth index d (index 0 unused). */
  readonly out: BigUint64Array;
  readonly outInit: Uint8Array;
  /** Incoming stack args: incoming[k] is argument 6+k. */
  incoming: readonly bigint[];
}

const newFrame = (): Frame => ({ out: new BigUint64Array(MAX_STACK_ARG_SLOTS + 1), outInit: new Uint8Array(MAX_STACK_ARG_SLOTS + 1), incoming: [] });

/** The stack-arg state of one run: one Frame per call depth. */
export class StackArgState {
  private readonly frames: Frame[];

  constructor(readonly series: StackArgSeries, maxFrames: number) {
    this.frames = Array.from({ length: maxFrames }, newFrame);
  }

  /** Depth index of an outgoing offset, or a fault. */
  private slot(off: number): number {
    const d = -off / 8;
    if (!Number.isInteger(d) || d < 1 || d > MAX_STACK_ARG_SLOTS) throw new RuntimeFault(`stack arg offset ${off} is outside the ${MAX_STACK_ARG_SLOTS}-slot area`);
    return d;
  }

  store(depth: number, off: number, value: bigint): void {
    const f = this.frames[depth];
    const d = this.slot(off);
    f.out[d] = BigInt.asUintN(64, value);
    f.outInit[d] = 1;
  }

  /** base+off: off > 0 reads an incoming argument; off < 0 (v4 only) reads back an
   *  outgoing slot. */
  load(depth: number, off: number): bigint {
    const f = this.frames[depth];
    if (off > 0) {
      const k = off / 8 - 1;
      if (k >= f.incoming.length) throw new RuntimeFault(`read of stack arg ${k + 6} at +${off}, but this function has ${f.incoming.length} incoming stack args`);
      return f.incoming[k];
    }
    if (!SERIES[this.series].outgoingReadable) throw new RuntimeFault(`series ${this.series} cannot read outgoing stack args`);
    const d = this.slot(off);
    if (!f.outInit[d]) throw new RuntimeFault(`read of uninitialized outgoing stack arg slot ${off}`);
    return f.out[d];
  }

  /** The stack arguments (6..nargs, in order) a call with `nargs` arguments made from frame
   *  `depth` passes. */
  gather(depth: number, nargs: number): bigint[] {
    const f = this.frames[depth];
    const n = stackArgCount(nargs);
    const args: bigint[] = [];
    for (let k = 0; k < n; k++) {
      const argNo = MAX_REG_ARGS + 1 + k;
      const d = SERIES[this.series].outgoingLayout === 'arg6-at-top' ? k + 1 : nargs - argNo + 1;
      if (!f.outInit[d]) throw new RuntimeFault(`a call with ${nargs} args: stack arg ${argNo} (r${SERIES[this.series].baseReg}-${8 * d}) is not initialized`);
      args.push(f.out[d]);
    }
    return args;
  }

  /** merged, callee arity unknown: the initialized slots from base-8 down, as args 6, 7, ... */
  leadingSlots(depth: number): bigint[] {
    const f = this.frames[depth];
    const args: bigint[] = [];
    for (let d = 1; d <= MAX_STACK_ARG_SLOTS && f.outInit[d]; d++) args.push(f.out[d]);
    return args;
  }

  hasOutgoing(depth: number): boolean {
    return this.frames[depth].outInit.some((b) => b !== 0);
  }

  /** A new frame at `depth`: no outgoing slots written, `incoming` as given. */
  enter(depth: number, incoming: readonly bigint[]): void {
    const f = this.frames[depth];
    f.outInit.fill(0);
    f.incoming = incoming;
  }

  /** After any call returns to frame `depth`: merged forgets the outgoing slots. */
  afterCall(depth: number): void {
    if (!SERIES[this.series].slotsSurviveCalls) this.frames[depth].outInit.fill(0);
  }
}

/** All arguments (1..nargs) of the kfunc call being made: r1..r5, then the stack args the
 *  series places for a call with `nargs` arguments. */
export function callArgs(m: { argU64(i: number): bigint; readonly sa?: StackArgState; readonly depth: number }, nargs: number): bigint[] {
  const args: bigint[] = [];
  for (let i = 1; i <= Math.min(nargs, MAX_REG_ARGS); i++) args.push(m.argU64(i));
  if (nargs > MAX_REG_ARGS) {
    if (!m.sa) throw new RuntimeFault(`a call with ${nargs} args needs a stack-argument series (v4 or merged)`);
    args.push(...m.sa.gather(m.depth, nargs));
  }
  return args;
}
