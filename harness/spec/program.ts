// Turning a test's program source into a `Program`: assemble `asm` text with the suite's
// bindings (maps, helpers, kfuncs, subprograms, the test's `imm`), link the shared subprograms
// in libbpf order, or decode stored `insns`.

import * as asmModule from '../../engine/isa/asm/index.ts';
import type { AssembleOptions, Binding } from '../../engine/isa/asm/index.ts';
import { decodeHex } from '../../engine/isa/decode.ts';
import { HELPER_NAMES } from '../../engine/isa/helpers.ts';
import { slotOffsets, type Insn } from '../../engine/isa/insn.ts';
import { InputError } from '../../engine/errors.ts';
import type { FuncDef } from '../../engine/program/types.ts';

/** The assembler's entry points (engine/isa/asm). Looked up at run time so the loader keeps
 *  working for `insns` sources in a tree whose assembler has not landed. */
interface AsmApi {
  assembleFunction(text: string, opts?: AssembleOptions): unknown;
  linkProgram(main: unknown, library: ReadonlyMap<string, unknown>): { insns: Insn[]; funcs: { name: string; start: number }[] };
}

function asmApi(): AsmApi | undefined {
  // The module's type surface may not list these yet; check the runtime shape instead.
  const m = asmModule as unknown as Partial<AsmApi>;
  return typeof m.assembleFunction === 'function' && typeof m.linkProgram === 'function' ? (m as AsmApi) : undefined;
}

