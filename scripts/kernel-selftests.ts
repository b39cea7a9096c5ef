// `make kernel-selftests`: port the 6.12 verifier selftests and run them.
//   1. find the kernel tree (default .cache/linux-source-6.12; unpacked from Debian's
//      linux-source-6.12 tarball, installed with apt-get when missing);
//   2. port every verifier_*.c prog_tests/verifier.c drives, plus verifier_kfunc_prog_types.c,
//      into .cache/kernel-selftests/specs (git-ignored; ported kernel files are never committed);
//   3. run `bpfconform check --backend <sel>` on them and print a per-file table, judged the
//      way test_progs judges the corpus: one verdict per test program, from its privileged
//      run (test_progs' unpriv subtests need kernel.unprivileged_bpf_disabled=0; a program
//      with only an unpriv run counts as a skip), every program loaded with base prog flags
//      --base-flags (default 0: test_progs' testing_prog_flags() probe loads a program named
//      "flag-test", a name 6.18 refuses for its '-', so no BPF_F_TEST_* flag is ever set).
//      A table row per file, the total, and every program that did not pass with its reason
//      (also written to <out>/not-passed-<backend>.txt).
//
// usage: node --import tsx scripts/kernel-selftests.ts [--backend engine|kernel|both]
//          [--tree DIR] [--out DIR] [--jobs N] [--base-flags N] [--port-only]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { collectInputs, portFile } from '../engine/port/index.ts';
import { mismatchedTests } from '../harness/commands/port.ts';
import { inputErrorsOf } from '../harness/run/suites.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE = 'linux-source-6.12';
const TARBALL = `/usr/src/${PACKAGE}.tar.xz`;

function sh(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`kernel-selftests: ${what} failed (${cmd} ${args.join(' ')})\n`);
    process.exit(2);
  }
}

/** The tree, unpacked into the cache from the apt package if needed (only the parts the
 *  selftests build reads: tools/, scripts/bpf_doc.py, include/uapi/). */
function ensureTree(tree: string): void {
  if (existsSync(join(tree, 'tools', 'testing', 'selftests', 'bpf', 'progs', 'bpf_misc.h'))) return;
  if (!existsSync(TARBALL)) {
    process.stderr.write(`kernel-selftests: ${TARBALL} missing; installing ${PACKAGE} with apt-get\n`);
    const root = process.getuid?.() === 0;
    const apt = (args: string[]) => spawnSync(root ? 'apt-get' : 'sudo', [...(root ? [] : ['apt-get']), ...args], { stdio: 'inherit' }).status === 0;
    // A fresh machine may have no package lists yet: update once, then retry.
    if (!apt(['install', '-y', '--no-install-recommends', PACKAGE])) {
      sh(root ? 'apt-get' : 'sudo', [...(root ? [] : ['apt-get']), 'update'], 'apt-get update');
      sh(root ? 'apt-get' : 'sudo', [...(root ? [] : ['apt-get']), 'install', '-y', '--no-install-recommends', PACKAGE], `apt-get install ${PACKAGE}`);
    }
  }
  const parent = dirname(tree);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.unpack-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  process.stderr.write(`kernel-selftests: unpacking ${TARBALL} into ${tree}\n`);
  sh('tar', ['-xJf', TARBALL, '-C', tmp, '--wildcards', `${PACKAGE}/tools/*`, `${PACKAGE}/scripts/bpf_doc.py`, `${PACKAGE}/include/uapi/*`], 'unpacking');
  rmSync(tree, { recursive: true, force: true });
  spawnSync('mv', [join(tmp, PACKAGE), tree]);
  rmSync(tmp, { recursive: true, force: true });
}

interface Row {
  suite: string;
  programs: number;
  aux: number;
  pass: number;
  fail: number;
  skip: number;
  xfail: number;
}

interface ResultRow {
  suite: string;
  test: string;
  mode: string;
  backend: string;
  status: string;
  reason?: string;
  failures?: unknown[];
}

/** Why a run did not pass, on one line. */
function why(r: ResultRow): string {
  if (r.reason) return r.reason;
  const f = (r.failures ?? [])[0];
  if (f && typeof f === 'object' && 'message' in f) return String((f as { message: unknown }).message).split('\n')[0];
  return JSON.stringify(f ?? '').slice(0, 200);
}

