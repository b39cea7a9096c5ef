// The 'kernel' backend: the running kernel as the oracle. It loads each program through
// engine/kernel/load.ts the way test_loader does (libbpf's log retry, the caps of the run,
// one test run on 64 zero bytes) and turns the result into a RunOutcome.
//
// Series: a request for the v4 or merged stack-argument dialect is loaded as is. A kernel
// without that series answers `R11 is invalid` / `R12 is invalid` (EINVAL), which is a
// verdict like any other; the harness decides what it means for the test.

import type { Backend, RetvalOutcome, RunOutcome, RunRequest } from '../backend.ts';
import { loadProgram, type LoadResult } from '../../engine/kernel/load.ts';
import { errnoName } from '../../engine/kernel/errno.ts';
import { decode } from '../../engine/isa/decode.ts';
import { printXlatedInsn } from '../../engine/isa/disasm.ts';
import { formatJited } from '../../engine/jit/x86-disasm.ts';

/** `N: text` per instruction, N counted in 8-byte slots, as test_loader prints xlated code.
 *  Map references show the map id the kernel's dump put in imm (test_loader prints it raw). */
export function xlatedText(xlated: Uint8Array): string {
  let slot = 0;
  let out = '';
  for (const insn of decode(xlated)) {
    out += `${slot}: ${printXlatedInsn(insn)}\n`;
    slot += insn.next ? 2 : 1;
  }
  return out;
}

export function toOutcome(req: RunRequest, r: LoadResult): RunOutcome {
  const out: { -readonly [K in keyof RunOutcome]: RunOutcome[K] } = { loaded: r.loaded, errno: r.errno, log: r.log };
  if (r.skip) out.skip = r.skip;
  if (!r.loaded) return out;
  if (req.wantXlated && r.xlated) out.xlated = xlatedText(r.xlated);
  // The selftests' LLVM AT&T text, per function (x86-64 images only: this is an x86 host
  // whenever the kernel backend runs here; other arches have no disassembler yet).
  if (req.wantJited && r.jited && r.jitedFuncLens) {
    if (process.arch !== 'x64') out.unsupported = `no JIT disassembler for ${process.arch}`;
    else out.jited = formatJited(r.jited, r.jitedFuncLens);
  }
  if (req.execute && r.run) out.retval = retvalOutcome(r.run);
  return out;
}

function retvalOutcome(run: NonNullable<LoadResult['run']>): RetvalOutcome {
  if (run.errno) return { ok: false, reason: `BPF_PROG_TEST_RUN failed: ${errnoName(run.errno)} (${run.errno})` };
  return { ok: true, value: run.retval };
}

export function createKernelBackend(): Backend {
  return {
    name: 'kernel',
    run: async (req) =>
      toOutcome(req, loadProgram(req.program, {
        logLevel: req.logLevel,
        flags: req.flags,
        unpriv: req.unpriv,
        execute: req.execute,
        wantXlated: req.wantXlated,
        wantJited: req.wantJited,
        auxiliary: req.auxiliary,
      })),
  };
}
