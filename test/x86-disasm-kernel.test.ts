// formatJited against LLVM on real JIT images: the recorded fixture (kernel images with the
// text libLLVM 19's C API gives, by the selftests' procedure; see scripts/record-x86-disasm-oracle.ts), and,
// when this machine is root with libLLVM installed, fresh images from the live kernel.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import t from 'tap';
import { formatFunction, formatJited } from '../engine/jit/x86-disasm.ts';
import { environmentSkip, loadProgram } from '../engine/kernel/load.ts';
import { randomProgram, structuredPrograms } from './lib/x86-disasm-corpus.ts';
import { llvmAvailable, llvmJitedText } from './lib/x86-disasm-llvm.ts';
import { FIXTURE, imageOf, type JitFixture } from '../scripts/record-x86-disasm-oracle.ts';
import { createKernelBackend, toOutcome } from '../harness/backends/kernel.ts';
import { formatMatchReport, matchPatterns } from '../harness/match.ts';

const fixture = JSON.parse(readFileSync(FIXTURE, 'utf8')) as JitFixture;

/** Lines that differ, as "ours | llvm" pairs (at most `max`). */
function diffLines(ours: string, llvm: string, max = 5): string[] {
  const a = ours.split('\n');
  const b = llvm.split('\n');
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length) && out.length < max; i++) {
    if (a[i] !== b[i]) out.push(`${JSON.stringify(a[i])} | ${JSON.stringify(b[i])}`);
  }
  return out;
}

t.test('fixture: every recorded image formats exactly as LLVM printed it', async (t) => {
  t.ok(fixture.samples.length >= 100, `${fixture.samples.length} recorded images`);
  let lines = 0;
  let labels = 0;
  let locks = 0;
  const bad: string[] = [];
  for (const s of fixture.samples) {
    const image = imageOf(s.llvm);
    t.equal(image.length, s.funcLens.reduce((a, b) => a + b, 0), `${s.name}: image bytes recovered`);
    const ours = formatJited(image, s.funcLens);
    lines += s.llvm.split('\n').length;
    labels += (s.llvm.match(/ L\d+:\t/g) ?? []).length;
    locks += (s.llvm.match(/\tlock\n/g) ?? []).length;
    if (ours !== s.llvm) bad.push(`${s.name} flags=${s.flags}: ${diffLines(ours, s.llvm).join('; ')}`);
  }
  t.same(bad, [], `all ${fixture.samples.length} images (${lines} lines, ${labels} labelled lines, ${locks} lock lines) match`);
  t.ok(labels > 100 && locks > 50, 'the corpus exercises labels and lock prefixes');
  t.ok(fixture.samples.some((s) => s.funcLens.length > 1), 'some images have subprograms');
});

const liveSkip = environmentSkip({}) ?? (llvmAvailable() ? false : 'libLLVM 19 is not installed');

t.test('live kernel: fresh JIT images match LLVM', { skip: liveSkip }, async (t) => {
  // Seeds not in the fixture, plus the hand-written programs.
  const programs = [...structuredPrograms(), ...[901, 902, 903, 904, 905, 906].map((s) => randomProgram(s, 40))];
  let compared = 0;
  for (const p of programs) {
    const r = loadProgram(p, { logLevel: 0, flags: 0, wantJited: true });
    if (!r.loaded || !r.jited || !r.jitedFuncLens) {
      t.fail(`${p.name} did not load: ${r.log.split('\n').slice(-3).join(' | ')}`);
      continue;
    }
    const llvm = llvmJitedText(r.jited, r.jitedFuncLens);
    t.equal(formatJited(r.jited, r.jitedFuncLens), llvm, `${p.name} (${r.jited.length} bytes, ${r.jitedFuncLens.length} funcs)`);
    compared++;
  }
  t.equal(compared, programs.length);
});

