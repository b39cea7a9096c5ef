// Records test/fixtures/x86-disasm-kernel.json: JIT images of the corpus programs taken from
// the live kernel, each with the text LLVM's C API gives for it (selftests' procedure).
// Run as root: node --import tsx scripts/record-x86-disasm-oracle.ts [--check]
//   --check  only report load failures and LLVM/engine mismatches, write nothing.

import { writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { loadProgram } from '../engine/kernel/load.ts';
import { corpus } from '../test/lib/x86-disasm-corpus.ts';
import { llvmJitedText } from '../test/lib/x86-disasm-llvm.ts';

export const FIXTURE = new URL('../test/fixtures/x86-disasm-kernel.json', import.meta.url);

/** The image is not stored apart: the llvm text carries every byte (see imageOf). */
export interface JitSample {
  readonly name: string;
  readonly flags: number;
  readonly funcLens: readonly number[];
  readonly llvm: string;
}

export interface JitFixture {
  readonly kernel: string;
  readonly llvm: string;
  readonly samples: readonly JitSample[];
}

/** The JIT image back from a `__jited` text: the bytes column of every instruction line. */
export function imageOf(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^[0-9a-f]+:\t((?:[0-9a-f]{2} )+)/.exec(line);
    if (m) for (const b of m[1].trim().split(' ')) bytes.push(parseInt(b, 16));
  }
  return Uint8Array.from(bytes);
}

function main(): void {
  const check = process.argv.includes('--check');
  const samples: JitSample[] = [];
  let failed = 0;
  for (const { program, flags } of corpus()) {
    const r = loadProgram({ ...program, flags }, { logLevel: 0, flags, wantJited: true });
    if (!r.loaded || !r.jited || !r.jitedFuncLens) {
      failed++;
      const lines = r.log.trim().split('\n');
      console.error(`${program.name} flags=${flags}: not loaded (errno ${r.errno}${r.skip ? `, ${r.skip}` : ''}): ${lines.slice(-3).join(' | ')}`);
      continue;
    }
    samples.push({ name: program.name, flags, funcLens: r.jitedFuncLens, llvm: llvmJitedText(r.jited, r.jitedFuncLens) });
  }
  console.error(`${samples.length} programs jited, ${failed} not loaded`);
  if (!check) {
    const fixture: JitFixture = { kernel: release(), llvm: 'libLLVM 19 C API (LLVMCreateDisasm, PrintImmHex)', samples };
    writeFileSync(FIXTURE, `${JSON.stringify(fixture, null, 1)}\n`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
