// The 'engine' backend: our verifier (and interpreter) behind the same contract as the live
// kernel, loading the way libbpf does for test_loader:
//   - log level 0: load without a log; only when that fails, verify again at level 1 and
//     return that log (libbpf's retry_load), so `__failure __msg` sees a level-1 log and a
//     successful level-0 load has an empty log;
//   - a verifier that is not implemented yet is `unsupported`, which the harness counts as a
//     failure: no test can pass without a real verdict.
// Execution compares the low 32 bits of r0 as a signed int, as BPF_PROG_TEST_RUN reports it.

import type { Backend, RetvalOutcome, RunOutcome, RunRequest } from '../backend.ts';
import type { Program } from '../../engine/program/types.ts';
import type { Insns } from '../../engine/isa/insn.ts';
import { NotImplementedError, verify, type VerifyOptions, type VerifyResult } from '../../engine/verifier/index.ts';

export type VerifyFn = (prog: Program, opts: VerifyOptions) => VerifyResult;

/** The part of engine/runtime this backend uses (imported lazily: it may not exist yet). */
interface RuntimeModule {
  runProgram(prog: Program, env?: { readonly progs?: readonly (Program | undefined)[] }): { ok: boolean; retval: bigint; fault?: string };
}

/** The part of engine/isa/disasm.ts used to print xlated text (imported lazily as well). */
interface DisasmModule {
  printXlatedInsn?: (insn: Insns[number], ...rest: never[]) => string;
}

async function optionalImport<T>(relative: string): Promise<T | undefined> {
  try {
    return (await import(new URL(relative, import.meta.url).href)) as T;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

/** libbpf's load: level 0 first, one level-1 retry on failure. */
export function verifyLikeLibbpf(req: RunRequest, verifyFn: VerifyFn = verify): VerifyResult {
  const opts = { unpriv: req.unpriv, series: req.series };
  const first = verifyFn(req.program, { ...opts, logLevel: req.logLevel });
  if (first.accepted || req.logLevel !== 0) return req.logLevel === 0 ? { ...first, log: '' } : first;
  return verifyFn(req.program, { ...opts, logLevel: 1 });
}

/** `N: text` lines, N counted in 8-byte slots, as test_loader prints xlated programs. */
export function formatXlated(insns: Insns, print: (insn: Insns[number]) => string): string {
  let slot = 0;
  let out = '';
  for (const insn of insns) {
    out += `${slot}: ${print(insn)}\n`;
    slot += insn.next ? 2 : 1;
  }
  return out;
}

/** The kernel's retval is the low 32 bits of r0 read as an int. */
export function retvalOf(r: { ok: boolean; retval: bigint; fault?: string }): RetvalOutcome {
  return r.ok ? { ok: true, value: Number(BigInt.asIntN(32, r.retval)) } : { ok: false, reason: r.fault ?? 'the run failed' };
}

async function runOnEngine(req: RunRequest, verifyFn: VerifyFn): Promise<RunOutcome> {
  let res: VerifyResult;
  try {
    res = verifyLikeLibbpf(req, verifyFn);
  } catch (err) {
    if (err instanceof NotImplementedError) return { loaded: false, errno: 0, log: '', unsupported: 'verifier not implemented' };
    throw err;
  }
  const out: { -readonly [K in keyof RunOutcome]: RunOutcome[K] } = { loaded: res.accepted, errno: res.errno, log: res.log };
  if (!res.accepted) return out;

  out.stackArgDepth = Object.fromEntries(res.subprogs.map((s, i) => [`func#${i}`, { incoming: s.stackArgIn, outgoing: s.stackArgOut }]));

  if (req.wantXlated) {
    const disasm = await optionalImport<DisasmModule>('../../engine/isa/disasm.ts');
    if (!disasm?.printXlatedInsn) return { ...out, unsupported: 'xlated printer (engine/isa/disasm.ts printXlatedInsn) not implemented' };
    if (!res.xlated) return { ...out, unsupported: 'verifier did not return the xlated program' };
    const print = disasm.printXlatedInsn;
    out.xlated = formatXlated(res.xlated, (insn) => print(insn));
  }
  // TODO(JIT issue): the engine has no x86-64 JIT yet.
  if (req.wantJited) return { ...out, unsupported: 'JIT not implemented' };

  if (req.execute) {
    const runtime = await optionalImport<RuntimeModule>('../../engine/runtime/index.ts');
    if (!runtime) return { ...out, unsupported: 'interpreter (engine/runtime) not implemented' };
    out.retval = retvalOf(runtime.runProgram(req.program, { progs: req.auxiliary }));
  }
  return out;
}

/** `verify` is replaceable for tests; the CLI always uses engine/verifier. */
export function createEngineBackend(deps: { readonly verify?: VerifyFn } = {}): Backend {
  const verifyFn = deps.verify ?? verify;
  return { name: 'engine', run: (req) => runOnEngine(req, verifyFn) };
}
