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
import { printXlatedInsn } from '../../engine/isa/disasm.ts';
import type { RunResult } from '../../engine/runtime/index.ts';
import { jitVerified } from '../../engine/jit/jited.ts';
import { JitError } from '../../engine/jit/x86_64/types.ts';
import { testRun } from '../../engine/runtime/test-run.ts';
import { NotImplementedError, verify, type VerifyOptions, type VerifyResult } from '../../engine/verifier/index.ts';

export type VerifyFn = (prog: Program, opts: VerifyOptions) => VerifyResult;

/** libbpf's load: level 0 first, one level-1 retry on failure. */
export function verifyLikeLibbpf(req: RunRequest, verifyFn: VerifyFn = verify): VerifyResult {
  const opts = { unpriv: req.unpriv, series: req.series, ...(req.funcInfo !== undefined ? { funcInfo: req.funcInfo } : {}) };
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
export function retvalOf(r: Pick<RunResult, 'ok' | 'retval' | 'fault'>): RetvalOutcome {
  return r.ok ? { ok: true, value: Number(BigInt.asIntN(32, r.retval)) } : { ok: false, reason: r.fault ?? 'the run failed' };
}

function runOnEngine(req: RunRequest, verifyFn: VerifyFn): RunOutcome {
  let res: VerifyResult;
  try {
    res = verifyLikeLibbpf(req, verifyFn);
  } catch (err) {
    // The stub says 'verifier not implemented'; a partial model names the missing piece.
    if (err instanceof NotImplementedError) return { loaded: false, errno: 0, log: '', unsupported: err.message };
    throw err;
  }
  const out: { -readonly [K in keyof RunOutcome]: RunOutcome[K] } = { loaded: res.accepted, errno: res.errno, log: res.log };
  if (!res.accepted) return out;

  out.stackArgDepth = Object.fromEntries(res.subprogs.map((s, i) => [`func#${i}`, { incoming: s.stackArgIn, outgoing: s.stackArgOut }]));

  if (req.wantXlated) {
    if (!res.xlated) return { ...out, unsupported: 'verifier did not return the xlated program' };
    out.xlated = formatXlated(res.xlated, (insn) => printXlatedInsn(insn));
  }
  if (req.wantJited) {
    // Kernel-mode image of res.xlated; until the verifier fills it, of the loaded program.
    try {
      out.jited = jitVerified(req.program, res, req.series).text;
    } catch (err) {
      if (err instanceof JitError) return { ...out, unsupported: `JIT: ${err.message}` };
      throw err;
    }
  }

  if (req.execute) {
    // What test_loader's BPF_PROG_TEST_RUN gets (see engine/runtime/test-run.ts).
    out.retval = retvalOf(testRun(req.program, {
      auxiliary: req.auxiliary, series: req.series,
      ...(req.kfuncNames ? { kfuncs: req.kfuncNames } : {}),
      ...(req.linearSize !== undefined ? { linearSize: req.linearSize } : {}),
    }));
  }
  if (req.wantStreams) return { ...out, unsupported: '__stderr/__stdout checks are not implemented' };
  return out;
}

/** `verify` is replaceable for tests; the CLI always uses engine/verifier. */
export function createEngineBackend(deps: { readonly verify?: VerifyFn } = {}): Backend {
  const verifyFn = deps.verify ?? verify;
  return { name: 'engine', run: async (req) => runOnEngine(req, verifyFn) };
}
