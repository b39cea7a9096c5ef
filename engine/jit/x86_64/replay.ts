// JIT a program the way the live kernel JITed it, from what a load reports: the xlated
// dump, the verifier's stack depths, and the load's own facts (program type, arena map).
// Used by the parity checks (test/jit-parity.test.ts, scripts/jit-corpus-parity.ts).

import { decode } from '../../isa/decode.ts';
import type { ProgType } from '../../program/types.ts';
import { compareImages, type ImageDiff } from './compare.ts';
import { jitProgram } from './compile.ts';
import { withPrivateStack } from './private-stack.ts';
import { recoverFromImage, withArena } from './recover.ts';
import type { JitFunction, JitImage, KernelConfig } from './types.ts';
import { fromXlated } from './xlated.ts';
import { exceptionFacts, type ExceptionFacts } from './exceptions.ts';

export interface KernelJitRecord {
  readonly xlated: Uint8Array;
  /** The verifier log's `stack depth` per function. */
  readonly stackDepths: readonly number[];
  /** The kernel's image (jited_prog_insns), its function lengths and addresses. */
  readonly jited: Uint8Array;
  readonly funcLens: readonly number[];
  readonly ksyms?: readonly bigint[];
  readonly progType: ProgType;
  readonly expectedAttachType?: string;
  /** Ids (as the dump shows them) of the program's arena maps. */
  readonly arenaMapIds?: ReadonlySet<number>;
  /** The program as loaded names an arena (the kernel's prog->aux->arena), which its dump
   *  may not show: an arena direct value becomes a plain constant there. */
  readonly usesArena?: boolean;
  /** Tail calls (index into the dump) known to be direct from the program itself. */
  readonly directTailCalls?: ReadonlySet<number>;
}

export interface Replay {
  readonly funcs: readonly JitFunction[];
  readonly image: JitImage;
  readonly diff: ImageDiff;
  /** What came from the kernel's image rather than the dump (recover.ts), one line each. */
  readonly recovered: readonly string[];
  /** Facts of the load the JIT used (arena, private stacks), one line each. */
  readonly facts: readonly string[];
}

export function replayKernelJit(rec: KernelJitRecord, opts: { config?: Partial<KernelConfig>; recover?: boolean } = {}): Replay {
  // BPF exceptions (exceptions.ts): with several places the callback could start, the one
  // whose image matches the kernel's.
  const options = exceptionFacts(decode(rec.xlated), rec.stackDepths, rec.jited, rec.funcLens);
  let best: Replay | undefined;
  for (const exc of options) {
    const r = replayOnce(rec, opts, exc);
    if (r.diff.equal) return r;
    best ??= r;
  }
  return best!;
}

function replayOnce(rec: KernelJitRecord, opts: { config?: Partial<KernelConfig>; recover?: boolean }, exc: ExceptionFacts): Replay {
  const insns = decode(rec.xlated);
  let funcs = fromXlated(insns, {
    stackDepths: rec.stackDepths, directTailCalls: rec.directTailCalls,
    ...(exc.exceptionCbStart !== undefined ? { exceptionCbStart: exc.exceptionCbStart } : {}),
    ...(exc.exceptionBoundary ? { exceptionBoundary: true } : {}),
  });
  funcs = withPrivateStack(withArena(funcs, rec.arenaMapIds ?? new Set(), rec.usesArena), rec.progType, rec.expectedAttachType);
  const facts: string[] = [];
  if (funcs[0]?.arena) facts.push('arena');
  funcs.forEach((f, k) => f.privateStack && facts.push(`func ${k}: private stack`));
  if (exc.exceptionBoundary) facts.push('exception boundary');
  if (exc.exceptionCbStart !== undefined) facts.push(`exception callback at ${exc.exceptionCbStart}${exc.hidden ? ' (hidden)' : ''}`);
  // The hidden callback is JITed last but is not part of the kernel's image.
  const jit = (f: JitFunction[]): JitImage => withoutHidden(jitProgram(f, { mode: 'kernel', config: opts.config, funcAddrs: rec.ksyms }), exc.hidden);
  let recovered: string[] = [];
  if (opts.recover !== false) {
    const r = recoverFromImage(funcs, rec.jited, rec.funcLens, jit);
    funcs = r.funcs;
    recovered = r.notes;
  }
  const image = jit(funcs);
  return { funcs, image, diff: compareImages(image, rec.jited, rec.funcLens), recovered, facts };
}

function withoutHidden(img: JitImage, hidden: boolean | undefined): JitImage {
  if (!hidden) return img;
  const funcLens = img.funcLens.slice(0, -1);
  return { funcs: img.funcs.slice(0, -1), funcLens, code: img.code.subarray(0, funcLens.reduce((a, l) => a + l, 0)) };
}
