// Record what the live kernel's x86-64 JIT makes of every program in
// test/fixtures/jit-programs.ts: the xlated program (the JIT's input), the verifier's stack
// depth per function, and the JIT image with its function lengths and addresses.
// Run as root: node --import tsx scripts/record-jit-oracle.ts [--check]
// --check prints the parity of our JIT against the live kernel without writing anything.

import { writeFileSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { loadProgram } from '../engine/kernel/load.ts';
import { parseStackDepths } from '../engine/kernel/stack-depth.ts';
import { jitCases, type JitCase } from '../test/fixtures/jit-programs.ts';
import { findSpecFiles, loadSuiteFile } from '../harness/spec/load.ts';
import { relative } from 'node:path';

export const FIXTURE = new URL('../test/fixtures/jit-kernel-oracle.json', import.meta.url);

export interface OracleEntry {
  readonly name: string;
  readonly loaded: boolean;
  readonly errno?: number;
  /** Tail calls in this program were made direct by the verifier (known from the program). */
  readonly directTailCalls?: boolean;
  readonly xlated?: string;
  readonly stackDepths?: number[];
  readonly jited?: string;
  readonly funcLens?: number[];
  readonly ksyms?: string[];
  /** Last lines of the log of a rejected load. */
  readonly logTail?: string;
  /** Facts of the load the dump lacks (private stack, arena): the program type, and the
   *  dump ids of its arena maps. */
  readonly progType?: string;
  readonly expectedAttachType?: string;
  readonly arenaMapIds?: number[];
}

export interface OracleFile {
  readonly kernel: string;
  readonly cpuFlags: string[];
  readonly entries: OracleEntry[];
}

const hex = (u: Uint8Array): string => Buffer.from(u).toString('hex');

export function recordOne(c: JitCase): OracleEntry {
  const r = loadProgram(c.prog, { logLevel: 4, flags: c.prog.flags, wantXlated: true, wantJited: true });
  if (r.skip || !r.loaded || !r.xlated || !r.jited) {
    return { name: c.prog.name, loaded: false, errno: r.errno, logTail: (r.skip ?? r.log).trim().split('\n').slice(-3).join('\n') };
  }
  return {
    name: c.prog.name,
    loaded: true,
    ...(c.directTailCalls ? { directTailCalls: true } : {}),
    xlated: hex(r.xlated),
    stackDepths: parseStackDepths(r.log) ?? [],
    jited: hex(r.jited),
    funcLens: [...(r.jitedFuncLens ?? [])],
    ksyms: (r.jitedKsyms ?? []).map((a) => '0x' + a.toString(16)),
    progType: c.prog.progType,
    ...(c.prog.expectedAttachType ? { expectedAttachType: c.prog.expectedAttachType } : {}),
    ...(c.prog.maps.some((m) => m.type === 'ARENA') ? { arenaMapIds: c.prog.maps.flatMap((m, k) => (m.type === 'ARENA' ? [r.mapIds[k]] : [])) } : {}),
  };
}

function cpuFlags(): string[] {
  const info = readFileSync('/proc/cpuinfo', 'utf8');
  const line = /^flags\s*:(.*)$/m.exec(info)?.[1] ?? '';
  const want = ['bmi2', 'ibt', 'la57'];
  return line.trim().split(/\s+/).filter((f) => want.includes(f));
}

/** Every program of specs/*.yaml, named `spec/<file>/<test>`; the kernel rejects some of
 *  them on purpose (those are recorded as not loaded and skipped by the parity test). */
export function specCases(root = new URL('../specs', import.meta.url).pathname): JitCase[] {
  const out: JitCase[] = [];
  for (const file of findSpecFiles([root])) {
    const suite = loadSuiteFile(file);
    for (const test of suite.tests) {
      out.push({ prog: { ...test.program, name: `spec/${relative(root, file)}/${test.name}` } });
    }
  }
  return out;
}

function main(): void {
  const entries = [...jitCases(), ...specCases()].map(recordOne);
  const file: OracleFile = { kernel: execFileSync('uname', ['-r']).toString().trim(), cpuFlags: cpuFlags(), entries };
  const rejected = entries.filter((e) => !e.loaded);
  for (const e of rejected) if (!e.name.startsWith('spec/')) console.error(`rejected: ${e.name} (errno ${e.errno}): ${e.logTail}`);
  writeFileSync(FIXTURE, JSON.stringify(file, null, 1) + '\n');
  console.log(`recorded ${entries.length} programs (${rejected.length} rejected) from ${file.kernel}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
