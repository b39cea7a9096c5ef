// Record the live kernel's scalar tracking as test data: generate small scalar-only programs
// (fixed seed), load each at log level 2 as a socket filter, and keep every ALU/jump
// transition the log shows. Output: test/fixtures/verifier-scalar-kernel.json
// (deterministic for a given kernel). Needs root (bpf(2)).
//
//   node --import tsx scripts/record-scalar-oracle.ts [--programs N] [--len N] [--seed N] [--check]
//
// --check only prints how many recorded transitions our functions reproduce.

import { writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { encode } from '../engine/isa/encode.ts';
import { bpfProgLoad, closeFd } from '../engine/kernel/bpf.ts';
import {
  rng, genProgram, extractTransitions, slotTable, checkTransition, type Transition,
} from '../engine/verifier/scalar/oracle.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const PROGRAMS = opt('--programs', 400);
const LEN = opt('--len', 40);
const SEED = opt('--seed', 0x5ca1a7);
const OUT = 'test/fixtures/verifier-scalar-kernel.json';

export interface FixtureProgram {
  /** Hex of the raw program, 16 digits per slot. */
  readonly hex: string;
  readonly errno: number;
  readonly transitions: Transition[];
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function main(): void {
  const r = rng(SEED);
  const programs: FixtureProgram[] = [];
  let total = 0;
  let bad = 0;
  const kernel = release();
  for (let p = 0; p < PROGRAMS; p++) {
    const prog = genProgram(r, LEN);
    const bytes = encode(prog.insns);
    const res = bpfProgLoad({ progType: 1, insns: bytes, license: 'GPL', logLevel: 2 });
    if (res.fd >= 0) closeFd(res.fd);
    const transitions = extractTransitions(res.log, slotTable(prog.insns), res.errno === 0);
    programs.push({ hex: toHex(bytes), errno: res.errno, transitions });
    total += transitions.length;
    for (const t of transitions) if (checkTransition(t).length) bad++;
  }
  console.log(`${PROGRAMS} programs, ${total} transitions, ${total - bad} reproduced, ${bad} differ`);
  if (!args.includes('--check')) {
    const body = {
      kernel,
      seed: SEED,
      len: LEN,
      programs,
    };
    // One program per line keeps diffs readable.
    const text = `{"kernel":${JSON.stringify(body.kernel)},"seed":${SEED},"len":${LEN},"programs":[\n` +
      programs.map((p) => JSON.stringify(p)).join(',\n') + '\n]}\n';
    writeFileSync(OUT, text);
    console.log(`wrote ${OUT}`);
  }
}

main();
