// Shared helpers for the stack-argument verifier tests: assemble a main function plus static
// subprograms (with BTF-style parameter lists) and verify under a series.

import { assembleFunction, linkProgram, type AsmFunction, type Binding } from '../../engine/isa/asm/index.ts';
import { HELPER_NAMES } from '../../engine/isa/helpers.ts';
import { BUILTIN_KFUNCS } from '../../engine/program/kfuncs.ts';
import type { MapDef, Program, Series } from '../../engine/program/types.ts';
import { verify, type VerifyResult } from '../../engine/verifier/index.ts';

export interface Sub {
  readonly name: string;
  readonly nargs: number;
  readonly asm: string;
}

const bindings: Record<string, Binding> = {};
HELPER_NAMES.forEach((name, id) => {
  if (id > 0) bindings[name] = { kind: 'helper', id };
});
for (const k of BUILTIN_KFUNCS) bindings[k.name] = { kind: 'kfunc', btfId: k.btfId, name: k.name };

export const HASH_8B: MapDef = { name: 'map_hash_8b', type: 'HASH', keySize: 8, valueSize: 8, maxEntries: 1, flags: 0 };

export function program(main: string, subs: readonly Sub[] = [], maps: readonly MapDef[] = [], flags = 0): Program {
  const b: Record<string, Binding> = { ...bindings };
  maps.forEach((m, index) => {
    b[m.name] = { kind: 'map', index };
  });
  const externs = subs.map((s) => s.name);
  const lib = new Map<string, AsmFunction>();
  for (const s of subs) lib.set(s.name, assembleFunction(s.asm, { bindings: b, externs, name: s.name }));
  const linked = linkProgram(assembleFunction(main, { bindings: b, externs, name: 'main' }), lib);
  const funcs = linked.funcs.map((f) => {
    const s = subs.find((x) => x.name === f.name);
    const params = s ? Array.from({ length: s.nargs }, (_, i) => ({ name: `a${i + 1}`, type: 'u64' })) : undefined;
    return { start: f.start, name: f.name, linkage: 'static' as const, ...(params ? { params } : {}) };
  });
  return { name: 'main', progType: 'SCHED_CLS', insns: linked.insns, maps, funcs, license: 'GPL', flags };
}

export function run(p: Program, series: Series, logLevel = 1): VerifyResult {
  return verify(p, { logLevel, unpriv: false, series });
}

/** The last line of a failed load's log (the error). */
export function lastLine(r: VerifyResult): string {
  const lines = r.log.trimEnd().split('\n').filter((l) => !l.startsWith('processed ') && !l.startsWith('verification time') && !l.startsWith('stack depth'));
  return lines[lines.length - 1] ?? '';
}

/** r1..r5 = 1..5 */
export const REGS5 = 'r1 = 1; r2 = 2; r3 = 3; r4 = 4; r5 = 5;';
