// The interpreter's built-in kfuncs, keyed by the synthetic BTF ids of
// engine/program/kfuncs.ts; pass them as RunEnv.kfuncs.

import { BUILTIN_KFUNCS } from '../../program/kfuncs.ts';
import type { KfuncFn } from '../machine.ts';
import { DYNPTR_KFUNCS } from './dynptr.ts';
import { STACK_ARG_KFUNCS } from './stack-arg.ts';
import { TESTMOD_KFUNCS } from './testmod.ts';
import { KERNEL_KFUNCS, missingKfunc } from './kernel.ts';
import { THROW_KFUNCS } from '../throw.ts';

/** Implementations by kfunc name. */
export const KFUNC_IMPLS: Readonly<Record<string, KfuncFn>> = { ...STACK_ARG_KFUNCS, ...DYNPTR_KFUNCS, ...TESTMOD_KFUNCS };

/** Kernel kfuncs by name: the corpus's, and bpf_throw (runtime/throw.ts). */
const KERNEL_IMPLS: Readonly<Record<string, KfuncFn>> = { ...KERNEL_KFUNCS, ...THROW_KFUNCS };

let table: ReadonlyMap<number, KfuncFn> | undefined;

/** Every declared built-in kfunc that has an implementation, by BTF id. */
export function builtinKfuncImpls(): ReadonlyMap<number, KfuncFn> {
  table ??= new Map(BUILTIN_KFUNCS.filter((k) => Object.hasOwn(KFUNC_IMPLS, k.name)).map((k) => [k.btfId, KFUNC_IMPLS[k.name]]));
  return table;
}

/** The built-in kfuncs plus the ones a program names by BTF id (a suite's `kfuncs:` ids of
 *  the running kernel): each bound by name to an implementation here, or to a fault that
 *  names it when the interpreter has none. */
export function kfuncsByName(ids: ReadonlyMap<number, string>): ReadonlyMap<number, KfuncFn> {
  if (ids.size === 0) return builtinKfuncImpls();
  const out = new Map(builtinKfuncImpls());
  for (const [id, name] of ids) {
    out.set(id, Object.hasOwn(KFUNC_IMPLS, name) ? KFUNC_IMPLS[name] : Object.hasOwn(KERNEL_IMPLS, name) ? KERNEL_IMPLS[name] : missingKfunc(name));
  }
  return out;
}
