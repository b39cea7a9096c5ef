// The scalar core against the live 6.18 kernel: every transition recorded by
// scripts/record-scalar-oracle.ts (ALU results, branch outcomes, refined states, invariant
// repairs, all as the kernel printed them) is recomputed and compared as text. When run as
// root with bpf(2) available, a sample of the generated programs is also loaded again now.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import {
  checkTransition, type Transition, type Mismatch,
} from '../engine/verifier/scalar/oracle.ts';
import {
  BPF_ALU64, BPF_JMP32, BPF_MEMSX, bpfClass, bpfOp, bpfSrc, bpfMode, bpfSize, sizeBytes,
} from '../engine/isa/opcodes.ts';
import { environmentSkip } from '../engine/kernel/load.ts';

interface Fixture {
  readonly kernel: string;
  readonly seed: number;
  readonly len: number;
  readonly programs: number;
  readonly transitions: number;
  readonly data: Transition[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/verifier-scalar-kernel.json', import.meta.url), 'utf8')) as Fixture;

const OPS = ['add', 'sub', 'mul', 'div', 'or', 'and', 'lsh', 'rsh', 'neg', 'mod', 'xor', 'mov', 'arsh', 'end'];
const JOPS = ['ja', 'jeq', 'jgt', 'jge', 'jset', 'jne', 'jsgt', 'jsge', 'call', 'exit', 'jlt', 'jle', 'jslt', 'jsle'];

/** "alu64 add X", "jmp32 jsgt K", ... */
function group(tr: Transition): string {
  const code = tr.insn[0];
  const cls = bpfClass(code);
  const x = bpfSrc(code) ? 'X' : 'K';
  if (tr.k === 'fill') return `fill ${bpfMode(code) === BPF_MEMSX ? 'ldsx' : 'ldx'} ${sizeBytes(bpfSize(code))}`;
  if (tr.k === 'alu') return `${cls === BPF_ALU64 ? 'alu64' : 'alu32'} ${OPS[bpfOp(code) >> 4]} ${x}`;
  return `${cls === BPF_JMP32 ? 'jmp32' : 'jmp64'} ${JOPS[bpfOp(code) >> 4]} ${x}`;
}

const describe = (m: Mismatch): string =>
  `${group(m.t)} insn=${JSON.stringify(m.t.insn)} dst=${m.t.dst}${m.t.k !== 'fill' && m.t.src ? ` src=${m.t.src}` : ''}\n` +
  `    ${m.what}: kernel ${m.want}\n    ${' '.repeat(m.what.length)}  ours   ${m.got}`;

t.test('recorded kernel transitions', async (t) => {
  t.equal(fixture.data.length, fixture.transitions, 'fixture is complete');
  t.ok(fixture.data.length >= 5000, `thousands of transitions (${fixture.data.length})`);
  const byGroup = new Map<string, { n: number; bad: Mismatch[] }>();
  for (const tr of fixture.data) {
    const g = group(tr);
    const e = byGroup.get(g) ?? { n: 0, bad: [] };
    e.n++;
    e.bad.push(...checkTransition(tr));
    byGroup.set(g, e);
  }
  // Every op in both widths, and every jump in both widths, is exercised.
  for (const op of OPS) {
    for (const w of ['alu32', 'alu64']) {
      const n = [...byGroup].filter(([g]) => g.startsWith(`${w} ${op} `)).reduce((a, [, e]) => a + e.n, 0);
      t.ok(n > 0, `${w} ${op} recorded (${n})`);
    }
  }
  for (const op of JOPS.filter((o) => o.startsWith('j') && o !== 'ja')) {
    for (const w of ['jmp32', 'jmp64']) {
      for (const x of ['K', 'X']) t.ok((byGroup.get(`${w} ${op} ${x}`)?.n ?? 0) > 0, `${w} ${op} ${x} recorded`);
    }
  }
  for (const g of ['fill ldx 1', 'fill ldx 2', 'fill ldx 4', 'fill ldsx 1', 'fill ldsx 2', 'fill ldsx 4']) {
    t.ok((byGroup.get(g)?.n ?? 0) > 0, `${g} recorded`);
  }
  for (const [g, e] of [...byGroup].sort()) {
    t.equal(e.bad.length, 0, `${g}: ${e.n - e.bad.length}/${e.n} match`, {
      diagnostic: e.bad.length > 0,
      first: e.bad.slice(0, 5).map(describe).join('\n'),
    });
  }
});

// Live re-check: regenerate the first programs, load them, and compare again. Needs root.
const skip = environmentSkip({}) ?? false;
t.test('live kernel sample', { skip }, async (t) => {
  const { recordPrograms } = await import('../scripts/record-scalar-oracle.ts');
  const { transitions, rejected } = recordPrograms(fixture.seed, 12, fixture.len);
  t.equal(rejected, 0, 'the generated programs load');
  t.ok(transitions.length > 200, `sample has ${transitions.length} transitions`);
  const bad = transitions.flatMap((tr) => checkTransition(tr));
  t.equal(bad.length, 0, `live: ${transitions.length - bad.length}/${transitions.length} match`, {
    first: bad.slice(0, 5).map(describe).join('\n'),
  });
  // Same kernel as the recording: the fixture must already hold what the kernel says now.
  if (release() === fixture.kernel) {
    const known = new Set(fixture.data.map((d) => JSON.stringify(d)));
    const missing = transitions.filter((tr) => !known.has(JSON.stringify(tr)));
    t.equal(missing.length, 0, 'fixture is in sync with this kernel', { first: missing.slice(0, 3) });
  }
});