function main(): number {
  const { values: o } = parseArgs({
    options: {
      backend: { type: 'string', default: 'engine' },
      tree: { type: 'string', default: join(REPO, '.cache', PACKAGE) },
      out: { type: 'string', default: join(REPO, '.cache', 'kernel-selftests') },
      jobs: { type: 'string' },
      'base-flags': { type: 'string', default: '0' },
      'port-only': { type: 'boolean' },
    },
  });
  const baseFlags = Number(o['base-flags']);
  if (!Number.isInteger(baseFlags) || baseFlags < 0 || baseFlags > 0xffffffff) {
    process.stderr.write(`kernel-selftests: --base-flags must be a number (got '${o['base-flags']}')\n`);
    return 2;
  }
  if (!['engine', 'kernel', 'both'].includes(o.backend!)) {
    process.stderr.write(`kernel-selftests: --backend must be engine, kernel or both\n`);
    return 2;
  }
  const tree = resolve(o.tree!);
  const out = resolve(o.out!);
  ensureTree(tree);
  const specs = join(out, 'specs');
  rmSync(specs, { recursive: true, force: true });
  mkdirSync(specs, { recursive: true });

  const rows = new Map<string, Row>();
  const problems: string[] = [];
  let bad = 0;
  for (const input of collectInputs([tree])) {
    try {
      const r = portFile(input, { cache: join(out, 'build'), verify: mismatchedTests, baseFlags });
      writeFileSync(join(specs, `${input.suite}.yaml`), r.yaml);
      const aux = r.suite.tests.filter((t) => t.auxiliary).length;
      rows.set(input.suite, { suite: input.suite, programs: r.suite.tests.length - aux, aux, pass: 0, fail: 0, skip: 0, xfail: 0 });
      for (const f of r.suite.failures) problems.push(`${input.suite}/${f.name}: not ported: ${f.reason}`);
      for (const n of r.rawFallbacks) problems.push(`${input.suite}/${n}: written as raw insns`);
    } catch (e) {
      const errs = inputErrorsOf(e);
      if (!errs) throw e;
      bad++;
      problems.push(`${input.suite}: ${errs.map((x) => x.format()).join('; ')}`);
    }
  }
  const programs = [...rows.values()].reduce((a, r) => a + r.programs, 0);
  const aux = [...rows.values()].reduce((a, r) => a + r.aux, 0);
  process.stdout.write(`ported ${rows.size} files: ${programs} test programs + ${aux} auxiliary -> ${specs}\n`);
  for (const p of problems) process.stdout.write(`  ${p}\n`);
  if (o['port-only']) return bad ? 2 : 0;

  const report = join(out, `report-${o.backend}.json`);
  const args = ['--import', 'tsx', join(REPO, 'harness', 'cli.ts'), 'check', '--backend', o.backend!, '--reporter', 'summary', '--report', report, ...(o.jobs ? ['--jobs', o.jobs] : []), specs];
  const r = spawnSync(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 30 });
  if (r.status === 2 || !existsSync(report)) {
    process.stdout.write(r.stdout?.toString() ?? '');
    process.stderr.write(`kernel-selftests: bpfconform check failed with status ${r.status}\n`);
    return 2;
  }
  const json = JSON.parse(readFileSync(report, 'utf8')) as { results: ResultRow[]; summary: string };
  const notPassed: string[] = [];
  for (const backend of o.backend === 'both' ? ['engine', 'kernel'] : [o.backend!]) {
    const table = new Map([...rows].map(([k, r]) => [k, { ...r }]));
    // One verdict per program: its priv run; a program without one is a skip (unpriv only).
    const byProgram = new Map<string, { priv?: ResultRow; any: ResultRow }>();
    for (const res of json.results) {
      if (res.backend !== backend || !table.has(res.suite)) continue;
      const key = `${res.suite}/${res.test}`;
      const e = byProgram.get(key) ?? { any: res };
      if (res.mode === 'priv') e.priv = res;
      byProgram.set(key, e);
    }
    for (const [key, e] of byProgram) {
      const row = table.get(e.any.suite)!;
      const r = e.priv;
      if (!r) {
        row.skip++;
        notPassed.push(`${backend} skip ${key}: no privileged run (unpriv-only test)`);
      } else if (r.status === 'pass') row.pass++;
      else {
        if (r.status === 'fail') row.fail++;
        else if (r.status === 'skip') row.skip++;
        else if (r.status === 'xfail') row.xfail++;
        notPassed.push(`${backend} ${r.status} ${key}: ${why(r)}`);
      }
    }
    printTable([...table.values()], backend);
  }
  const listFile = join(out, `not-passed-${o.backend}.txt`);
  writeFileSync(listFile, notPassed.join('\n') + '\n');
  process.stdout.write(`\nprograms that did not pass (${notPassed.length}; also in ${listFile}):\n`);
  for (const l of notPassed) process.stdout.write(`  ${l}\n`);
  process.stdout.write(`\nruns (priv and unpriv, per test and mode): ${json.summary}\n(report: ${report})\n`);
  return 0;
}

function printTable(rows: Row[], backend: string): void {
  const w = Math.max(5, ...rows.map((r) => r.suite.length));
  const line = (c: (string | number)[]) => `${String(c[0]).padEnd(w)}  ${c.slice(1).map((x) => String(x).padStart(8)).join('')}\n`;
  process.stdout.write(`\nbackend: ${backend} (per test program, privileged run, as test_progs judges)\n`);
  process.stdout.write(line(['file', 'programs', 'aux', 'pass', 'fail', 'skip']));
  const total: Row = { suite: 'total', programs: 0, aux: 0, pass: 0, fail: 0, skip: 0, xfail: 0 };
  for (const r of rows) {
    process.stdout.write(line([r.suite, r.programs, r.aux, r.pass, r.fail, r.skip]));
    for (const k of ['programs', 'aux', 'pass', 'fail', 'skip', 'xfail'] as const) total[k] += r[k];
  }
  process.stdout.write(line(['total', total.programs, total.aux, total.pass, total.fail, total.skip]));
}

process.exitCode = main();
