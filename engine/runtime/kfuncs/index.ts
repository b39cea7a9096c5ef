// The interpreter's built-in kfuncs, keyed by the synthetic BTF ids of
// engine/program/kfuncs.ts; pass them as RunEnv.kfuncs.

import { BUILTIN_KFUNCS } from '../../program/kfuncs.ts';
import type { KfuncFn } from '../machine.ts';
import { DYNPTR_KFUNCS } from './dynptr.ts';
import { STACK_ARG_KFUNCS } from './stack-arg.ts';
import { TESTMOD_KFUNCS } from './testmod.ts';

/** Implementations by kfunc name. */
export const KFUNC_IMPLS: Readonly<Record<string, KfuncFn>> = { ...STACK_ARG_KFUNCS, ...DYNPTR_KFUNCS, ...TESTMOD_KFUNCS };

let table: ReadonlyMap<number, KfuncFn> | undefined;

/** Every declared built-in kfunc that has an implementation, by BTF id. */
export function builtinKfuncImpls(): ReadonlyMap<number, KfuncFn> {
  table ??= new Map(BUILTIN_KFUNCS.filter((k) => Object.hasOwn(KFUNC_IMPLS, k.name)).map((k) => [k.btfId, KFUNC_IMPLS[k.name]]));
  return table;
}
