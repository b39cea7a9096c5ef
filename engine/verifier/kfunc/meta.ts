// A kernel kfunc call resolved the way fetch_kfunc_meta does it: the call's imm is a FUNC id
// in vmlinux BTF (off 0; module BTF is not modelled), whose FUNC_PROTO gives the parameters
// (names carry the argument annotations: `__sz`, `__k`, `__ign`, `__nullable`, `__iter`,
// `__str`, `__uninit`, ...); the flags and permitted program types come from table.ts.

import { typeById, funcSignature, idsByName } from '../../btf/index.ts';
import type { KfuncDecl, KfuncParamDecl } from '../../program/kfuncs.ts';
import { kernelBtf, kernelBtfOrUndefined } from '../btf-types.ts';
import { KF, kernelKfuncFacts, kfuncAllowed, type KfuncFacts } from './table.ts';
import type { ProgType } from '../../program/types.ts';

export interface KernelParam extends KfuncParamDecl {
  /** Type id in vmlinux BTF. */
  readonly typeId: number;
}

export interface KernelKfunc {
  readonly name: string;
  readonly btfId: number;
  readonly params: readonly KernelParam[];
  /** Return type id in vmlinux BTF (0 = void). */
  readonly retTypeId: number;
  readonly facts: KfuncFacts;
  /** The same kfunc in the shape of a spec's declaration (names in the log, liveness). */
  readonly decl: KfuncDecl;
}

const SUFFIXES = ['__szk', '__sz', '__k', '__ign', '__iter', '__str', '__uninit', '__prog', '__nullable', '__map', '__opt', '__refcounted_kptr', '__alloc'];

const cache = new Map<number, KernelKfunc | null>();

/** The kernel kfunc a call's imm names, when it is one this model knows; undefined
 *  otherwise (not a FUNC, not in the table, or no vmlinux BTF). */
export function kernelKfunc(imm: number): KernelKfunc | undefined {
  let k = cache.get(imm);
  if (k === undefined) {
    k = resolve(imm) ?? null;
    cache.set(imm, k);
  }
  return k ?? undefined;
}

/** The vmlinux kfunc of this name: a spec's built-in declaration of a kernel kfunc carries a
 *  synthetic id, but the checks use the kernel's own prototype. */
export function kernelKfuncByName(name: string): KernelKfunc | undefined {
  const btf = kernelBtfOrUndefined();
  const id = btf && idsByName(btf, name).find((i) => btf.types[i].kind === 'FUNC');
  return id === undefined ? undefined : kernelKfunc(id);
}

function resolve(imm: number): KernelKfunc | undefined {
  if (imm <= 0) return undefined;
  let btf;
  try {
    btf = kernelBtf();
  } catch {
    return undefined;
  }
  const f = btf.types[imm];
  if (!f || f.kind !== 'FUNC') return undefined;
  const facts = kernelKfuncFacts(f.name);
  if (!facts) return undefined;
  const proto = typeById(btf, f.type);
  if (proto.kind !== 'FUNC_PROTO') return undefined;
  const sig = funcSignature(btf, imm);
  const params: KernelParam[] = proto.params.map((p, i) => {
    const suffix = SUFFIXES.find((s) => p.name.endsWith(s) && p.name.length > s.length);
    return { name: p.name, type: sig.params[i].type, typeId: p.type, ...(suffix ? { suffix } : {}) };
  });
  const decl: KfuncDecl = { name: f.name, params, ret: sig.ret, flags: [], flagBits: facts.flags, btfId: imm, origin: 'kernel' };
  return { name: f.name, btfId: imm, params, retTypeId: proto.type, facts, decl };
}

/** The CFG pass makes an iterator's `_next` call a forced checkpoint (where loops over the
 *  iterator converge), when the program may call it at all. */
export function isIterNextCall(progType: ProgType, insn: { imm: number; off: number }): boolean {
  const k = insn.off ? undefined : kernelKfunc(insn.imm);
  return !!k && (k.facts.flags & KF.ITER_NEXT) !== 0 && kfuncAllowed(k.facts, progType);
}
