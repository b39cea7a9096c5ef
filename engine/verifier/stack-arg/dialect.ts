// The verifier's view of the two stack-argument series: which register is the base, how an
// argument maps to an outgoing slot, which rules apply and the text of each message. Plain
// data and small pure functions; everything else in stack-arg/ asks this file.
//
// Sources (see docs/series.md and ../shared/reference/stack-args.md):
//   v4     = the seed patch (v4 13/18) and the r12-era selftests in kernel-patches/bpf;
//   merged = bpf-next as merged on 2026-05-13 (r11, verifier.c and its selftests).

import type { Series } from '../../program/types.ts';
import { BPF_REG_PARAMS, BPF_REG_STACK_ARG_BASE } from '../../isa/opcodes.ts';
import { MAX_REG_ARGS, MAX_FUNC_ARGS, MAX_STACK_ARG_SLOTS, argName as seriesArgName, message, notInitializedMessage } from '../../program/series.ts';

export { MAX_REG_ARGS, MAX_FUNC_ARGS, MAX_STACK_ARG_SLOTS };
const SLOT = 8;

export interface Dialect {
  readonly series: 'v4' | 'merged';
  /** v4: r12 (BPF_REG_STACK_ARG_BASE); merged: r11 (BPF_REG_PARAMS). */
  readonly baseReg: number;
  /** merged: outgoing slots are NOT_INIT after every call. v4: they survive (the r11-era
   *  intermediate selftest "sequential calls reuse slots" succeeds; the seed never clears). */
  readonly slotsDieAtCalls: boolean;
  /** v4: outgoing slots read back like spill slots (r12 selftests read r12-8 after a store).
   *  merged: only incoming (positive) offsets may be loaded. */
  readonly outgoingLoads: boolean;
  /** merged: loads of incoming args must come before any r11 store or call. */
  readonly loadOrder: boolean;
  /** merged: after verification, writes beyond what calls need are an error. */
  readonly checkUnusedWrites: boolean;
  /** What a released / invalidated pointer in a slot becomes: merged NOT_INIT (the next
   *  call reports the slot uninitialised); v4 an unknown scalar (r12 selftests read it back
   *  and fail on `invalid mem access 'scalar'`). */
  readonly invalidateTo: 'not_init' | 'scalar';
  /** Depth units reported per subprogram: v4 bytes, merged slots. */
  readonly depthUnit: 'bytes' | 'slots';
}

export const V4: Dialect = {
  series: 'v4', baseReg: BPF_REG_STACK_ARG_BASE, slotsDieAtCalls: false, outgoingLoads: true, loadOrder: false,
  checkUnusedWrites: false, invalidateTo: 'scalar', depthUnit: 'bytes',
};

export const MERGED: Dialect = {
  series: 'merged', baseReg: BPF_REG_PARAMS, slotsDieAtCalls: true, outgoingLoads: false, loadOrder: true,
  checkUnusedWrites: true, invalidateTo: 'not_init', depthUnit: 'slots',
};

export function dialectOf(series: Series): Dialect | undefined {
  return series === 'v4' ? V4 : series === 'merged' ? MERGED : undefined;
}

/** Slot index of an outgoing offset (off < 0): base-8 is slot 0. */
export const outSlot = (off: number): number => -off / SLOT - 1;

/** Outgoing slot holding argument `argno` (0-based; >= 5) of a call with `nargs` args.
 *  merged: arg6 at r11-8, arg N at r11-8*(N-5). v4 (seed): reversed per callee, the last
 *  argument at r12-8 and arg6 at r12-8*(nargs-5). */
export function argSlot(d: Dialect, argno: number, nargs: number): number {
  return d.series === 'merged' ? argno - MAX_REG_ARGS : nargs - 1 - argno;
}

/** Caller's outgoing slot that an incoming load at `off` (> 0) reads, in a callee taking
 *  `nargs` arguments: r11+8 / r12+8 is arg6 in both series. */
export function incomingSlot(d: Dialect, off: number, nargs: number): number {
  const argno = MAX_REG_ARGS + off / SLOT - 1;
  return argSlot(d, argno, nargs);
}

/** Stack arguments a function with `nargs` arguments receives. */
export const inCount = (nargs: number): number => Math.max(0, nargs - MAX_REG_ARGS);

/** Depth as the series reports it, from a slot count. */
export const depthOf = (d: Dialect, slots: number): number => (d.depthUnit === 'bytes' ? slots * SLOT : slots);

/** How messages name argument `argno` (0-based): merged reg_arg_name() (`*(R11-8)` for
 *  arg6), v4 `arg#N` (engine/program/series.ts). */
export const argName = (d: Dialect, argno: number, nargs: number): string => seriesArgName(d.series, argno, nargs);

/** Message texts, from the per-series table in engine/program/series.ts (formats shared
 *  with the kernel are reproduced byte for byte there). */
export const msg = {
  writeTooFar: (d: Dialect, off: number): string => message(d.series, 'writeOffsetTooFar', off, MAX_STACK_ARG_SLOTS),
  readBad: (d: Dialect, off: number, depth: number): string => message(d.series, 'invalidRead', off, depth),
  loadOrder: (d: Dialect): string => message(d.series, 'loadOrder'),
  notInit: (d: Dialect, argno: number, nargs: number): string => notInitializedMessage(d.series, argno, nargs),
  unusedWrites: (d: Dialect, subprog: number, writes: number, need: number): string => message(d.series, 'writesUnused', subprog, writes, need),
  tooManyArgs: (d: Dialect, name: string, nargs: number): string => message(d.series, 'tooManyArgs', name, nargs, MAX_FUNC_ARGS),
  progAux: (d: Dialect, argno: number, nargs: number): string =>
    d.series === 'v4' ? message('v4', 'progAuxStackArg', argno) : message('merged', 'progAuxStackArg', argName(d, argno, nargs)),
  releaseArg: (d: Dialect, argno: number, nargs: number): string =>
    d.series === 'v4' ? message('v4', 'releaseStackArg', argno) : message('merged', 'releaseStackArg', argName(d, argno, nargs)),
  nonJited: (d: Dialect): string => message(d.series, 'nonJited'),
} as const;
