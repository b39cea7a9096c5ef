// `bpfconform port`: exit statuses and messages for good and bad input (no stack traces).
import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../harness/cli.ts';
import { buildFixture, haveClang } from './fixtures/elf/build.ts';

const clang = haveClang();

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['port', ...args], { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

const tmp = mkdtempSync(join(tmpdir(), 'port-cli-'));

t.test('usage', async (t) => {
  t.equal((await cli(['--help'])).code, 0);
  const r = await cli([join(tmp, 'x.o')]);
  t.equal(r.code, 2);
  t.match(r.err, /missing --out/);
  t.equal((await cli(['--out', tmp])).code, 2);
  const missing = await cli(['--out', tmp, join(tmp, 'nope.o')]);
  t.equal(missing.code, 2);
  t.match(missing.err, /no such file/);
});

t.test('bad objects exit 2 with a located message', async (t) => {
  const junk = join(tmp, 'junk.o');
  writeFileSync(junk, 'this is not an ELF file at all, just some text that is long enough\n'.repeat(3));
  const r = await cli(['--out', join(tmp, 'out'), junk]);
  t.equal(r.code, 2);
  t.match(r.err, /junk\.o.*bad ELF: not an ELF file/);
  t.notMatch(r.err, /\n\s+at /, 'no stack trace');
  if (!clang) return;
  const good = buildFixture('objects');
  const cut = join(tmp, 'cut.o');
  writeFileSync(cut, good.subarray(0, 3000));
  const c = await cli(['--out', join(tmp, 'out'), cut]);
  t.equal(c.code, 2);
  t.match(c.err, /cut\.o.*bad ELF/);
});

t.test('a good object is ported', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  const obj = join(tmp, 'objects.o');
  writeFileSync(obj, buildFixture('objects'));
  const out = join(tmp, 'good');
  const r = await cli(['--out', out, obj]);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /objects: 2 tests, 1 auxiliary -> /);
  t.match(r.out, /ported 1 of 1 files: 2 test programs, 1 auxiliary, 0 not ported, 0 as raw insns, 0 bad inputs/);
  const first = readFileSync(join(out, 'objects.yaml'), 'utf8');
  t.match(first, /^# Ported by 'bpfconform port' from objects\.o/);
  t.equal((await cli(['--out', out, obj])).code, 0);
  t.equal(readFileSync(join(out, 'objects.yaml'), 'utf8'), first, 'a second run writes the same bytes');
});

t.test('a source that does not compile exits 2 with clang\'s message', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  // A minimal fake selftests tree; the cache already holds the generated headers.
  const root = join(tmp, 'linux');
  const progs = join(root, 'tools/testing/selftests/bpf/progs');
  mkdirSync(progs, { recursive: true });
  writeFileSync(join(progs, 'bpf_misc.h'), '/* empty */\n');
  writeFileSync(join(progs, 'verifier_broken.c'), 'int f(void) { return undeclared_thing; }\n');
  const cache = join(tmp, 'cache');
  mkdirSync(join(cache, 'include/bpf'), { recursive: true });
  writeFileSync(join(cache, 'include/bpf/bpf_helper_defs.h'), '');
  writeFileSync(join(cache, 'include/vmlinux.h'), '');
  const r = await cli(['--out', join(tmp, 'o2'), '--cache', cache, join(progs, 'verifier_broken.c')]);
  t.equal(r.code, 2);
  t.match(r.err, /verifier_broken\.c:1:\d+: clang-19 failed to compile verifier_broken\.c/);
  t.match(r.err, /undeclared_thing/);
});
