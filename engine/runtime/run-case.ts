// A recorded test run as plain JSON: the program (and its auxiliary programs) as bytecode
// with maps and function boundaries, the test_run input, and the retval the live kernel
// returned. Fixtures of kernel results are written and replayed with this, so a recorded
// case carries no source text, only what the kernel was handed.

import type { FuncDef, MapDef, Program, Series } from '../program/types.ts';
import { encode } from '../isa/encode.ts';
import { decode } from '../isa/decode.ts';
import type { RunResult } from './index.ts';
import { testRun } from './test-run.ts';

export interface RunCase {
  /** `suite/test`. */
  readonly id: string;
  readonly program: Program;
  readonly auxiliary: readonly Program[];
  readonly series: Series;
  readonly linearSize?: number;
  /** Kfunc names by the BTF id the program calls them with. */
  readonly kfuncs?: ReadonlyMap<number, string>;
  /** How the kernel loaded it: BTF func_info for every function, CAP_SYS_ADMIN kept. */
  readonly funcInfo?: boolean;
  readonly keepSysAdmin?: boolean;
  /** What the test expects: a value (low 32 bits, signed), or 'pointer' (only "it ran"). */
  readonly expected: number | 'pointer';
  /** The kernel's retval (low 32 bits, signed) of its test run; absent for 'pointer' (an
   *  address differs from run to run). */
  readonly kernel?: number;
}

/** JSON form of a Program: insns as base64 bytecode; other bytes as hex; bigints as strings. */
interface ProgramJson {
  readonly name: string;
  readonly progType: string;
  readonly expectedAttachType?: string;
  readonly attachTo?: string;
  readonly code: string;
  readonly maps: unknown;
  readonly funcs: readonly FuncDef[];
  readonly license: string;
  readonly flags: number;
  readonly rawMapFds?: readonly number[];
}

export interface RunCaseJson {
  readonly id: string;
  readonly program: ProgramJson;
  readonly auxiliary: readonly ProgramJson[];
  readonly series: Series;
  readonly linearSize?: number;
  readonly kfuncs?: Readonly<Record<string, string>>;
  readonly funcInfo?: boolean;
  readonly keepSysAdmin?: boolean;
  readonly expected: number | 'pointer';
  readonly kernel?: number;
}

const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/** Uint8Array and bigint leaves become tagged objects; everything else is JSON already. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return { $hex: toHex(v) };
  if (typeof v === 'bigint') return { $big: v.toString() };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

function unplain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unplain);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$hex === 'string') return fromHex(o.$hex);
    if (typeof o.$big === 'string') return BigInt(o.$big);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unplain(x)]));
  }
  return v;
}

export function programToJson(p: Program): ProgramJson {
  return {
    name: p.name, progType: p.progType,
    ...(p.expectedAttachType ? { expectedAttachType: p.expectedAttachType } : {}),
    ...(p.attachTo ? { attachTo: p.attachTo } : {}),
    code: Buffer.from(encode(p.insns)).toString('base64'),
    maps: plain(p.maps),
    funcs: p.funcs.map((f) => plain(f) as FuncDef),
    license: p.license, flags: p.flags,
    ...(p.rawMapFds?.length ? { rawMapFds: p.rawMapFds } : {}),
  };
}

export function programFromJson(j: ProgramJson): Program {
  return {
    name: j.name, progType: j.progType as Program['progType'],
    ...(j.expectedAttachType ? { expectedAttachType: j.expectedAttachType } : {}),
    ...(j.attachTo ? { attachTo: j.attachTo } : {}),
    insns: decode(Uint8Array.from(Buffer.from(j.code, 'base64'))),
    maps: unplain(j.maps) as MapDef[],
    funcs: j.funcs,
    license: j.license, flags: j.flags,
    ...(j.rawMapFds ? { rawMapFds: j.rawMapFds } : {}),
  };
}

export function runCaseToJson(c: RunCase): RunCaseJson {
  return {
    id: c.id, program: programToJson(c.program), auxiliary: c.auxiliary.map(programToJson), series: c.series,
    ...(c.linearSize !== undefined ? { linearSize: c.linearSize } : {}),
    ...(c.kfuncs?.size ? { kfuncs: Object.fromEntries([...c.kfuncs].sort((a, b) => a[0] - b[0])) } : {}),
    ...(c.funcInfo ? { funcInfo: true } : {}),
    ...(c.keepSysAdmin ? { keepSysAdmin: true } : {}),
    expected: c.expected,
    ...(c.kernel !== undefined ? { kernel: c.kernel } : {}),
  };
}

export function runCaseFromJson(j: RunCaseJson): RunCase {
  return {
    id: j.id, program: programFromJson(j.program), auxiliary: j.auxiliary.map(programFromJson), series: j.series,
    ...(j.linearSize !== undefined ? { linearSize: j.linearSize } : {}),
    ...(j.kfuncs ? { kfuncs: new Map(Object.entries(j.kfuncs).map(([id, n]) => [Number(id), n])) } : {}),
    ...(j.funcInfo ? { funcInfo: true } : {}),
    ...(j.keepSysAdmin ? { keepSysAdmin: true } : {}),
    expected: j.expected,
    ...(j.kernel !== undefined ? { kernel: j.kernel } : {}),
  };
}

/** Run a case in the interpreter with the input the kernel's test run gave it. */
export function runCaseInInterpreter(c: RunCase): RunResult {
  return testRun(c.program, {
    auxiliary: c.auxiliary, series: c.series,
    ...(c.linearSize !== undefined ? { linearSize: c.linearSize } : {}),
    ...(c.kfuncs ? { kfuncs: c.kfuncs } : {}),
  });
}

export type Verdict = 'agree' | 'disagree' | 'interp-fault' | 'interp-limit';

/** An interpreter run against the kernel's retval, compared as test_loader compares: the low
 *  32 bits as an int; a POINTER_VALUE test only needs the run to succeed. */
export function judgeCase(c: Pick<RunCase, 'expected' | 'kernel'>, r: Pick<RunResult, 'ok' | 'retval' | 'fault'>): { verdict: Verdict; got?: number } {
  if (!r.ok) return { verdict: /instruction limit/.test(r.fault ?? '') ? 'interp-limit' : 'interp-fault' };
  const got = Number(BigInt.asIntN(32, r.retval));
  if (c.expected === 'pointer') return { verdict: 'agree', got };
  return { verdict: got === c.kernel ? 'agree' : 'disagree', got };
}

/** A recorded set of cases (scripts/retval-parity.ts --record). */
export interface RunCaseFixture {
  /** `uname -r` of the kernel that ran them: its vmlinux BTF ids are in the programs. */
  readonly kernelRelease: string;
  readonly counts: {
    readonly withRetval: number; readonly skipped: number; readonly notLoaded: number;
    readonly runFailed: number; readonly kernelRan: number; readonly kernelPasses: number;
  };
  readonly cases: readonly RunCase[];
}

export function parseRunCaseFixture(text: string): RunCaseFixture {
  const j = JSON.parse(text) as Omit<RunCaseFixture, 'cases'> & { cases: readonly RunCaseJson[] };
  return { ...j, cases: j.cases.map(runCaseFromJson) };
}

/** Whether a case's programs use may_goto: their runs spend whole per-frame budgets (8M
 *  iterations each), which makes them the slow ones. */
export function usesMayGoto(c: RunCase): boolean {
  return [c.program, ...c.auxiliary].some((p) => p.insns.some((i) => i.code === 0xe5));
}
