// Everything one verification run knows besides the current path's state: the program as
// raw slots (the kernel indexes instructions by slot, an LD_IMM64 taking two), per-slot
// facts from the pre-passes, the log, the counters behind the `processed ...` line, the
// branch stack and the explored states used for pruning.

import type { Insn, RawSlot } from '../isa/insn.ts';
import { LD_IMM64 } from '../isa/opcodes.ts';
import type { Program } from '../program/types.ts';
import { PROG_FLAGS } from '../program/types.ts';
import { VerifierLog } from './log/log.ts';
import { Scratch } from './log/state-print.ts';
import type { Checkpoint, HistEntry, VerifierState } from './state/types.ts';
import type { VerifyOptions } from './index.ts';
import { Bt } from './precision/backtrack.ts';
import { StackLiveness } from './liveness/stack-live.ts';
import type { SccVisit } from './scc.ts';
import type { FixupFacts } from './fixup/facts.ts';
import { loaderCaps } from './unpriv/caps.ts';

export interface SubprogInfo {
  start: number;
  /** Deepest stack use seen, rounded as the kernel reports it. */
  stackDepth: number;
  hasTailCall: boolean;
  hasLdAbs: boolean;
  /** Number of argument registers the liveness pass assumes a call uses (r1..r5). */
  argCount: number;
}

export interface InsnAux {
  prunePoint: boolean;
  jmpPoint: boolean;
  forceCheckpoint: boolean;
  /** Visited by do_check on some path (dead-code elimination uses it). */
  seen: boolean;
  /** Registers live before the insn (bit i = ri), from the liveness pre-pass. */
  liveBefore: number;
  /** SCC number for the liveness table (0 = none). */
  scc: number;
  /** Facts the post-verification rewrites need (fixup/facts.ts records them). */
  fixup?: FixupFacts;
  /** Pointer type (with flags) the first path loaded/stored through (checks/ptr-type.ts). */
  ptrType?: number;
}

export interface StackElem {
  st: VerifierState;
  insnIdx: number;
  prevInsnIdx: number;
  logPos: number;
}


export class VerifierEnv {
  /** Raw slots: the kernel's insn array. */
  readonly slots: RawSlot[] = [];
  /** Insn per slot start (undefined on the second half of an LD_IMM64). */
  readonly insnAt: (Insn | undefined)[] = [];
  readonly aux: InsnAux[] = [];
  readonly subprogs: SubprogInfo[] = [];
  readonly log: VerifierLog;
  readonly scratch = new Scratch();
  readonly bpfCapable: boolean;
  readonly allowPtrLeaks: boolean;
  /** Root may read stack bytes never written (allow_uninit_stack). */
  readonly allowUninitStack: boolean;
  /** Spectre v1 / v4 defences are off (CAP_PERFMON, or mitigations=off). */
  readonly bypassSpecV1: boolean;
  readonly bypassSpecV4: boolean;
  /** BPF_F_STRICT_ALIGNMENT without BPF_F_ANY_ALIGNMENT (x86-64 is otherwise lenient). */
  readonly strictAlignment: boolean;
  /** BPF_F_TEST_STATE_FREQ: a checkpoint at every jump and jump target. */
  readonly testStateFreq: boolean;

  insnIdx = 0;
  prevInsnIdx = -1;
  insnProcessed = 0;
  prevInsnProcessed = 0;
  jmpsProcessed = 0;
  prevJmpsProcessed = 0;
  totalStates = 0;
  peakStates = 0;
  maxStatesPerInsn = 0;
  idGen = 0;
  curState!: VerifierState;
  readonly stack: StackElem[] = [];
  readonly explored = new Map<number, Checkpoint[]>();
  /** Checkpoints in the explored lists (explored_states_size). */
  exploredStates = 0;
  /** Evicted checkpoints not freed yet because paths below them are unfinished. */
  freeListSize = 0;
  /** Loop back-edges waiting for their SCC to be left. */
  numBackedges = 0;
  /** Backtracking masks (env->bt), shared by every precision walk. */
  readonly bt = new Bt();
  /** History entry of the insn being checked, if one was pushed (merges later pushes). */
  curHistEnt: HistEntry | undefined;
  readonly stackLive: StackLiveness;
  /** Loop (SCC) visits by call chain key. */
  readonly sccVisits = new Map<string, SccVisit>();

  constructor(
    readonly prog: Program,
    readonly opts: VerifyOptions,
  ) {
    this.log = new VerifierLog(opts.logLevel);
    this.stackLive = new StackLiveness(this);
    const caps = loaderCaps(opts);
    this.bpfCapable = caps.bpf;
    this.allowPtrLeaks = caps.perfmon;
    this.allowUninitStack = caps.perfmon;
    this.bypassSpecV1 = caps.perfmon;
    this.bypassSpecV4 = caps.perfmon;
    this.strictAlignment = (prog.flags & PROG_FLAGS.BPF_F_STRICT_ALIGNMENT) !== 0 && (prog.flags & PROG_FLAGS.BPF_F_ANY_ALIGNMENT) === 0;
    this.testStateFreq = (prog.flags & PROG_FLAGS.BPF_F_TEST_STATE_FREQ) !== 0;
    for (const insn of prog.insns) {
      this.insnAt.push(insn);
      this.slots.push(insn);
      if (insn.code === LD_IMM64 && insn.next) {
        this.insnAt.push(undefined);
        this.slots.push(insn.next);
      }
    }
    for (let i = 0; i < this.slots.length; i++) {
      this.aux.push({ prunePoint: false, jmpPoint: false, forceCheckpoint: false, seen: false, liveBefore: 0, scc: 0 });
    }
  }

  get insnCnt(): number {
    return this.slots.length;
  }

  /** The decoded insn at slot `i` (an LD_IMM64 missing its second half stays as given). */
  insn(i: number): Insn {
    return this.insnAt[i] ?? this.slots[i];
  }

  /** Index of the subprog that holds slot `i`. */
  subprogOf(i: number): number {
    let lo = 0;
    let hi = this.subprogs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.subprogs[mid].start <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
