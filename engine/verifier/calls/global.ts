// Global (BTF-linkage global) subprograms, as 6.18 verifies them: a call only checks the
// arguments against the prototype, prints `Func#N ('name') is global and assumed valid.`,
// and gives r0 an unknown scalar; after the main program, every global subprogram some path
// called is verified on its own (`Validating name() func#N...`), its arguments set from the
// prototype (calls/global-args.ts: scalars, the context, memory of the pointee's size,
// trusted kernel pointers). With a stack-argument series, the caller's outgoing slots are
// checked against the callee's argument count and die after the call (merged).

import type { FuncDef } from '../../program/types.ts';
import { BPF_REG_0 } from '../../isa/opcodes.ts';
import { RegType, PTR_MAYBE_NULL, PTR_TRUSTED, MEM_RCU, MEM_RDONLY, MEM_RINGBUF, mayBeNull } from '../state/types.ts';
import type { RegState, VerifierState } from '../state/types.ts';
import { markNotInit, markPtr, markUnknown } from '../state/regs.ts';
import { isConst, constValue } from '../scalar-api.ts';
import { btfTypeName } from '../btf-types.ts';
import { Access } from '../checks/mem.ts';
import { checkHelperMemAccess } from '../checks/call.ts';
import { checkPtrOffReg } from '../helpers/arg-types.ts';
import { prepareGlobalArgs, type GlobalArg } from './global-args.ts';
import { regTypeStr } from '../log/state-print.ts';
import { NotImplementedError } from '../errors.ts';
import { Reject, reject, EACCES, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { stackArgRun } from '../stack-arg/facts.ts';
import { afterCall, checkOutgoingArgs } from '../stack-arg/calls.ts';
import { MAX_FUNC_ARGS, MAX_REG_ARGS } from '../stack-arg/dialect.ts';
import { subprogChangesPktData } from './pkt-effects.ts';
import { clearAllPktPointers } from '../helpers/pkt.ts';

const called = new WeakMap<VerifierEnv, Set<number>>();

function funcOf(env: VerifierEnv, subprog: number): FuncDef | undefined {
  const start = env.subprogs[subprog].start;
  return env.prog.funcs.find((f) => f.start === start);
}

export const isGlobal = (env: VerifierEnv, subprog: number): boolean => subprog > 0 && funcOf(env, subprog)?.linkage === 'global';

/** btf_prepare_func_args: the prototype's parameters, when the verifier can use them (a
 *  prototype without parameters, as the spec writes `f(void)`, has none). */
function params(env: VerifierEnv, subprog: number): readonly GlobalArg[] {
  const f = funcOf(env, subprog);
  if (!f) throw new NotImplementedError('global functions without a BTF prototype');
  const n = f.params?.length ?? 0;
  const max = stackArgRun(env) ? MAX_FUNC_ARGS : MAX_REG_ARGS;
  if (n > max) throw reject(EINVAL, `Global function ${f.name}() with ${n} > ${max} args. Buggy compiler.`);
  return prepareGlobalArgs(f, env.prog.progType, env.prog.expectedAttachType ?? '');
}

const isNullReg = (r: RegState): boolean => r.type === RegType.SCALAR_VALUE && isConst(r.s) && constValue(r.s) === 0n;

/** check_func_arg_reg_off for ARG_DONTCARE: pointers into memory may carry offsets, others
 *  must point at their start. */
function regOffDontcare(reg: RegState, regno: number): void {
  if (!OFF_OK.includes(reg.type)) checkPtrOffReg(reg, regno, false);
}

/** Types whose fixed and variable offsets any argument may carry (exact, flags included). */
const OFF_OK: readonly number[] = [
  RegType.PTR_TO_STACK, RegType.PTR_TO_PACKET, RegType.PTR_TO_PACKET_META, RegType.PTR_TO_MAP_KEY, RegType.PTR_TO_MAP_VALUE,
  RegType.PTR_TO_MEM, RegType.PTR_TO_MEM | MEM_RDONLY, RegType.PTR_TO_MEM | MEM_RINGBUF, RegType.PTR_TO_BUF,
  RegType.PTR_TO_BUF | MEM_RDONLY, RegType.PTR_TO_ARENA, RegType.SCALAR_VALUE,
];

const BTF_PTR_TYPES = [RegType.PTR_TO_BTF_ID, RegType.PTR_TO_BTF_ID | PTR_TRUSTED, RegType.PTR_TO_BTF_ID | MEM_RCU];

/** One argument against its parameter (btf_check_func_arg_match's loop body). */
function checkGlobalArg(env: VerifierEnv, a: GlobalArg, i: number): void {
  const regno = i + 1;
  const f = env.curState.frames[env.curState.curframe];
  const reg = f.regs[regno];
  switch (a.kind) {
    case 'scalar':
      if (reg.type !== RegType.SCALAR_VALUE) {
        env.log.verbose(`R${regno} is not a scalar\n`);
        throw reject(EINVAL, '');
      }
      return;
    case 'ctx':
      regOffDontcare(reg, regno);
      if (reg.type !== RegType.PTR_TO_CTX) {
        env.log.verbose(`arg#${i} expects pointer to ctx\n`);
        throw reject(EINVAL, '');
      }
      return;
    case 'mem': {
      regOffDontcare(reg, regno);
      // check_mem_reg: NULL is fine here; a maybe-NULL pointer is checked as if not NULL.
      if (!isNullReg(reg)) {
        const saved = reg.type;
        reg.type &= ~PTR_MAYBE_NULL;
        try {
          checkHelperMemAccess(env, regno, a.size, Access.READ, true, undefined, false);
          checkHelperMemAccess(env, regno, a.size, Access.WRITE, true, undefined, false);
        } catch (e) {
          if (!(e instanceof Reject)) throw e;
          if (e.text) env.log.verbose(`${e.text}\n`);
          throw reject(EINVAL, '');
        } finally {
          reg.type = saved;
        }
      }
      if (!a.nullable && mayBeNull(reg.type)) {
        env.log.verbose(`arg#${i} is expected to be non-NULL\n`);
        throw reject(EINVAL, '');
      }
      return;
    }
    case 'btf': {
      if (isNullReg(reg) && a.nullable) return;
      // check_reg_type for ARG_PTR_TO_BTF_ID (| PTR_MAYBE_NULL when nullable).
      const t = a.nullable ? reg.type & ~PTR_MAYBE_NULL : reg.type;
      if (!BTF_PTR_TYPES.includes(t)) {
        throw reject(EACCES, `R${regno} type=${regTypeStr(reg.type)} expected=${BTF_PTR_TYPES.map(regTypeStr).join(', ')}`);
      }
      if ((reg.btfId ?? 0) !== a.btfId) {
        throw reject(EACCES, `R${regno} is of type ${btfTypeName(reg.btfId ?? 0)} but ${btfTypeName(a.btfId)} is expected`);
      }
      checkPtrOffReg(reg, regno, true);
    }
  }
}

/** A call to global subprogram `subprog` from the current frame (check_func_call). */
export function checkGlobalCall(env: VerifierEnv, subprog: number): void {
  const name = funcOf(env, subprog)?.name ?? '';
  const f = env.curState.frames[env.curState.curframe];
  let ps: readonly GlobalArg[] = [];
  try {
    ps = params(env, subprog);
    for (let i = 0; i < Math.min(ps.length, MAX_REG_ARGS); i++) checkGlobalArg(env, ps[i], i);
  } catch (e) {
    if (!(e instanceof Reject)) throw e;
    if (e.text) env.log.verbose(`${e.text}\n`);
    throw reject(e.errno, `Caller passes invalid args into func#${subprog} ('${name}')`);
  }
  const run = stackArgRun(env);
  if (run) checkOutgoingArgs(env, run.d, ps.length);
  env.log.verbose(`Func#${subprog} ('${name}') is global and assumed valid.\n`);
  // The callee is not walked here, so its packet changes must show at the call (6.18).
  if (subprogChangesPktData(env, subprog)) clearAllPktPointers(env);
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

/** The entry state of a global subprogram verified on its own, from its parameters. */
export function initGlobalArgs(env: VerifierEnv, st: VerifierState, subprog: number): void {
  const name = funcOf(env, subprog)?.name ?? '';
  env.log.verbose(`Validating ${name}() func#${subprog}...\n`);
  const ps = params(env, subprog);
  const regs = st.frames[0].regs;
  for (let i = 0; i < Math.min(ps.length, MAX_REG_ARGS); i++) {
    const r = regs[i + 1];
    const a = ps[i];
    switch (a.kind) {
      case 'scalar':
        markUnknown(r);
        break;
      case 'ctx':
        markPtr(r, RegType.PTR_TO_CTX);
        break;
      case 'mem':
        markPtr(r, RegType.PTR_TO_MEM | (a.nullable ? PTR_MAYBE_NULL : 0));
        r.memSize = a.size;
        // 6.18: only a NULL-able one needs an id (for its NULL check).
        if (a.nullable) r.id = ++env.idGen;
        break;
      case 'btf':
        markPtr(r, RegType.PTR_TO_BTF_ID | PTR_TRUSTED | (a.nullable ? PTR_MAYBE_NULL : 0));
        r.btfId = a.btfId;
        r.id = ++env.idGen;
        break;
    }
  }
}

/** After a global subprogram checked out (do_check_subprogs). */
export function globalVerified(env: VerifierEnv, subprog: number): void {
  if (env.log.level1) env.log.verbose(`Func#${subprog} ('${funcOf(env, subprog)?.name ?? ''}') is safe for any args that match its prototype\n`);
}

/** check_return_code for the exit of a global subprogram verified on its own. */
export function checkGlobalReturn(env: VerifierEnv): void {
  const r0 = env.curState.frames[env.curState.curframe].regs[BPF_REG_0];
  if (r0.type !== RegType.SCALAR_VALUE) {
    throw reject(EINVAL, `At subprogram exit the register R0 is not a scalar value (${regTypeStr(r0.type)})`);
  }
}