/** Where a YAML string's text starts in the file, for mapping asm errors back. */
export interface TextOrigin {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** The start of a scalar's content: the line after `|`/`>` for block scalars (column = the
 *  block's indentation), one past the quote for quoted scalars, the scalar itself otherwise. */
export function textOrigin(source: string, file: string, offset: number | undefined, line: number, col: number): TextOrigin {
  if (offset === undefined) return { file, line, col };
  const c = source[offset];
  if (c === '"' || c === "'") return { file, line, col: col + 1 };
  if (c !== '|' && c !== '>') return { file, line, col };
  // The content starts on the next line (leading blank lines belong to it); its column is the
  // indentation of the first line with text.
  let at = source.indexOf('\n', offset);
  while (at >= 0) {
    const next = source.indexOf('\n', at + 1);
    const text = source.slice(at + 1, next < 0 ? undefined : next);
    if (text.trim() !== '') return { file, line: line + 1, col: text.length - text.trimStart().length + 1 };
    if (next < 0) break;
    at = next;
  }
  return { file, line: line + 1, col: 1 };
}

/** `%[name]` bindings every text of the suite sees: helpers by name, then kfuncs, maps and
 *  subprograms (later kinds win over helper names). */
export function suiteBindings(
  maps: readonly string[],
  kfuncs: readonly { name: string; btfId: number }[],
  subprogs: readonly string[],
): Record<string, Binding> {
  const b: Record<string, Binding> = Object.create(null) as Record<string, Binding>;
  HELPER_NAMES.forEach((name, id) => {
    if (id > 0) b[name] = { kind: 'helper', id };
  });
  for (const k of kfuncs) b[k.name] = { kind: 'kfunc', btfId: k.btfId, name: k.name };
  maps.forEach((name, index) => {
    b[name] = { kind: 'map', index };
  });
  for (const name of subprogs) b[name] = { kind: 'func', label: name };
  return b;
}

/** A subprogram assembled once per suite. */
export interface AssembledSubprog {
  readonly name: string;
  readonly fn: unknown;
  readonly linkage: 'static' | 'global';
  readonly params?: readonly { name: string; type: string }[];
  readonly ret?: string;
}

function needAsm(origin: TextOrigin, path: string): AsmApi {
  const api = asmApi();
  if (!api) {
    throw new InputError('asm sources need the assembler (engine/isa/asm), which this build does not have yet; use insns', {
      file: origin.file,
      line: origin.line,
      col: origin.col,
      path,
    });
  }
  return api;
}

/** Give an assembler error the YAML path of the text it came from. */
function withPath(e: unknown, path: string, origin: TextOrigin): never {
  if (e instanceof InputError) {
    throw new InputError(e.message, {
      file: e.loc.file ?? origin.file,
      line: e.loc.line || origin.line,
      col: e.loc.col || origin.col,
      path: e.loc.path ?? path,
    });
  }
  // Anything else from the assembler is a bug there; still report it against this input.
  throw new InputError(`assembler failed: ${(e as Error)?.message ?? String(e)}`, { ...origin, path });
}

export function assembleText(
  name: string,
  text: string,
  origin: TextOrigin,
  path: string,
  bindings: Record<string, Binding>,
  externs: readonly string[],
): unknown {
  const api = needAsm(origin, path);
  try {
    // AssembleOptions.col is added to the text's own 1-based columns: pass the offset.
    return api.assembleFunction(text, { file: origin.file, line: origin.line, col: origin.col - 1, bindings, externs, name });
  } catch (e) {
    withPath(e, path, origin);
  }
}

export interface LinkedProgram {
  readonly insns: readonly Insn[];
  readonly funcs: readonly FuncDef[];
}

/** Link a test's main function with the suite's subprograms (libbpf order: each called
 *  subprogram appended in order of first reference). */
export function linkMain(
  mainName: string,
  main: unknown,
  subprogs: ReadonlyMap<string, AssembledSubprog>,
  origin: TextOrigin,
  path: string,
  funcTags: readonly string[] = [],
): LinkedProgram {
  const api = needAsm(origin, path);
  const library = new Map<string, unknown>();
  for (const [name, s] of subprogs) library.set(name, s.fn);
  let linked: { insns: Insn[]; funcs: { name: string; start: number }[] };
  try {
    linked = api.linkProgram(main, library);
    // libbpf appends the function an `exception_callback:` tag names even though nothing
    // calls it (bpf_misc.h __exception_cb): linked on its own, then placed at the end.
    for (const tag of funcTags.filter((t) => t.startsWith('exception_callback:'))) {
      const cb = tag.slice('exception_callback:'.length);
      if (linked.funcs.some((f) => f.name === cb)) continue;
      const fn = library.get(cb);
      if (fn === undefined) throw new InputError(`func_tags: no subprogram named ${JSON.stringify(cb)}`, { ...origin, path });
      const extra = api.linkProgram(fn, library);
      const base = slotOffsets(linked.insns)[linked.insns.length];
      linked = {
        insns: [...linked.insns, ...extra.insns],
        funcs: [...linked.funcs, ...extra.funcs.map((f) => ({ name: f.name, start: f.start + base }))],
      };
    }
  } catch (e) {
    withPath(e, path, origin);
  }
  const funcs: FuncDef[] = linked.funcs.map((f, i) => {
    const sub = i === 0 ? undefined : subprogs.get(f.name);
    if (!sub) return { start: f.start, name: i === 0 ? mainName : f.name, linkage: 'global' };
    return {
      start: f.start,
      name: f.name,
      linkage: sub.linkage,
      ...(sub.params ? { params: sub.params } : {}),
      ...(sub.ret ? { ret: sub.ret } : {}),
    };
  });
  if (funcs.length === 0) funcs.push({ start: 0, name: mainName, linkage: 'global' });
  if (funcTags.length) funcs[0] = { ...funcs[0], tags: funcTags };
  return { insns: linked.insns, funcs };
}

/** Decode stored `insns` (16 hex digits per slot, memory order; 32 for a whole ld_imm64). */
export function decodeInsns(
  words: readonly string[],
  mainName: string,
  file: string,
  path: string,
  locate: (i: number) => { line: number; col: number } | undefined,
): LinkedProgram {
  const insns = decodeHex(words, { file, path, locate });
  // Subprogram boundaries of raw bytecode are found by the verifier (pseudo-call targets).
  return { insns, funcs: [{ start: 0, name: mainName, linkage: 'global' }] };
}
