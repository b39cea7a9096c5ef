// merged: the arg-tracking pre-pass (bpf-next liveness.c, run from the register-liveness
// pass before the main walk). Per function instance, a forward fixed point over the
// subprogram's CFG in reverse post-order gives, at each instruction, which registers,
// outgoing stack-argument slots and spill slots hold frame-pointer-derived values. A call
// whose arguments (r1..r5, sa0..sa6) carry such a value is followed into the callee as a new
// instance one frame deeper, with those values as its entry state.
//
// At log level 2 it prints, per instance:
//   subprog#N: analyzing (depth D)...
//   transitions       `  5: (07) r0 += -8\tr0: fp0+0 -> fp0-8`   (every pass)
//   joins             `arg JOIN insn 8 -> 9 sa0: fp0-8 + _ => fp0-8|fp0+0`
//   the listing       `subprog#N[ name]:` then each insn, `// r1=fp0-8 ...` on memory ops/calls
//
// Not modelled (simplified): the stack use/def masks the kernel derives from these values
// (and their `stack use/def subprog#N ...` print-out), which only feed pruning; callbacks
// (bpf_loop & co.) are not followed into, they are analysed as roots of their own.
// 6.18 and v4 have no such pass.

import { BPF_CALL, BPF_JMP, BPF_LDX, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_STX, LD_IMM64, bpfClass } from '../../isa/opcodes.ts';
import type { VerifierEnv } from '../env.ts';
import { reject, E2BIG, EINVAL } from '../reject.ts';
import { insnSuccessors, subprogPostorder } from './stack-live.ts';
import { printInsn } from '../../isa/disasm.ts';
import { insnTextOpts } from '../cfg/liveness.ts';
import { hasFuncInfo } from '../calls/func-info.ts';
import {
  type ArgTrack, MAX_ARG_SPILL_SLOTS, NONE, TRACKED, TRACKED_REGS, UNVISITED, argTrackEq, fpAt, isFp, isVisited, join,
} from './arg-track.ts';
import { joinLine, listingLine, transitionLine } from './arg-track-print.ts';
import { argTrackXfer } from './arg-track-xfer.ts';

/** merged: MAX_CALL_FRAMES of the merged tree (16; 6.18 has 8). */
export const MERGED_MAX_CALL_FRAMES = 16;
/** Instances analysed before the pass gives up with E2BIG. */
export const MAX_SUBPROG_CALLS = 10000;

interface Run {
  readonly env: VerifierEnv;
  readonly postorder: readonly (readonly number[])[];
  /** Per subprog: the entry states of its last analysis (undefined: never analysed). */
  readonly atIn: ((readonly ArgTrack[])[] | undefined)[];
  /** Per call insn: the caller's spill slots on entry to the call, from its last analysis. */
  readonly callsiteStack: Map<number, readonly ArgTrack[]>;
  calls: number;
}

const subprogEnd = (env: VerifierEnv, sp: number): number => (sp + 1 < env.subprogs.length ? env.subprogs[sp + 1].start : env.insnCnt);


/** Subprograms with callees before callers (a DFS post-order of the call graph, calls and
 *  callback references in insn order, from main then any subprog not reached). Simplified:
 *  the kernel's subprog_topo_order may order unrelated siblings differently. */
export function subprogTopoOrder(env: VerifierEnv): number[] {
  const seen = new Uint8Array(env.subprogs.length);
  const order: number[] = [];
  const callees = (sp: number): number[] => {
    const out: number[] = [];
    for (let i = env.subprogs[sp].start; i < subprogEnd(env, sp); i++) {
      const s = env.slots[i];
      const isCall = s.code === (BPF_JMP | BPF_CALL) && s.src === BPF_PSEUDO_CALL;
      const isFuncRef = s.code === LD_IMM64 && s.src === BPF_PSEUDO_FUNC && env.insnAt[i] !== undefined;
      if (isCall || isFuncRef) out.push(env.subprogOf(i + s.imm + 1));
    }
    return out;
  };
  const visit = (root: number): void => {
    const stack: [number, number[]][] = [[root, callees(root)]];
    seen[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const next = top[1].shift();
      if (next === undefined) {
        order.push(top[0]);
        stack.pop();
      } else if (!seen[next]) {
        seen[next] = 1;
        stack.push([next, callees(next)]);
      }
    }
  };
  for (let sp = 0; sp < env.subprogs.length; sp++) if (!seen[sp]) visit(sp);
  return order;
}

const isGlobal = (env: VerifierEnv, sp: number): boolean =>
  env.prog.funcs.find((f) => f.start === env.subprogs[sp].start)?.linkage === 'global';

/** `subprog#1 name` (the name only with BTF func_info, as the kernel has it from there). */
function subprogLabel(env: VerifierEnv, sp: number): string {
  const name = hasFuncInfo(env) ? env.prog.funcs.find((f) => f.start === env.subprogs[sp].start)?.name : undefined;
  return `subprog#${sp}${name ? ` ${name}` : ''}`;
}

const insnText = (env: VerifierEnv, idx: number): string => printInsn(env.insn(idx), insnTextOpts(env));

/** The forward fixed point for one instance; returns the entry states per insn (relative
 *  index) and records the spill slots at each call for deeper instances. */
