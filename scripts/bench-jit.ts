// `make bench` (JIT part): x86-64 JIT compile time per program, and native execution next to
// the interpreter on the same programs, in one run, as ratios.
//
//  1. Compile: every program of the JIT fixture (test/fixtures/jit-programs.ts) and of specs/
//     JITed in kernel mode `--reps` times; median per program; totals, per-instruction cost.
//  2. Execute: loop-heavy kernels (ALU, stack memory, map memory, helper calls, bpf-to-bpf
//     calls) plus fuzz programs, each run in the interpreter and natively (in this process);
//     the native side is reported both as the bare call and with JIT + setup included.
//
// usage: node --import tsx scripts/bench-jit.ts [--reps N] [--json FILE]

import { writeFileSync } from 'node:fs';
import { parseScriptArgs } from './lib/cli-args.ts';
import type { Insn } from '../engine/isa/insn.ts';
import { ldImm64 } from '../engine/isa/insn.ts';
import type { Program } from '../engine/program/types.ts';
import { jitProgram } from '../engine/jit/x86_64/compile.ts';
import { fromXlated } from '../engine/jit/x86_64/xlated.ts';
import { runNativeInProcess } from '../engine/jit/native/run.ts';
import { runProgram } from '../engine/runtime/index.ts';
import { findSpecFiles, loadSuiteFile } from '../harness/spec/load.ts';
import { jitCases } from '../test/fixtures/jit-programs.ts';
import { Rng, fuzzProgram } from './fuzz-jit.ts';

const USAGE = `usage: bench-jit.ts [--reps N] [--json FILE]
JIT compile time per program and per instruction, and native against interpreter speed.`;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const now = (): number => Number(process.hrtime.bigint()) / 1e3; // µs

function compileBench(reps: number): { programs: number; insns: number; totalUs: number; perProgUs: number; perInsnUs: number; maxUs: number; maxName: string } {
  const progs: Program[] = jitCases().map((c) => c.prog);
  for (const f of findSpecFiles([new URL('../specs', import.meta.url).pathname])) {
    for (const test of loadSuiteFile(f).tests) progs.push(test.program);
  }
  let total = 0, insns = 0, n = 0, max = 0, maxName = '';
  for (const p of progs) {
    let funcs;
    try {
      funcs = fromXlated(p.insns, { stackDepths: [], uniformStackDepth: 512, callOffsetIn: 'imm' });
      jitProgram(funcs); // warm, and skip what the JIT refuses (raw LD_ABS, may_goto)
    } catch {
      continue;
    }
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      const t0 = now();
      jitProgram(funcs);
      times.push(now() - t0);
    }
    const m = median(times);
    total += m;
    insns += p.insns.length;
    n++;
    if (m > max) { max = m; maxName = p.name; }
  }
  return { programs: n, insns, totalUs: total, perProgUs: total / n, perInsnUs: total / insns, maxUs: max, maxName };
}

const I = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
const EXIT = I(0x95, 0, 0, 0, 0);
const prog = (name: string, insns: Insn[], maps: Program['maps'] = []): Program => ({ name, progType: 'SOCKET_FILTER', insns, maps, funcs: [], license: 'GPL', flags: 0 });

/** A counted loop of `n` iterations around `body` (r9 is the counter). */
function loop(n: number, body: Insn[], pre: Insn[] = [], post: Insn[] = []): Insn[] {
  return [...pre, I(0xb7, 9, 0, 0, n), ...body, I(0x07, 9, 0, 0, -1), I(0x55, 9, 0, -(body.length + 2), 0), ...post, EXIT];
}

function kernels(): Program[] {
  const N = 200_000;
  const arr = { name: 'bench', type: 'ARRAY' as const, keySize: 4, valueSize: 64, maxEntries: 1, flags: 0 };
  return [
    prog('alu_loop', loop(N, [I(0x27, 0, 0, 0, 31), I(0x07, 0, 0, 0, 7), I(0xaf, 0, 9, 0, 0), I(0x77, 1, 0, 0, 3), I(0x0f, 1, 0, 0, 0), I(0x3f, 1, 9, 0, 0)],
      [I(0xb7, 0, 0, 0, 1), I(0xb7, 1, 0, 0, 2)])),
    prog('stack_loop', loop(N, [I(0x79, 1, 10, -8, 0), I(0x0f, 1, 9, 0, 0), I(0x7b, 10, 1, -8, 0), I(0x61, 2, 10, -16, 0), I(0x0c, 2, 1, 0, 0), I(0x63, 10, 2, -16, 0)],
      [I(0x7a, 10, 0, -8, 0), I(0x7a, 10, 0, -16, 0)], [I(0x79, 0, 10, -8, 0)])),
    prog('map_loop', loop(N, [I(0x79, 1, 7, 0, 0), I(0x07, 1, 0, 0, 3), I(0x7b, 7, 1, 0, 0), I(0xdb, 7, 1, 8, 0)],
      [I(0x62, 10, 0, -4, 0), ldImm64(1, 0n, 1), I(0xbf, 2, 10, 0, 0), I(0x07, 2, 0, 0, -4), I(0x85, 0, 0, 0, 1), I(0x55, 0, 0, 1, 0), EXIT, I(0xbf, 7, 0, 0, 0)],
      [I(0x79, 0, 7, 8, 0)]), [arr]),
    prog('helper_loop', loop(N / 10, [I(0x85, 0, 0, 0, 7), I(0x0f, 6, 0, 0, 0)], [I(0xb7, 6, 0, 0, 0)], [I(0xbf, 0, 6, 0, 0)])),
    prog('subprog_loop', [...loop(N / 4, [I(0xbf, 1, 9, 0, 0), I(0x85, 0, 1, 0, 5), I(0x0f, 6, 0, 0, 0)], [I(0xb7, 6, 0, 0, 0)], [I(0xbf, 0, 6, 0, 0)]).slice(0, -1), EXIT,
      I(0xbf, 0, 1, 0, 0), I(0x27, 0, 0, 0, 3), EXIT]),
  ];
}

