// The `jited` text the engine backend reports: our kernel-mode x86-64 image of the program
// the verifier accepted, disassembled into the selftests' LLVM AT&T text (x86-disasm.ts).

import type { Insns } from '../isa/insn.ts';
import type { Program, Series } from '../program/types.ts';
import { formatJited } from './x86-disasm.ts';
import { fromXlated } from './x86_64/xlated.ts';
import { jitProgram } from './x86_64/compile.ts';
import type { JitImage } from './x86_64/types.ts';
import { withStackArgs } from './x86_64/stack-args.ts';
import { withPrivateStack } from './x86_64/private-stack.ts';
import { withArena } from './x86_64/recover.ts';

export interface VerifiedFacts {
  /** The verifier's post-rewrite program, when it produced one. */
  readonly xlated?: Insns;
  /** With `xlated`, when the JIT's input differs from the dump (arena PROBE_MEM32 accesses). */
  readonly jitInsns?: Insns;
  /** The verifier found the program's arena (it may name it only by a direct value, which
   *  the xlated form shows as a plain address). */
  readonly hasArena?: boolean;
  readonly subprogs: readonly { readonly stackDepth: number; readonly argCount?: number }[];
  /** With `xlated`: its functions' stack depths after the rewrites (VerifyResult). */
  readonly xlatedStackDepths?: readonly number[];
  /** BPF exceptions (VerifyResult.exception / exceptionCbStart). */
  readonly exception?: { readonly seen: boolean; readonly hidden: boolean };
  readonly exceptionCbStart?: number;
}

export interface Jited {
  readonly image: JitImage;
  readonly text: string;
  /** What was JITed: the verifier's xlated program, or (while the verifier does not fill
   *  `xlated`) the program as loaded, without the verifier's rewrites. */
  readonly input: 'xlated' | 'original';
}

/** JIT an accepted program in kernel mode; throws JitError when it cannot be translated. */
export function jitVerified(prog: Program, v: VerifiedFacts, series: Series = 'none'): Jited {
  const input = v.xlated ? 'xlated' : 'original';
  const plain = fromXlated(v.jitInsns ?? v.xlated ?? prog.insns, {
    stackDepths: (v.xlated && v.xlatedStackDepths) || v.subprogs.map((s) => s.stackDepth),
    // The verifier's xlated program is in the kernel's dump form (call target in `off`).
    callOffsetIn: v.xlated ? 'off' : 'imm',
    ...(v.exceptionCbStart !== undefined ? { exceptionCbStart: v.exceptionCbStart } : {}),
    ...(v.exception?.seen ? { exceptionBoundary: true } : {}),
  });
  // Facts of the load the dump form lacks: the arena map (the verifier's dump names map i
  // as id i + 1; the program as loaded by index) and the 6.18 private stack.
  const arenaIds = new Set(prog.maps.flatMap((m, i) => (m.type === 'ARENA' ? [v.xlated ? i + 1 : i] : [])));
  const funcs = series === 'none'
    ? withPrivateStack(v.hasArena ? plain.map((f) => ({ ...f, arena: { kernVmStart: 0n, userVmStart: 0n } })) : withArena(plain, arenaIds), prog.progType, prog.expectedAttachType)
    : withStackArgs(plain, series, v.subprogs.map((s) => s.argCount));
  const funcAddrs = funcs.map((_, k) => TEXT_BASE + BigInt(k) * FUNC_STRIDE);
  const image = jitProgram(funcs, { funcAddrs });
  // The hidden exception callback (always last) is JITed but not part of jited_prog_insns.
  const lens = v.exception?.hidden ? image.funcLens.slice(0, -1) : image.funcLens;
  const shown = pointOutside(image).subarray(0, lens.reduce((a, l) => a + l, 0));
  return { image, text: formatJited(shown, lens), input };
}

/** Where the synthetic function images sit: the kernel's module area, one per 1 MB, so a
 *  bpf-to-bpf call lands outside the caller's image as it does in the kernel. */
const TEXT_BASE = 0xffffffffc0000000n;
const FUNC_STRIDE = 0x100000n;
/** rel32 given to helper/kfunc calls and thunk jumps: 256 MB ahead, far outside any image. */
const OUTSIDE = 0x10000000;

/** Kernel-mode images leave calls to kernel symbols 0, which would make each one a branch
 *  to the next instruction (and a spurious `L<n>:` label). Point them outside the image
 *  instead, as the kernel's real addresses are. */
function pointOutside(image: JitImage): Uint8Array {
  const out = Uint8Array.from(image.code);
  const dv = new DataView(out.buffer);
  let base = 0;
  for (const f of image.funcs) {
    for (const r of f.relocs) {
      if (r.kind === 'call' || r.kind === 'return-thunk' || r.kind === 'indirect-thunk') dv.setInt32(base + r.at, OUTSIDE, true);
    }
    base += f.code.length;
  }
  return out;
}
