// Runs bpf_conformance test files against the reference interpreter. A test passes when
// r0 equals `-- result` (all 64 bits), or, for an `-- error` test, when the program is
// rejected (assembly/decoding) or faults at run time; the expected error text is
// implementation-specific and is reported, not compared.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError } from '../../engine/errors.ts';
import { decode } from '../../engine/isa/decode.ts';
import type { Insn } from '../../engine/isa/insn.ts';
import { MAP_TYPES, type MapDef, type MapType, type Program } from '../../engine/program/types.ts';
import { runProgram } from '../../engine/runtime/index.ts';
import { assembleConformance } from './asm.ts';
import { type ConformanceTest, parseConformance } from './format.ts';

export type ConformanceStatus = 'pass' | 'fail' | 'skip';

export interface ConformanceResult {
  readonly file: string;
  readonly name: string;
  readonly status: ConformanceStatus;
  /** Why it failed or was skipped, or the expected error text of a passing error test. */
  readonly message?: string;
  readonly expected?: bigint;
  readonly got?: bigint;
  readonly insnsExecuted?: number;
}

export interface ConformanceSummary {
  passed: number;
  failed: number;
  skipped: number;
  results: ConformanceResult[];
}

const MAP_TYPE_BY_NUMBER = new Map<number, MapType>(
  (Object.entries(MAP_TYPES) as [MapType, number][]).map(([k, v]) => [v, k]),
);

/** Raw 64-bit words (opcode in the low byte) to instructions. */
function rawToInsns(words: readonly bigint[], file: string): Insn[] {
  const bytes = new Uint8Array(words.length * 8);
  const view = new DataView(bytes.buffer);
  words.forEach((w, i) => view.setBigUint64(i * 8, w, true));
  return decode(bytes, { file });
}

/** Build the Program a test describes (throws InputError for bad asm/raw). */
export function conformanceProgram(t: ConformanceTest): Program {
  const maps: MapDef[] = t.maps.map((m) => {
    const type = MAP_TYPE_BY_NUMBER.get(m.type);
    if (!type) throw new InputError(`unknown map type ${m.type}`, { file: t.file, line: m.line, col: 1 });
    return { name: m.name, type, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, flags: 0 };
  });
  let insns: Insn[];
  let starts = [0];
  if (t.raw) insns = rawToInsns(t.raw, t.file);
  else {
    const r = assembleConformance(t.asm ?? [], t.file, t.maps.map((m) => m.name));
    insns = r.insns;
    starts = r.funcStarts;
  }
  return {
    name: basename(t.file).replace(/\.data$/, ''),
    progType: 'UNSPEC',
    insns,
    maps,
    funcs: starts.map((start, i) => ({ start, name: i === 0 ? 'main' : `func_${start}`, linkage: 'static' as const })),
    license: 'GPL',
    flags: 0,
  };
}

/** Run one parsed test. */
export function runConformanceTest(t: ConformanceTest): ConformanceResult {
  const name = basename(t.file);
  const base = { file: t.file, name };
  if ((!t.asm || t.asm.length === 0) && (!t.raw || t.raw.length === 0)) {
    return { ...base, status: 'skip', message: 'no instructions' };
  }
  if (t.result === undefined && t.error === undefined) {
    return { ...base, status: 'skip', message: 'no -- result or -- error section' };
  }
  let prog: Program;
  try {
    prog = conformanceProgram(t);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    if (t.error !== undefined) return { ...base, status: 'pass', message: `rejected: ${e.format()} (expected: ${t.error})` };
    return { ...base, status: 'fail', message: e.format() };
  }
  const mem = t.mem.length > 0 ? t.mem : undefined;
  const r = runProgram(prog, { ctx: mem, regs: { 2: BigInt(t.mem.length) } });
  if (t.error !== undefined) {
    if (!r.ok) return { ...base, status: 'pass', message: `fault: ${r.fault} (expected: ${t.error})`, insnsExecuted: r.insnsExecuted };
    return { ...base, status: 'fail', message: `expected an error (${t.error}), got r0 = 0x${r.retval.toString(16)}`, got: r.retval, insnsExecuted: r.insnsExecuted };
  }
  const expected = t.result as bigint;
  if (!r.ok) return { ...base, status: 'fail', message: `fault: ${r.fault}`, expected, insnsExecuted: r.insnsExecuted };
  if (r.retval !== expected) {
    return {
      ...base, status: 'fail', expected, got: r.retval, insnsExecuted: r.insnsExecuted,
      message: `r0 = 0x${r.retval.toString(16)}, expected 0x${expected.toString(16)}`,
    };
  }
  return { ...base, status: 'pass', expected, got: r.retval, insnsExecuted: r.insnsExecuted };
}

/** Parse and run one file; a malformed file is a failed test with its location. */
export function runConformanceFile(path: string): ConformanceResult {
  let t: ConformanceTest;
  try {
    t = parseConformance(readFileSync(path, 'utf8'), path);
  } catch (e) {
    if (e instanceof InputError) return { file: path, name: basename(path), status: 'fail', message: e.format() };
    throw e;
  }
  return runConformanceTest(t);
}

/** Every `*.data` file of `dir` (a bpf_conformance `tests/` directory), in name order. */
export function runConformanceDir(dir: string, filter?: (name: string) => boolean): ConformanceSummary {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new InputError(`no such directory: ${dir}`, { file: dir, line: 0, col: 0 });
  }
  if (!st.isDirectory()) throw new InputError(`not a directory: ${dir}`, { file: dir, line: 0, col: 0 });
  const files = readdirSync(dir).filter((f) => f.endsWith('.data') && (!filter || filter(f))).sort();
  const summary: ConformanceSummary = { passed: 0, failed: 0, skipped: 0, results: [] };
  for (const f of files) {
    const r = runConformanceFile(join(dir, f));
    summary.results.push(r);
    if (r.status === 'pass') summary.passed++;
    else if (r.status === 'fail') summary.failed++;
    else summary.skipped++;
  }
  return summary;
}
