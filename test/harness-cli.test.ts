// The CLI: exit statuses, usage errors, bad input printed as file:line:col without a stack.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { main } from '../harness/cli.ts';
import { captureIo, FAKE_BACKEND_URL } from './fixtures/harness/suites.ts';

const BIN = fileURLToPath(new URL('../bin/bpfconform.js', import.meta.url));
const FAKE = fileURLToPath(FAKE_BACKEND_URL);
const STACK = /^\s+at .+:\d+:\d+\)?$/m;

const dir = mkdtempSync(join(tmpdir(), 'bpfconform-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function spec(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const PASSING = spec(
  'pass.yaml',
  `suite: pass
tests:
  - name: accept_7
    section: socket
    asm: "r0 = 7; exit;"
    expect: {result: success, retval: 7}
  - name: reject
    section: socket
    asm: "r0 = *(u64 *)(r2 + 0); exit;"
    expect: {result: failure, msgs: ["R2 !read_ok"]}
`,
);
const FAILING = spec(
  'fail.yaml',
  `suite: fail
tests:
  - name: accept_7
    section: socket
    asm: "r0 = 7; exit;"
    expect: {result: success, retval: 8}
`,
);
const BAD = spec(
  'bad.yaml',
  `suite: bad
tests:
  - name: x
    section: socket
    asm: "r0 = 7; exit;"
    expect: {result: maybe}
`,
);

async function cli(...argv: string[]) {
  const io = captureIo();
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

t.test('help and usage errors', async (t) => {
  const help = await cli('--help');
  t.equal(help.code, 0);
  t.match(help.out, /usage: bpfconform <command>[^]*check[^]*conformance/);
  t.equal((await cli()).code, 2, 'no command');
  const unknown = await cli('frobnicate');
  t.equal(unknown.code, 2);
  t.match(unknown.err, /unknown command 'frobnicate'/);
  const checkHelp = await cli('check', '--help');
  t.equal(checkHelp.code, 0);
  t.match(checkHelp.out, /--shard K\/N[^]*Counting:[^]*xfail/);
  for (const bad of [['--bogus'], ['--jobs', '0'], ['--jobs', 'x'], ['--shard', '3/2'], ['--backend', 'qemu'], ['--series', 'v5'], ['--reporter', 'xml'], ['--filter', '(']]) {
    const r = await cli('check', ...bad, PASSING);
    t.equal(r.code, 2, bad.join(' '));
    t.match(r.err, /^bpfconform check: .+\nTry 'bpfconform check --help'\.\n$/, `${bad.join(' ')}: one message, no stack`);
  }
  const conf = await cli('conformance', '--help');
  t.equal(conf.code, 0);
  t.match(conf.out, /usage: bpfconform conformance DIR/);
  t.equal((await cli('conformance')).code, 2, 'conformance without DIR');
  for (const cmd of ['port', 'jit']) {
    const h = await cli(cmd, '--help');
    t.equal(h.code, 0, `${cmd} --help`);
    t.match(h.out, new RegExp(`^usage: bpfconform ${cmd} `), `${cmd} --help prints its usage`);
  }
  const badJit = await cli('jit', '--bogus');
  t.equal(badJit.code, 2);
  t.match(badJit.err, /^bpfconform jit: unknown option --bogus\nTry 'bpfconform jit --help'\.\n$/);
});

t.test('conformance delegates to the bpf_conformance runner', async (t) => {
  const fixtures = fileURLToPath(new URL('./fixtures/conformance', import.meta.url));
  const r = await cli('conformance', fixtures);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /conformance: \d+ passed, 0 failed, \d+ skipped\n$/);
  const missing = await cli('conformance', join(dir, 'none'));
  t.equal(missing.code, 2);
  t.notMatch(missing.err, STACK);
});

t.test('exit 0 / 1 through the command, with the fake backend module', async (t) => {
  const pass = await cli('check', PASSING, '--backend-module', FAKE, '--jobs', '1');
  t.equal(pass.code, 0, pass.err);
  t.match(pass.out, /conformance: 2 passed, 0 failed, 0 skipped, 0 xfail\n$/);
  const fail = await cli('check', PASSING, FAILING, '--backend-module', FAKE, '--jobs', '1', '--reporter', 'summary');
  t.equal(fail.code, 1);
  t.match(fail.out, /^FAIL .*fail\.yaml:3 fail\/accept_7 \[engine\]: unexpected retval: 7 != 8\nconformance: 2 passed, 1 failed, 0 skipped, 0 xfail\n$/);
  const filtered = await cli('check', PASSING, FAILING, '--backend-module', FAKE, '--jobs', '1', '--filter', '^pass/');
  t.equal(filtered.code, 0, '--filter leaves the failing suite out');
});

t.test('bad input: exit 2, file:line:col: message, no stack trace', async (t) => {
  const missing = await cli('check', join(dir, 'nope.yaml'));
  t.equal(missing.code, 2);
  t.equal(missing.err, `${join(dir, 'nope.yaml')}: no such file or directory\n`);
  const bad = await cli('check', PASSING, BAD);
  t.equal(bad.code, 2);
  t.match(bad.err, new RegExp(`^${BAD.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6:\\d+: .*maybe`));
  t.notMatch(bad.err, STACK);
  t.equal(bad.out, '', 'nothing runs when any spec is bad');
});

t.test('the installed launcher: real exit codes, stdout/stderr, any cwd', async (t) => {
  const opts = { reject: false, cwd: tmpdir(), env: { NO_COLOR: '1' } } as const;
  // 'chatty' writes to stdout from inside a worker: that must go to stderr, not into TAP.
  const chatty = spec('chatty.yaml', 'suite: chatty\ntests:\n  - {name: chatty, section: socket, asm: "r0 = 0; exit;"}\n');
  const ok = await execa('node', [BIN, 'check', chatty, PASSING, '--backend-module', FAKE, '--jobs', '2'], opts);
  t.equal(ok.exitCode, 0, ok.stderr);
  t.match(ok.stdout, /^TAP version 14\n1\.\.2\n# Subtest: .*chatty\.yaml\n    1\.\.1\n    ok 1 - chatty\nok 1 - .*chatty\.yaml\n# Subtest: .*pass\.yaml\n    1\.\.2\n    ok 1 - accept_7\n    ok 2 - reject\nok 2 - .*pass\.yaml\nconformance: 3 passed, 0 failed, 0 skipped, 0 xfail$/);
  t.match(ok.stderr, /chatter from a backend/);
  const fail = await execa('node', [BIN, 'check', FAILING, '--backend-module', FAKE], opts);
  t.equal(fail.exitCode, 1);
  const bad = await execa('node', [BIN, 'check', BAD], opts);
  t.equal(bad.exitCode, 2);
  t.match(bad.stderr, /bad\.yaml:6:\d+: /);
  t.notMatch(bad.stderr, STACK);
});

