// Per-instruction facts the Spectre defences leave for the rewrites (fixup/nospec.ts):
// how a pointer ADD/SUB must be masked (alu_state / alu_limit), and where a speculation
// barrier goes (nospec before the insn, nospec_result after it; 6.18 names).

import type { VerifierEnv } from '../env.ts';

/** alu_state bits (the kernel's BPF_ALU_* sanitisation flags). */
export const ALU_SANITIZE_SRC = 1 << 0;
export const ALU_SANITIZE_DST = 1 << 1;
export const ALU_NEG_VALUE = 1 << 2;
export const ALU_NON_POINTER = 1 << 3;
export const ALU_IMMEDIATE = 1 << 4;
export const ALU_SANITIZE = ALU_SANITIZE_SRC | ALU_SANITIZE_DST;

export interface SpecAux {
  aluState: number;
  aluLimit: number;
  /** A barrier before the insn: a speculative path failed here (6.18 fallback). */
  nospec: boolean;
  /** A barrier after the insn: a Spectre v4 store (spill over a pointer or non-data). */
  nospecResult: boolean;
}

const AUX = new WeakMap<VerifierEnv, Map<number, SpecAux>>();

/** The facts of slot `idx`, created on first use. */
export function specAux(env: VerifierEnv, idx: number): SpecAux {
  let m = AUX.get(env);
  if (!m) AUX.set(env, (m = new Map()));
  let a = m.get(idx);
  if (!a) m.set(idx, (a = { aluState: 0, aluLimit: 0, nospec: false, nospecResult: false }));
  return a;
}

/** The facts of slot `idx`, if any were recorded. */
export function peekSpecAux(env: VerifierEnv, idx: number): SpecAux | undefined {
  return AUX.get(env)?.get(idx);
}

/** Limit pruning on unknown scalars (explore_alu_limits): set once a pointer moved by a
 *  variable amount, so paths with different masks are not merged. */
const EXPLORE = new WeakSet<VerifierEnv>();
export const exploreAluLimits = (env: VerifierEnv): boolean => EXPLORE.has(env);
export const setExploreAluLimits = (env: VerifierEnv): void => void EXPLORE.add(env);
