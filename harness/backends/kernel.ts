// The 'kernel' backend: the running kernel as the oracle. It loads each program through
// engine/kernel/load.ts the way test_loader does (libbpf's log retry, the caps of the run,
// one test run on 64 zero bytes) and turns the result into a RunOutcome.
//
// Series: a request for the v4 or merged stack-argument dialect runs only on a kernel that has
// that series. One probe per series and process loads a one-store program through the
// series' base register (r12 for v4, r11 for merged); a kernel that answers `R12 is invalid`
// / `R11 is invalid` lacks it, and every such request is a `skip` (the live 6.18 kernel has
// neither). Series `none` runs as is.

import type { Backend, RetvalOutcome, RunOutcome, RunRequest } from '../backend.ts';
import { loadProgram, type LoadResult } from '../../engine/kernel/load.ts';
import { errnoName } from '../../engine/kernel/errno.ts';
import { decode } from '../../engine/isa/decode.ts';
import { printXlatedInsn } from '../../engine/isa/disasm.ts';
import { formatJited } from '../../engine/jit/x86-disasm.ts';
import type { Program, Series } from '../../engine/program/types.ts';
import { SERIES } from '../../engine/program/series.ts';

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
  // BPF streams (bpf_prog_stream_read) postdate the series we record against: not read yet.
  if (req.wantStreams) out.unsupported = '__stderr/__stdout checks are not implemented';
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

/** The probe: `*(u64 *)(rB - 8) = 1; r0 = 0; exit` with B the series' base register. */
export function seriesProbe(series: Exclude<Series, 'none'>): Program {
  const base = SERIES[series].baseReg;
  return {
    name: `probe_${series}`,
    progType: 'SCHED_CLS',
    insns: [
      { code: 0x7a, dst: base, src: 0, off: -8, imm: 1 },
      { code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 },
      { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ],
    maps: [],
    funcs: [{ start: 0, name: `probe_${series}`, linkage: 'global' }],
    license: 'GPL',
    flags: 0,
  };
}

/** Whether a probe's verifier log shows a kernel without the series. */
export function probeSaysMissing(series: Exclude<Series, 'none'>, log: string): boolean {
  return log.includes(`R${SERIES[series].baseReg} is invalid`);
}

/** A probe's answer: the series is there, or the reason it cannot be used. */
const seriesSupport = new Map<Series, true | string>();

/** Probe once per series and process: true, or the skip reason. `load` is replaceable for tests. */
export function kernelSeriesSupport(
  series: Exclude<Series, 'none'>,
  load: (p: Program) => Pick<LoadResult, 'log' | 'skip'> = (p) => loadProgram(p, { logLevel: 1, flags: 0 }),
): true | string {
  let has = seriesSupport.get(series);
  if (has === undefined) {
    const r = load(seriesProbe(series));
    if (r.skip) return `cannot probe the ${series} stack-argument series: ${r.skip}`; // not cached
    has = probeSaysMissing(series, r.log) ? `kernel lacks the ${series} stack-argument series` : true;
    seriesSupport.set(series, has);
  }
  return has;
}

export function createKernelBackend(): Backend {
  return {
    name: 'kernel',
    run: async (req) => {
      const support = req.series === 'none' ? true : kernelSeriesSupport(req.series);
      if (support !== true) return { loaded: false, errno: 0, log: '', skip: support };
      return toOutcome(req, loadProgram(req.program, {
        logLevel: req.logLevel,
        flags: req.flags,
        unpriv: req.unpriv,
        execute: req.execute,
        wantXlated: req.wantXlated,
        wantJited: req.wantJited,
        auxiliary: req.auxiliary,
        dropSysAdmin: !req.keepSysAdmin,
        ...(req.funcInfo ? { funcInfo: true } : {}),
        ...(req.capsUnpriv ? { capsUnpriv: req.capsUnpriv } : {}),
        ...(req.linearSize !== undefined ? { linearSize: req.linearSize } : {}),
      }));
    },
  };
}
