// The bpf_conformance harness: the .data parser, the ubpf-dialect assembler (encodings and
// errors), and the runner/CLI over our own fixtures.

import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../engine/errors.ts';
import { assembleConformance } from '../harness/conformance/asm.ts';
import { conformanceCommand } from '../harness/conformance/cli.ts';
import { parseConformance } from '../harness/conformance/format.ts';
import { runConformanceDir, runConformanceTest } from '../harness/conformance/runner.ts';

const FIXTURES = new URL('./fixtures/conformance/', import.meta.url).pathname;
const asm = (text: string) => assembleConformance(text.split('\n').filter((l) => l.trim()).map((l, i) => ({ text: l.trim(), line: i + 1 })), 'x.data');
const enc = (text: string) => asm(text).insns.map((i) => [i.code, i.dst, i.src, i.off, i.imm]);

t.test('parser: every section kind', async (t) => {
  const p = parseConformance('# c\n-- asm\nmov %r0, 1 # one\n\nexit\n-- mem\n00 ff\n10\n-- result\n0x10\n-- c\nint x;\n', 'a.data');
  t.same(p.asm?.map((l) => [l.text, l.line]), [['mov %r0, 1', 3], ['exit', 5]]);
  t.same([...p.mem], [0, 0xff, 0x10]);
  t.equal(p.result, 0x10n);
  const r = parseConformance('-- raw\n0x00000001000000b7 0x95\n-- error\nsomething bad\n');
  t.same(r.raw, [0x1000000b7n, 0x95n]);
  t.equal(r.error, 'something bad');
  const m = parseConformance('-- map\nm 2 4 8 1\n-- asm\nexit\n-- result\n0\n');
  t.same(m.maps.map((x) => [x.name, x.type, x.keySize, x.valueSize, x.maxEntries]), [['m', 2, 4, 8, 1]]);
  t.equal(parseConformance('-- result\n-1\n').result, (1n << 64n) - 1n, 'negative results wrap to u64');
});

t.test('parser: bad input is an InputError with a location', async (t) => {
  for (const [text, line] of [['-- bogus\n', 1], ['-- mem\n00 zz\n', 2], ['-- result\nabc\n', 2], ['-- raw\n0xq\n', 2], ['-- map\nm 2 4\n', 2]] as const) {
    try {
      parseConformance(text, 'bad.data');
      t.fail(`accepted ${JSON.stringify(text)}`);
    } catch (e) {
      t.ok(e instanceof InputError, JSON.stringify(text));
      t.equal((e as InputError).loc.line, line);
    }
  }
});

t.test('assembler encodings', async (t) => {
  t.same(enc('mov32 %r0, 1'), [[0xb4, 0, 0, 0, 1]]);
  t.same(enc('mov r0, r1'), [[0xbf, 0, 1, 0, 0]], 'registers with or without %');
  t.same(enc('add %r1, -1'), [[0x07, 1, 0, 0, -1]]);
  t.same(enc('sdiv32 %r1, %r2'), [[0x3c, 1, 2, 1, 0]]);
  t.same(enc('smod %r1, 3'), [[0x97, 1, 0, 1, 3]]);
  t.same(enc('neg32 %r3'), [[0x84, 3, 0, 0, 0]]);
  t.same(enc('be16 %r0\nle64 %r0\nswap32 %r0'), [[0xdc, 0, 0, 0, 16], [0xd4, 0, 0, 0, 64], [0xd7, 0, 0, 0, 32]]);
  t.same(enc('movsx8 %r0, %r1\nmovsx1632 %r0, %r1'), [[0xbf, 0, 1, 8, 0], [0xbc, 0, 1, 16, 0]]);
  t.same(enc('ldxdw %r0, [%r1+8]\nldxsh %r0, [%r1-2]\nldxb %r2, [%r3]'), [[0x79, 0, 1, 8, 0], [0x89, 0, 1, -2, 0], [0x71, 2, 3, 0, 0]]);
  t.same(enc('stw [%r10-4], 0x11223344\nstxdw [%r10-8], %r1'), [[0x62, 10, 0, -4, 0x11223344], [0x7b, 10, 1, -8, 0]]);
  t.same(enc('stw [%r10-4], 0xffffffff'), [[0x62, 10, 0, -4, -1]], 'unsigned 32-bit immediates');
  t.same(enc('jeq %r1, 0, +1\njne32 %r1, %r2, -2\nja +0\nja32 +3'), [[0x15, 1, 0, 1, 0], [0x5e, 1, 2, -2, 0], [0x05, 0, 0, 0, 0], [0x06, 0, 0, 0, 3]]);
  t.same(enc('jeq %r1, 0, out\nexit\nout:\nexit'), [[0x15, 1, 0, 1, 0], [0x95, 0, 0, 0, 0], [0x95, 0, 0, 0, 0]]);
  t.same(enc('ja exit\nmov %r0, 1\nexit'), [[0x05, 0, 0, 1, 0], [0xb7, 0, 0, 0, 1], [0x95, 0, 0, 0, 0]], 'the first exit is a label');
  t.same(enc('call 1\ncall helper 7\ncall bpf_ktime_get_ns\ncall runtime 9'), [[0x85, 0, 0, 0, 1], [0x85, 0, 0, 0, 7], [0x85, 0, 0, 0, 5], [0x85, 0, 2, 0, 9]]);
  t.same(enc('lock add [%r1+4], %r2\nlock fetch xor32 [%r1], %r2\nlock xchg [%r1], %r2\nlock cmpxchg32 [%r1], %r2'),
    [[0xdb, 1, 2, 4, 0x00], [0xc3, 1, 2, 0, 0xa1], [0xdb, 1, 2, 0, 0xe1], [0xc3, 1, 2, 0, 0xf1]]);
  t.same(enc('ldabsh 12\nldindw %r1, 2'), [[0x28, 0, 0, 0, 12], [0x40, 0, 1, 0, 2]]);
  const l = asm('lddw %r0, 0x1122334455667788\nexit');
  t.same(l.insns[0].next?.imm, 0x11223344);
  t.equal(l.insns[0].imm, 0x55667788);
  const c = asm('call local f\nexit\nlddw %r1, 1\nf:\nexit');
  t.equal(c.insns[0].imm, 3, 'call local counts lddw as two slots');
  t.same(c.funcStarts, [0, 4]);
});

