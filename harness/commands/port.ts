// `bpfconform port`: kernel selftest sources / objects -> YAML spec suites (engine/port).
// Each written suite is loaded back with the spec loader and every test's program compared
// with the object's relocated bytecode; a test whose asm text does not reproduce it is
// written as raw insns instead (and reported).

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError } from '../../engine/errors.ts';
import { encodeHex } from '../../engine/isa/encode.ts';
import { collectInputs, portFile, type PortFileResult } from '../../engine/port/index.ts';
import type { PortedSuite } from '../../engine/port/port-object.ts';
import { DEFAULT_TOOLCHAIN } from '../../engine/port/compile.ts';
import { loadSuiteText } from '../spec/load.ts';
import { inputErrorsOf } from '../run/suites.ts';
import { UsageError, type Io } from './io.ts';

export const usage = `usage: bpfconform port <selftests dir | .c files | .o files | dir> --out DIR [options]

Compile kernel BPF selftests the way tools/testing/selftests/bpf/Makefile does (clang-19
-g -O2 --target=bpf -mcpu=v3, the tree's bpf_misc.h, a vmlinux.h of the running kernel),
read each program's test annotations from its BTF decl tags, and write one YAML suite per
source file to DIR. A kernel tree or its selftests dir means every verifier_*.c that
prog_tests/verifier.c drives, plus verifier_kfunc_prog_types.c.

options:
  --out DIR        where to write <suite>.yaml (required)
  --cache DIR      scratch dir for vmlinux.h, helper headers and objects (default .cache/port)
  --all            with a selftests dir: every progs/verifier_*.c
  --cflags FLAGS   extra clang flags (space separated), e.g. --cflags=-Wno-error
  --clang PATH     compiler (default clang-19)
  --quiet          only the summary line
  -h, --help       show this help

Exit status: 0 all ported, 1 some programs could not be ported (listed with the reason),
2 bad input (unreadable or corrupt object, a source that does not compile, bad usage).
`;

/** Names of tests whose program, as the spec loader builds it from the YAML, differs from
 *  the object's relocated bytecode. A suite that does not load at all marks every test. */
export function mismatchedTests(yaml: string, file: string, suite: PortedSuite): Set<string> {
  const bad = new Set<string>();
  let loaded;
  try {
    loaded = loadSuiteText(yaml, file);
  } catch (e) {
    if (!inputErrorsOf(e)) throw e;
    for (const t of suite.tests) bad.add(t.name);
    return bad;
  }
  for (const t of suite.tests) {
    const got = loaded.tests.find((x) => x.name === t.name);
    if (!got || encodeHex(got.program.insns).join('') !== encodeHex(t.insns).join('')) bad.add(t.name);
  }
  return bad;
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        cache: { type: 'string' },
        all: { type: 'boolean' },
        cflags: { type: 'string' },
        clang: { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const o = parsed.values;
  if (o.help) {
    io.stdout(usage);
    return 0;
  }
  if (!o.out) throw new UsageError('missing --out DIR');
  if (parsed.positionals.length === 0) throw new UsageError('missing inputs (a selftests dir, .c or .o files)');
  const inputs = collectInputs(parsed.positionals, { all: o.all === true });
  const cache = o.cache ?? '.cache/port';
  const toolchain = { ...DEFAULT_TOOLCHAIN, ...(o.clang ? { clang: o.clang } : {}) };
  const cflags = o.cflags ? o.cflags.split(/\s+/).filter(Boolean) : [];
  mkdirSync(o.out, { recursive: true });

  let tests = 0;
  let aux = 0;
  let notPorted = 0;
  let raw = 0;
  let badInputs = 0;
  let files = 0;
  for (const input of inputs) {
    let r: PortFileResult;
    try {
      r = portFile(input, { cache, toolchain, cflags, verify: mismatchedTests });
    } catch (e) {
      const errs = inputErrorsOf(e);
      if (!errs) throw e;
      badInputs++;
      for (const err of errs) io.stderr(`${err instanceof InputError ? err.format() : String(err)}\n`);
      continue;
    }
    files++;
    const path = join(o.out, `${r.suite.suite}.yaml`);
    writeFileSync(path, r.yaml);
    const nAux = r.suite.tests.filter((t) => t.auxiliary).length;
    const nTests = r.suite.tests.length - nAux;
    tests += nTests;
    aux += nAux;
    notPorted += r.suite.failures.length;
    raw += r.rawFallbacks.length;
    if (!o.quiet) {
      const extra = [
        nAux ? `${nAux} auxiliary` : '',
        r.suite.failures.length ? `${r.suite.failures.length} not ported` : '',
        r.rawFallbacks.length ? `${r.rawFallbacks.length} as raw insns` : '',
      ].filter(Boolean);
      io.stdout(`${r.suite.suite}: ${nTests} tests${extra.length ? `, ${extra.join(', ')}` : ''} -> ${path}\n`);
    }
    for (const f of r.suite.failures) io.stderr(`${r.source}: ${f.name}: not ported: ${f.reason}\n`);
    for (const n of r.rawFallbacks) io.stderr(`${r.source}: ${n}: asm text did not reproduce the bytecode; written as raw insns\n`);
  }
  io.stdout(`ported ${files} of ${inputs.length} files: ${tests} test programs, ${aux} auxiliary, ${notPorted} not ported, ${raw} as raw insns, ${badInputs} bad inputs\n`);
  if (badInputs) return 2;
  return notPorted ? 1 : 0;
}
