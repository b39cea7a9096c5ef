// Record the live kernel's scalar tracking as test data: generate small scalar-only programs
// (fixed seed), load each at log level 2 as a socket filter, and keep every distinct
// ALU/jump transition the log shows. Output: test/fixtures/verifier-scalar-kernel.json
// (deterministic for a given kernel and seed). Needs root (bpf(2)).
//
//   node --import tsx scripts/record-scalar-oracle.ts [--programs N] [--len N] [--seed N] [--check]
//
// --check records nothing and prints how many transitions our functions reproduce, with
// the first differences.

import { writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { encode } from '../engine/isa/encode.ts';
import { bpfProgLoad, closeFd } from '../engine/kernel/bpf.ts';
import {
  rng, genProgram, extractTransitions, slotTable, checkTransition, normalizeTransition,
  type Transition,
} from '../engine/verifier/scalar/oracle.ts';

export const FIXTURE = 'test/fixtures/verifier-scalar-kernel.json';
export const DEFAULT_SEED = 0x5ca1a7;
export const DEFAULT_LEN = 40;

/** Load program `i`..: the transitions the kernel shows, normalized (pc 0) and in order. */
export function recordPrograms(seed: number, count: number, len: number): { transitions: Transition[]; programs: number; rejected: number } {
  const r = rng(seed);
  const transitions: Transition[] = [];
  let rejected = 0;
  for (let p = 0; p < count; p++) {
    const prog = genProgram(r, len);
    const res = bpfProgLoad({ progType: 1, insns: encode(prog.insns), license: 'GPL', logLevel: 2 });
    if (res.fd >= 0) closeFd(res.fd);
    else rejected++;
    for (const t of extractTransitions(res.log, slotTable(prog.insns), res.errno === 0)) {
      transitions.push(normalizeTransition(t));
    }
  }
  return { transitions, programs: count, rejected };
}

function main(): void {
  const args = process.argv.slice(2);
  const opt = (name: string, def: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : def;
  };
  const programs = opt('--programs', 300);
  const len = opt('--len', DEFAULT_LEN);
  const seed = opt('--seed', DEFAULT_SEED);
  const { transitions, rejected } = recordPrograms(seed, programs, len);
  // Many paths repeat the same transition; keep the first of each.
  const seen = new Set<string>();
  const unique: Transition[] = [];
  for (const t of transitions) {
    const key = JSON.stringify(t);
    if (seen.has(key)) continue;
    seen.add(key);
    unique.push(t);
  }
  let bad = 0;
  let shown = 0;
  for (const t of unique) {
    const m = checkTransition(t);
    if (!m.length) continue;
    bad++;
    if (args.includes('--check') && shown++ < 10) console.log(JSON.stringify(t), '\n ', m.map((x) => `${x.what}: want ${x.want} got ${x.got}`).join('\n  '));
  }
  console.log(`${programs} programs (${rejected} rejected), ${transitions.length} transitions, ` +
    `${unique.length} distinct, ${unique.length - bad} reproduced, ${bad} differ`);
  if (args.includes('--check')) return;
  const head = { kernel: release(), seed, len, programs, transitions: unique.length };
  // One transition per line keeps diffs readable.
  const text = `${JSON.stringify(head).slice(0, -1)},"data":[\n${unique.map((t) => JSON.stringify(t)).join(',\n')}\n]}\n`;
  writeFileSync(FIXTURE, text);
  console.log(`wrote ${FIXTURE}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