t.test('assembler errors carry line and column', async (t) => {
  const cases: [string, RegExp][] = [
    ['bogus %r0', /unknown mnemonic 'bogus'/],
    ['mov %r0', /takes 2 operands/],
    ['mov %r16, 1', /expected a register/],
    ['add %r0, 0x100000000', /32-bit immediate/],
    ['ldxw %r0, %r1', /expected \[reg\+off\]/],
    ['ja nowhere', /undefined label 'nowhere'/],
    ['x:\nx:', /duplicate label/],
    ['call frobnicate', /unknown helper/],
  ];
  for (const [text, re] of cases) {
    try {
      asm(text);
      t.fail(`accepted ${text}`);
    } catch (e) {
      t.ok(e instanceof InputError, text);
      t.match((e as InputError).message, re, text);
      t.ok((e as InputError).loc.line >= 1, `${text}: has a line`);
    }
  }
});

t.test('runner over our fixtures: all pass, each section kind exercised', async (t) => {
  const s = runConformanceDir(FIXTURES);
  t.equal(s.failed, 0, s.results.filter((r) => r.status !== 'pass').map((r) => `${r.name}: ${r.message}`).join('; '));
  t.equal(s.passed, s.results.length);
  t.ok(s.results.length >= 10);
});

t.test('runner: failures, error tests and skips are judged honestly', async (t) => {
  const one = (text: string) => runConformanceTest(parseConformance(text, 't.data'));
  t.equal(one('-- asm\nmov %r0, 2\nexit\n-- result\n0x3\n').status, 'fail', 'wrong result fails');
  t.equal(one('-- asm\nlddw %r0, 0x100000001\nexit\n-- result\n0x1\n').status, 'fail', 'all 64 bits are compared');
  t.equal(one('-- asm\nmov %r0, 2\nexit\n-- error\nboom\n').status, 'fail', 'an error test that runs fine fails');
  t.equal(one('-- asm\nbogus\n-- error\nboom\n').status, 'pass', 'rejected at assembly counts for an error test');
  t.equal(one('-- asm\nbogus\n-- result\n1\n').status, 'fail', 'assembly errors fail a result test');
  t.equal(one('-- asm\nexit\n').status, 'skip', 'no result or error: skip (as upstream)');
  t.equal(one('-- result\n1\n').status, 'skip', 'no instructions: skip');
  t.equal(one('-- asm\ncall 999\nexit\n-- result\n0\n').status, 'fail', 'unknown helper is a failure');
});

t.test('CLI: exit codes, summary line, JSON, bad directory', async (t) => {
  let out = '', err = '';
  const o = (s: string) => { out += s; };
  const e = (s: string) => { err += s; };
  t.equal(await conformanceCommand([FIXTURES], o, e), 0);
  t.match(out, /conformance: \d+ passed, 0 failed, 0 skipped\n$/);
  out = '';
  t.equal(await conformanceCommand([FIXTURES, '--json', '--filter', 'mem'], o, e), 0);
  const j = JSON.parse(out) as { passed: number; results: { name: string }[] };
  t.ok(j.results.every((r) => r.name.includes('mem')) && j.passed === j.results.length);
  const dir = mkdtempSync(join(tmpdir(), 'conf-'));
  try {
    writeFileSync(join(dir, 'bad.data'), '-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n');
    writeFileSync(join(dir, 'broken.data'), '-- wat\n');
    out = '';
    t.equal(await conformanceCommand([dir], o, e), 1, 'failures exit 1');
    t.match(out, /FAIL bad\.data: r0 = 0x1, expected 0x2/);
    t.match(out, /FAIL broken\.data: .*broken\.data:1:1: unknown section header/);
  } finally {
    rmSync(dir, { recursive: true });
  }
  t.equal(await conformanceCommand(['/nonexistent/dir'], o, e), 2);
  t.match(err, /no such directory/);
  t.equal(await conformanceCommand([], o, e), 2);
  t.equal(await conformanceCommand([FIXTURES, '--bogus'], o, e), 2);
});