interface ExecRow {
  readonly name: string;
  readonly insns: number;
  readonly interpUs: number;
  readonly nativeCallUs: number;
  readonly nativeTotalUs: number;
  readonly agree: boolean;
}

function execBench(reps: number): ExecRow[] {
  const rows: ExecRow[] = [];
  const fuzz = Array.from({ length: 50 }, (_, i) => fuzzProgram(new Rng(1000 + i), 40, `fuzz_${i}`));
  for (const p of [...kernels(), ...fuzz]) {
    const iT: number[] = [], cT: number[] = [], tT: number[] = [];
    let agree = true, insns = 0;
    for (let r = 0; r < reps; r++) {
      const t0 = now();
      const want = runProgram(p, { seed: 1 });
      iT.push(now() - t0);
      insns = want.insnsExecuted;
      const t1 = now();
      const got = runNativeInProcess(p, { seed: 1 });
      tT.push(now() - t1);
      cT.push((got.runNs ?? 0) / 1e3);
      agree &&= got.ok === want.ok && got.retval === want.retval;
    }
    rows.push({ name: p.name, insns, interpUs: median(iT), nativeCallUs: median(cT), nativeTotalUs: median(tT), agree });
  }
  return rows;
}

function main(): void {
  const { values } = parseScriptArgs(USAGE, { options: { reps: { type: 'string', default: '5' }, json: { type: 'string' } } });
  const reps = Math.max(1, Number(values.reps));
  const out = process.stdout;
  out.write(`bench-jit: ${reps} reps, medians\n\n`);
  const c = compileBench(reps);
  out.write(`JIT compile (kernel mode): ${c.programs} programs, ${c.insns} insns, ${(c.totalUs / 1000).toFixed(1)} ms total, ` +
    `${c.perProgUs.toFixed(1)} µs/program, ${c.perInsnUs.toFixed(2)} µs/insn, slowest ${c.maxUs.toFixed(0)} µs (${c.maxName})\n\n`);
  const rows = execBench(reps);
  const pad = (s: string, n: number): string => s.padStart(n);
  out.write(`${'program'.padEnd(14)} ${pad('insns run', 10)} ${pad('interp µs', 11)} ${pad('native µs', 10)} ${pad('+JIT µs', 9)} ${pad('speedup', 8)} ${pad('w/ JIT', 7)}\n`);
  const kernelRows = rows.filter((r) => !r.name.startsWith('fuzz_'));
  for (const r of kernelRows) {
    out.write(`${r.name.padEnd(14)} ${pad(String(r.insns), 10)} ${pad(r.interpUs.toFixed(0), 11)} ${pad(r.nativeCallUs.toFixed(0), 10)} ${pad(r.nativeTotalUs.toFixed(0), 9)} ` +
      `${pad((r.interpUs / r.nativeCallUs).toFixed(1) + 'x', 8)} ${pad((r.interpUs / r.nativeTotalUs).toFixed(1) + 'x', 7)}${r.agree ? '' : '  DISAGREE'}\n`);
  }
  const fz = rows.filter((r) => r.name.startsWith('fuzz_'));
  const sum = (f: (r: ExecRow) => number): number => fz.reduce((a, r) => a + f(r), 0);
  out.write(`${'50 fuzz progs'.padEnd(14)} ${pad(String(sum((r) => r.insns)), 10)} ${pad(sum((r) => r.interpUs).toFixed(0), 11)} ${pad(sum((r) => r.nativeCallUs).toFixed(0), 10)} ` +
    `${pad(sum((r) => r.nativeTotalUs).toFixed(0), 9)} ${pad((sum((r) => r.interpUs) / sum((r) => r.nativeCallUs)).toFixed(1) + 'x', 8)} ${pad((sum((r) => r.interpUs) / sum((r) => r.nativeTotalUs)).toFixed(1) + 'x', 7)}` +
    `${fz.every((r) => r.agree) ? '' : '  DISAGREE'}\n`);
  out.write('\nspeedup = interpreter time / native call time; w/ JIT also counts JIT, mmap and setup.\n');
  if (values.json) writeFileSync(values.json, JSON.stringify({ compile: c, exec: rows }, null, 2));
}

main();
