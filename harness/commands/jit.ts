// `bpfconform jit SPEC.yaml`: show what the 6.18 x86-64 JIT makes of the programs in a spec
// suite: hex per function, or (--disasm) the LLVM AT&T text the selftests' __jited matches.

import type { Io } from './io.ts';
import { UsageError } from './io.ts';

export const usage = `usage: bpfconform jit FILE.yaml [--test NAME] [--disasm] [--kernel] [--run]

JIT the programs of a spec suite the way the 6.18 x86-64 kernel JIT does (kernel mode:
external call/jump targets are left 0).

  --test NAME  only this test (repeatable)
  --disasm     print LLVM-style AT&T disassembly instead of hex
  --kernel     load into the live kernel (root), JIT the kernel's own post-verifier
               program and report whether our bytes equal the kernel's
  --run        also run the program natively (child process) and print r0
`;

interface Args {
  file: string;
  tests: string[];
  disasm: boolean;
  kernel: boolean;
  run: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { file: '', tests: [], disasm: false, kernel: false, run: false };
  for (let k = 0; k < argv.length; k++) {
    const s = argv[k];
    if (s === '--disasm') a.disasm = true;
    else if (s === '--kernel') a.kernel = true;
    else if (s === '--run') a.run = true;
    else if (s === '--test') {
      const v = argv[++k];
      if (v === undefined) throw new UsageError('--test needs a name');
      a.tests.push(v);
    } else if (s.startsWith('-')) throw new UsageError(`unknown option ${s}`);
    else if (a.file) throw new UsageError('one FILE only');
    else a.file = s;
  }
  if (!a.file) throw new UsageError('missing FILE');
  return a;
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(usage);
    return 0;
  }
  const args = parseArgs(argv);
  const { loadSuiteFile } = await import('../spec/load.ts');
  const { formatJited } = await import('../../engine/jit/x86-disasm.ts');
  const { jitVerified } = await import('../../engine/jit/jited.ts');
  const suite = loadSuiteFile(args.file);
  const tests = suite.tests.filter((t) => args.tests.length === 0 || args.tests.includes(t.name));
  if (tests.length === 0) throw new UsageError(`no test named ${args.tests.join(', ')} in ${args.file}`);
  let status = 0;
  const pool = args.run ? new (await import('../../engine/jit/native/pool.ts')).NativePool() : undefined;
  try {
    for (const test of tests) {
      io.stdout(`${test.name}:\n`);
      let shown: { image: import('../../engine/jit/x86_64/index.ts').JitImage; text: string };
      if (args.kernel) {
        const { loadProgram } = await import('../../engine/kernel/load.ts');
        const { replayLoad } = await import('../../engine/jit/kernel-replay.ts');
        const r = loadProgram(test.program, { logLevel: 4, flags: test.program.flags, wantXlated: true, wantJited: true });
        if (r.skip || !r.loaded || !r.xlated || !r.jited) {
          io.stdout(`  kernel: not loaded (${r.skip ?? `errno ${r.errno}`})\n`);
          status = 1;
          continue;
        }
        // As the kernel's image: its dump, depths and load facts (arena, exceptions, ...).
        const rep = replayLoad(test.program, r);
        shown = { image: rep.image, text: formatJited(rep.image.code, rep.image.funcLens) };
        const d = rep.diff;
        io.stdout(`  kernel parity: ${d.equal ? 'identical (external targets masked)' : `differs at byte ${d.firstDiff} (func ${d.func})`}\n`);
        if (!d.equal) status = 1;
      } else {
        const { verify } = await import('../../engine/verifier/index.ts');
        const series = test.series ?? 'none';
        const v = verify(test.program, { logLevel: 0, unpriv: false, series });
        if (!v.accepted) {
          io.stdout(`  rejected by the verifier (errno ${v.errno}); nothing to JIT\n`);
          continue;
        }
        // The engine backend's image: the verifier's xlated program, its stack depths and
        // the load's facts; its text is what a spec's `jited` is matched against.
        shown = jitVerified(test.program, v, series);
      }
      if (args.disasm) io.stdout(shown.text);
      else {
        shown.image.funcs.forEach((f, k) => {
          io.stdout(`  func #${k} (${f.code.length} bytes):\n`);
          const hex = Buffer.from(f.code).toString('hex').replace(/(..)/g, '$1 ').trim();
          for (let at = 0; at < hex.length; at += 48) io.stdout(`    ${hex.slice(at, at + 48)}\n`);
        });
      }
      if (pool) {
        const r = await pool.run(test.program);
        io.stdout(r.ok ? `  native r0 = ${r.retval}\n` : `  native run failed: ${r.error}\n`);
      }
    }
  } finally {
    pool?.close();
  }
  return status;
}
