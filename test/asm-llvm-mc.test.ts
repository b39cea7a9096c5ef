// Differential test: our assembler against llvm-mc (the assembler clang-19 uses for
// selftest inline asm), from the recorded fixture and, when llvm-mc-19 is installed, live.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { assemble } from '../engine/isa/asm/index.ts';
import { encode } from '../engine/isa/encode.ts';
import { FIXTURE, llvmMcAvailable, llvmMcText, runLlvmMc, type McEntry } from '../scripts/record-llvm-mc-fixture.ts';

const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { entries: McEntry[]; programs: McEntry[] };
const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function ours(asm: string): string {
  return hex(encode(assemble(asm)));
}

t.test('every statement llvm-mc accepts encodes to the same bytes', async (t) => {
  const accepted = fixture.entries.filter((e) => e.hex !== null);
  t.ok(accepted.length >= 1500, `fixture has ${accepted.length} accepted statements`);
  const bad: string[] = [];
  for (const e of accepted) {
    let got: string;
    try {
      got = ours(e.asm);
    } catch (err) {
      got = `error: ${(err as Error).message}`;
    }
    if (got !== e.hex) bad.push(`${e.asm}: llvm-mc ${e.hex}, ours ${got}`);
  }
  t.same(bad, [], `${accepted.length - bad.length}/${accepted.length} statements match llvm-mc`);
});

t.test('live llvm-mc agrees with the fixture and with us', { skip: llvmMcAvailable() ? false : 'llvm-mc-19 not installed' }, async (t) => {
  const lines = fixture.entries.map((e) => e.asm);
  const live = runLlvmMc(lines);
  const drift: string[] = [];
  const bad: string[] = [];
  lines.forEach((asm, i) => {
    if (live[i] !== fixture.entries[i].hex) drift.push(`${asm}: fixture ${fixture.entries[i].hex}, live ${live[i]}`);
    if (live[i] !== null && ours(asm) !== live[i]) bad.push(`${asm}: live ${live[i]}, ours ${ours(asm)}`);
  });
  t.same(drift, [], 'fixture is current');
  t.same(bad, [], `${lines.length} statements re-assembled by llvm-mc live`);
});

t.test('whole programs (labels, local labels, directives, comments) equal llvm-mc .text', async (t) => {
  const progs = fixture.programs.filter((p) => p.hex !== null);
  t.ok(progs.length >= 10, `${progs.length} programs`);
  for (const p of progs) t.equal(ours(p.asm), p.hex, JSON.stringify(p.asm).slice(0, 60));
});

t.test('live llvm-mc agrees on whole programs', { skip: llvmMcAvailable() ? false : 'llvm-mc-19 not installed' }, async (t) => {
  for (const p of fixture.programs) t.equal(llvmMcText(p.asm), p.hex, JSON.stringify(p.asm).slice(0, 60));
});
