// Global (BTF-linkage global) subprograms, as 6.18 verifies them: a call only checks the
// arguments against the prototype, prints `Func#N ('name') is global and assumed valid.`,
// and gives r0 an unknown scalar; after the main program, every global subprogram some path
// called is verified on its own (`Validating name() func#N...`), its arguments set from the
// prototype. Only scalar parameters are modelled (pointer parameters raise
// NotImplementedError). With a stack-argument series, the caller's outgoing slots are
// checked against the callee's argument count and die after the call (merged).

import type { FuncDef } from '../../program/types.ts';
import { BPF_REG_0 } from '../../isa/opcodes.ts';
import { RegType } from '../state/types.ts';
import type { VerifierState } from '../state/types.ts';
import { markNotInit, markUnknown } from '../state/regs.ts';
import { regTypeStr } from '../log/state-print.ts';
import { NotImplementedError } from '../errors.ts';
import { reject, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { stackArgRun } from '../stack-arg/facts.ts';
import { afterCall, checkOutgoingArgs } from '../stack-arg/calls.ts';
import { MAX_FUNC_ARGS, MAX_REG_ARGS } from '../stack-arg/dialect.ts';

const called = new WeakMap<VerifierEnv, Set<number>>();

function funcOf(env: VerifierEnv, subprog: number): FuncDef | undefined {
  const start = env.subprogs[subprog].start;
  return env.prog.funcs.find((f) => f.start === start);
}

export const isGlobal = (env: VerifierEnv, subprog: number): boolean => subprog > 0 && funcOf(env, subprog)?.linkage === 'global';

const isPointerType = (type: string): boolean => type.trim().endsWith('*');

/** btf_prepare_func_args: the prototype's parameters, when the verifier can use them. */
function params(env: VerifierEnv, subprog: number): readonly { name: string; type: string }[] {
  const f = funcOf(env, subprog);
  const ps = f?.params;
  if (!ps) throw new NotImplementedError('global functions without a BTF prototype');
  const max = stackArgRun(env) ? MAX_FUNC_ARGS : MAX_REG_ARGS;
  if (ps.length > max) throw reject(EINVAL, `Global function ${f.name}() with ${ps.length} > ${max} args. Buggy compiler.`);
  for (const p of ps) if (isPointerType(p.type) || /^(struct|union) /.test(p.type)) throw new NotImplementedError(`global function parameter of type ${p.type}`);
  return ps;
}

/** A call to global subprogram `subprog` from the current frame (check_func_call). */
export function checkGlobalCall(env: VerifierEnv, subprog: number): void {
  const name = funcOf(env, subprog)?.name ?? '';
  const ps = params(env, subprog);
  const f = env.curState.frames[env.curState.curframe];
  for (let i = 0; i < Math.min(ps.length, MAX_REG_ARGS); i++) {
    const reg = f.regs[i + 1];
    if (reg.type !== RegType.SCALAR_VALUE) {
      env.log.verbose(`R${i + 1} is not a scalar\n`);
      throw reject(EINVAL, `Caller passes invalid args into func#${subprog} ('${name}')`);
    }
  }
  const run = stackArgRun(env);
  if (run) checkOutgoingArgs(env, run.d, ps.length);
  env.log.verbose(`Func#${subprog} ('${name}') is global and assumed valid.\n`);
  let set = called.get(env);
  if (!set) called.set(env, (set = new Set()));
  set.add(subprog);
  for (let r = 1; r <= MAX_REG_ARGS; r++) {
    markNotInit(f.regs[r]);
    env.scratch.markReg(r);
  }
  markUnknown(f.regs[BPF_REG_0]);
  env.scratch.markReg(BPF_REG_0);
  afterCall(env);
}

/** Global subprograms some verified path called, in order, each verified once. */
export function calledGlobals(env: VerifierEnv): number[] {
  return [...(called.get(env) ?? [])].sort((a, b) => a - b);
}

/** The entry state of a global subprogram verified on its own: scalar arguments. */
export function initGlobalArgs(env: VerifierEnv, st: VerifierState, subprog: number): void {
  const name = funcOf(env, subprog)?.name ?? '';
  env.log.verbose(`Validating ${name}() func#${subprog}...\n`);
  const ps = params(env, subprog);
  const regs = st.frames[0].regs;
  for (let i = 0; i < Math.min(ps.length, MAX_REG_ARGS); i++) markUnknown(regs[i + 1]);
}

/** check_return_code for the exit of a global subprogram verified on its own. */
export function checkGlobalReturn(env: VerifierEnv): void {
  const r0 = env.curState.frames[env.curState.curframe].regs[BPF_REG_0];
  if (r0.type !== RegType.SCALAR_VALUE) {
    throw reject(EINVAL, `At subprogram exit the register R0 is not a scalar value (${regTypeStr(r0.type)})`);
  }
}