function computeSubprogArgs(run: Run, sp: number, depth: number, entry: readonly ArgTrack[] | undefined, callsites: readonly number[]): (readonly ArgTrack[])[] {
  const env = run.env;
  const log = env.log;
  const lvl2 = log.level2;
  const start = env.subprogs[sp].start;
  const end = subprogEnd(env, sp);
  const len = end - start;
  const order = run.postorder[sp];
  const atIn: ArgTrack[][] = Array.from({ length: len }, () => new Array<ArgTrack>(TRACKED).fill(UNVISITED));
  const stackIn: ArgTrack[][] = Array.from({ length: len }, () => new Array<ArgTrack>(MAX_ARG_SPILL_SLOTS).fill(UNVISITED));

  atIn[0].fill(NONE);
  atIn[0][10] = fpAt(depth, 0);
  if (entry) for (let r = 1; r <= 5; r++) atIn[0][r] = entry[r];
  stackIn[0].fill(NONE);
  const stackArgEntry = Array.from({ length: TRACKED - TRACKED_REGS }, (_, s) => (entry ? entry[TRACKED_REGS + s] : NONE));
  const ctx = { depth, stackArgEntry, parentStack: (f: number) => run.callsiteStack.get(callsites[f]) };

  if (lvl2) log.verbose(`subprog#${sp}: analyzing (depth ${depth})...\n`);

  // Each state entry only moves down a finite lattice, so this terminates.
  for (let changed = true; changed; ) {
    changed = false;
    for (let p = order.length - 1; p >= 0; p--) {
      const idx = order[p];
      const i = idx - start;
      if (!isVisited(atIn[i][0]) && !isVisited(atIn[i][1])) continue;
      const out = argTrackXfer(env.slots[idx], { regs: atIn[i], stack: stackIn[i] }, ctx);
      if (lvl2) log.verbose(transitionLine(idx, insnText(env, idx), atIn[i], out.regs, stackIn[i], out.stack, argTrackEq));
      for (const target of insnSuccessors(env, idx)) {
        if (target < start || target >= end) continue;
        const ti = target - start;
        for (let r = 0; r < TRACKED; r++) if (joinInto(run, idx, target, r, atIn[ti], r, out.regs[r])) changed = true;
        for (let s = 0; s < MAX_ARG_SPILL_SLOTS; s++) if (joinInto(run, idx, target, -s - 1, stackIn[ti], s, out.stack[s])) changed = true;
      }
    }
  }

  for (const idx of order) {
    const s = env.slots[idx];
    if (s.code === (BPF_JMP | BPF_CALL) && s.src === BPF_PSEUDO_CALL) run.callsiteStack.set(idx, stackIn[idx - start]);
  }
  if (lvl2) printListing(env, sp, start, len, atIn, stackIn);
  return atIn;
}

/** arg_track_join: merge `incoming` into `into[k]`; a change of an already reached value
 *  is logged at level 2. */
function joinInto(run: Run, from: number, to: number, label: number, into: ArgTrack[], k: number, incoming: ArgTrack): boolean {
  const old = into[k];
  const next = join(old, incoming);
  if (argTrackEq(next, old)) return false;
  into[k] = next;
  if (run.env.log.level2 && isVisited(old)) run.env.log.verbose(joinLine(from, to, label, old, incoming, next));
  return true;
}

function printListing(env: VerifierEnv, sp: number, start: number, len: number, atIn: readonly (readonly ArgTrack[])[], stackIn: readonly (readonly ArgTrack[])[]): void {
  env.log.verbose(`${subprogLabel(env, sp)}:\n`);
  for (let i = 0; i < len; i++) {
    const idx = start + i;
    const s = env.slots[idx];
    const cls = bpfClass(s.code);
    const memOrCall = cls === BPF_LDX || cls === BPF_STX || s.code === (BPF_JMP | BPF_CALL);
    env.log.verbose(listingLine(idx, insnText(env, idx), memOrCall, atIn[i], stackIn[i]));
    if (s.code === LD_IMM64) i++;
  }
}

const hasFpArgs = (args: readonly ArgTrack[]): boolean =>
  args.some((a, r) => (r >= 1 && r <= 5) || r >= TRACKED_REGS ? isFp(a) : false);

function analyzeSubprog(run: Run, sp: number, depth: number, entry: readonly ArgTrack[] | undefined, callsites: number[]): void {
  const env = run.env;
  if (++run.calls > MAX_SUBPROG_CALLS) throw reject(E2BIG, `liveness analysis exceeded complexity limit (${run.calls} calls)`);
  const atIn = computeSubprogArgs(run, sp, depth, entry, callsites);
  run.atIn[sp] = atIn;
  const start = env.subprogs[sp].start;
  // Callees in post-order, each with the values its call site passes.
  for (const idx of run.postorder[sp]) {
    const s = env.slots[idx];
    if (s.code !== (BPF_JMP | BPF_CALL) || s.src !== BPF_PSEUDO_CALL) continue;
    const callee = env.subprogOf(idx + s.imm + 1);
    const args = atIn[idx - start].map((a, r) => ((r >= 1 && r <= 5) || r >= TRACKED_REGS ? a : NONE));
    if (!hasFpArgs(args)) continue;
    // the kernel returns -EINVAL without a message when the chain is too deep
    if (depth === MERGED_MAX_CALL_FRAMES - 1) throw reject(EINVAL, '');
    callsites[depth] = idx;
    analyzeSubprog(run, callee, depth + 1, args, callsites);
  }
}

/** merged bpf_compute_subprog_arg_access: every subprog as a root (callers first), skipping
 *  static ones already reached through a call; globals are always analysed on their own. */
export function computeSubprogArgAccess(env: VerifierEnv): void {
  const run: Run = { env, postorder: subprogPostorder(env), atIn: [], callsiteStack: new Map(), calls: 0 };
  const topo = subprogTopoOrder(env);
  for (let k = topo.length - 1; k >= 0; k--) {
    const sp = topo[k];
    if (run.atIn[sp] && !isGlobal(env, sp)) continue;
    analyzeSubprog(run, sp, 0, undefined, []);
  }
}
