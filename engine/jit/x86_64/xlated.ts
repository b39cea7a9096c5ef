// Turn a post-verifier program as bpf_prog_info's xlated dump shows it back into the
// functions the kernel JIT saw.
//
// The dump is not exactly the JIT's input; what it changes (bpf_insn_prepare_dump) and how
// it is undone here:
//  - a tail call shows as `call 12` (helper bpf_tail_call): restored to BPF_JMP|BPF_TAIL_CALL;
//  - after a multi-function JIT a bpf-to-bpf call carries the relative offset in `off` and
//    the callee's subprog number in `imm`; a BPF_PSEUDO_FUNC ld_imm64 the offset in `imm`
//    and the subprog number in the second slot's imm. Both give the function boundaries;
//  - map pointers are replaced by map ids (the JIT saw 64-bit kernel addresses: movabs);
//  - PROBE_MEM / PROBE_MEM32 modes are shown as plain MEM: not recoverable from the dump.

import { decode } from '../../isa/decode.ts';
import type { Insn } from '../../isa/insn.ts';
import { insnSlots, slotOffsets } from '../../isa/insn.ts';
import { BPF_CALL, BPF_JMP, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, LD_IMM64 } from '../../isa/opcodes.ts';
import { BPF_TAIL_CALL } from './body.ts';
import { JitError, type JitFunction } from './types.ts';

const BPF_FUNC_tail_call = 12;
const CALL = BPF_JMP | BPF_CALL;

export interface XlatedInfo {
  /** Stack depth of each function (the verifier log's `stack depth A+B+..`). */
  readonly stackDepths: readonly number[];
  /** Instead: this depth for every function (e.g. 512 when no verifier ran). */
  readonly uniformStackDepth?: number;
  /** Tail calls (by index into the whole program) the verifier made direct. */
  readonly directTailCalls?: ReadonlySet<number>;
  /** Where a bpf-to-bpf call keeps its relative target: `off` in the kernel's xlated dump
   *  after a multi-function JIT (default), `imm` in a program as loaded (before the JIT). */
  readonly callOffsetIn?: 'off' | 'imm';
  /** BPF exceptions: slot where the exception callback starts (nothing calls it, so the
   *  dump alone does not show the function), and whether the main function can throw. */
  readonly exceptionCbStart?: number;
  readonly exceptionBoundary?: boolean;
}

export const isPseudoCall = (i: Insn): boolean => i.code === CALL && i.src === BPF_PSEUDO_CALL;
export const isPseudoFunc = (i: Insn): boolean => i.code === LD_IMM64 && i.src === BPF_PSEUDO_FUNC;
const isTailCallDump = (i: Insn): boolean => i.code === CALL && i.src === 0 && i.imm === BPF_FUNC_tail_call;

/** Slot where the function a call/func reference points to starts. */
function refTarget(insn: Insn, slot: number, callOffsetIn: 'off' | 'imm'): number {
  return isPseudoCall(insn) && callOffsetIn === 'off' ? slot + insn.off + 1 : slot + insn.imm + 1;
}

/** Split an xlated dump (bytes or decoded) into the JIT's per-function inputs. */
export function fromXlated(xlated: Uint8Array | readonly Insn[], info: XlatedInfo): JitFunction[] {
  const insns = xlated instanceof Uint8Array ? decode(xlated) : [...xlated];
  const slots = slotOffsets(insns);
  const where = info.callOffsetIn ?? 'off';
  const refTarget_ = (insn: Insn, slot: number): number => refTarget(insn, slot, where);
  const starts = new Set<number>([0]);
  if (info.exceptionCbStart !== undefined) starts.add(info.exceptionCbStart);
  // A single stack depth: the kernel JITed one function (jit_subprogs splits only when there
  // are several), so any reference left is to a callback removed as dead code, never run,
  // and keeps its raw offset.
  const single = info.uniformStackDepth === undefined && info.stackDepths.length === 1 && starts.size === 1;
  insns.forEach((insn, k) => {
    if (!single && (isPseudoCall(insn) || isPseudoFunc(insn))) starts.add(refTarget_(insn, slots[k]));
  });
  const startList = [...starts].sort((a, b) => a - b);
  const depths = info.uniformStackDepth !== undefined ? startList.map(() => info.uniformStackDepth!) : info.stackDepths;
  if (startList.length !== depths.length) {
    throw new JitError(`found ${startList.length} functions but ${depths.length} stack depths`);
  }
  const funcOfSlot = (slot: number): number => {
    const f = startList.indexOf(slot);
    if (f < 0) throw new JitError(`reference to slot ${slot}, which starts no function`);
    return f;
  };

  // Per function: its instructions (tail calls restored), references, direct tail calls.
  const funcs = startList.map((start, f) => {
    const end = startList[f + 1] ?? slots[insns.length];
    const body: Insn[] = [];
    const refs = new Map<number, number>();
    const direct = new Set<number>();
    let hasTailCall = false;
    const callees: number[] = [];
    insns.forEach((insn, k) => {
      if (slots[k] < start || slots[k] >= end) return;
      const local = body.length;
      if (isTailCallDump(insn)) {
        hasTailCall = true;
        if (info.directTailCalls?.has(k)) direct.add(local);
        body.push({ code: BPF_JMP | BPF_TAIL_CALL, dst: 0, src: 0, off: 0, imm: 0 });
        return;
      }
      if (!single && (isPseudoCall(insn) || isPseudoFunc(insn))) {
        const target = funcOfSlot(refTarget_(insn, slots[k]));
        refs.set(local, target);
        if (isPseudoCall(insn)) callees.push(target);
      }
      body.push(insn);
    });
    if (slots[insns.length] !== end && f === startList.length - 1 && body.length === 0) {
      throw new JitError('empty function');
    }
    return { body, refs, direct, hasTailCall, callees, stackDepth: depths[f] };
  });

  const reachable = tailCallReachable(funcs.map((f) => ({ hasTailCall: f.hasTailCall, callees: f.callees })));
  return funcs.map((f, k) => ({
    insns: f.body,
    stackDepth: f.stackDepth,
    tailCallReachable: reachable[k],
    isSubprog: k > 0,
    subprogRefs: f.refs,
    directTailCalls: f.direct,
    ...(k === 0 && info.exceptionBoundary ? { exceptionBoundary: true } : {}),
    ...(k > 0 && startList[k] === info.exceptionCbStart ? { exceptionCb: true } : {}),
  }));
}

/**
 * The verifier's tail_call_reachable, as its stack-depth walk computes it: a function that
 * tail calls is reachable; and once the walk (from main, calls in instruction order, no
 * memo) has seen a tail-calling callee, every caller frame on the stack when a function's
 * walk ends is marked too. This over-approximates on purpose, the same way the kernel does.
 */
export function tailCallReachable(funcs: readonly { hasTailCall: boolean; callees: readonly number[] }[]): boolean[] {
  const marked = funcs.map((f) => f.hasTailCall);
  let seen = false;
  const chain: number[] = [];
  const walk = (idx: number): void => {
    if (chain.length > 8) return; // MAX_CALL_FRAMES: the verifier rejected deeper chains
    chain.push(idx);
    for (const callee of funcs[idx].callees) {
      if (funcs[callee].hasTailCall) seen = true;
      walk(callee);
    }
    chain.pop();
    if (seen) for (const caller of chain) marked[caller] = true;
  };
  walk(0);
  return marked;
}

export { insnSlots };