t.test('kernel backend: jited text from the image and function lengths', async (t) => {
  const base = { loaded: true, errno: 0, log: '', logTruncated: false, retried: false, mapIds: [], loadWallNs: 0 };
  const program = structuredPrograms()[0];
  const req = { program, auxiliary: [], logLevel: 0, flags: 0, unpriv: false, series: 'none' as const, execute: false, wantXlated: false, wantJited: true };
  const image = Uint8Array.from([0x55, 0xc9, 0xc3, 0x90, 0xc3]);
  const out = toOutcome(req, { ...base, jited: image, jitedFuncLens: [3, 2] });
  t.equal(out.jited, formatJited(image, [3, 2]));
  t.match(out.jited, /^func #0:\n0:\t55 +\tpushq\t%rbp\n/);
  t.equal(toOutcome({ ...req, wantJited: false }, { ...base, jited: image, jitedFuncLens: [5] }).jited, undefined, 'only when asked for');
});

t.test('kernel backend, live: a __jited-style pattern list matches', { skip: environmentSkip({}) ?? false }, async (t) => {
  const backend = createKernelBackend();
  const program = structuredPrograms().find((p) => p.name === 'calls')!;
  const out = await backend.run({ program, auxiliary: [], logLevel: 0, flags: 0, unpriv: false, series: 'none', execute: false, wantXlated: false, wantJited: true });
  t.ok(out.loaded);
  const r = matchPatterns(out.jited ?? '', [
    { text: '\tpushq\t%rbp', negative: false, anyLine: false },
    { text: '\tmovq\t%rsp, %rbp', negative: false, anyLine: false },
    { text: '\tcallq\t0x{{.*}}', negative: false, anyLine: true },
    { text: '\tleave', negative: false, anyLine: true },
    { text: '\t{{(retq|jmp\t0x)}}', negative: false, anyLine: false },
    { text: 'func #1:', negative: false, anyLine: true },
  ], 'lines');
  t.ok(r.ok, formatMatchReport(r, out.jited ?? ''));
});

const mcSkip = (() => {
  try {
    execFileSync('llvm-mc-19', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'llvm-mc-19 is not installed';
  }
})();

t.test('every distinct fixture instruction against llvm-mc-19 --disassemble', { skip: mcSkip }, async (t) => {
  const uniq = new Set<string>();
  for (const s of fixture.samples) {
    for (const line of s.llvm.split('\n')) {
      const m = /^[0-9a-f]+:\t((?:[0-9a-f]{2} )+)/.exec(line);
      if (m && m[1] !== 'f0 ') uniq.add(m[1].trim());
    }
  }
  const list = [...uniq];
  const input = list.map((h) => h.split(' ').map((b) => `0x${b}`).join(' ')).join('\n') + '\n';
  const mc = execFileSync('llvm-mc-19', ['--disassemble', '-triple=x86_64', '--print-imm-hex'], { input, encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('\t') && !l.startsWith('\t.text'))
    .map((l) => l.replace(/\s+# imm = .*$/, ''));
  t.equal(mc.length, list.length, 'llvm-mc decoded each encoding as one instruction');
  let same = 0;
  let branches = 0;
  const bad: string[] = [];
  list.forEach((hex, i) => {
    const code = Uint8Array.from(Buffer.from(hex.replace(/ /g, ''), 'hex'));
    // llvm-mc prints branch operands as displacements, the selftests as addresses: compare
    // branches by mnemonic only.
    let isBranch = false;
    const ours = `\t${formatFunction(code).split('\t').slice(2).join('\t').replace(/\n$/, '')}`;
    if (/^\t(j|call)/.test(ours) && /\t0x[0-9a-f]+$/.test(ours)) isBranch = true;
    if (isBranch) {
      branches++;
      if (ours.split('\t')[1] !== mc[i].split('\t')[1]) bad.push(`${hex}: ${ours} vs ${mc[i]}`);
    } else if (ours === mc[i]) same++;
    else bad.push(`${hex}: ${JSON.stringify(ours)} vs ${JSON.stringify(mc[i])}`);
  });
  t.same(bad.slice(0, 10), [], `${list.length} encodings: ${same} identical texts, ${branches} branches with the same mnemonic`);
});
