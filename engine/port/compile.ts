// Compiling kernel selftest sources the way tools/testing/selftests/bpf/Makefile does for
// test_progs: clang -g -O2 --target=bpf -mcpu=v3 -D__TARGET_ARCH_x86 -DENABLE_ATOMICS_TESTS,
// with the tree's progs/ headers, libbpf's headers from tools/lib/bpf, a bpf_helper_defs.h
// generated from the tree's uapi bpf.h, and a vmlinux.h dumped from the running kernel's BTF.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';

export interface SelftestTree {
  /** Kernel source root. */
  readonly root: string;
  /** tools/testing/selftests/bpf */
  readonly selftests: string;
}

const SELFTESTS = join('tools', 'testing', 'selftests', 'bpf');

/** The selftests tree a path belongs to: a kernel root, the selftests dir, its progs/ dir, or a
 *  file inside progs/. */
export function findSelftestTree(path: string): SelftestTree | undefined {
  let p = resolve(path);
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(p, SELFTESTS, 'progs', 'bpf_misc.h'))) return { root: p, selftests: join(p, SELFTESTS) };
    if (existsSync(join(p, 'progs', 'bpf_misc.h')) && basename(p) === 'bpf') return { root: resolve(p, '../../../..'), selftests: p };
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  return undefined;
}

export interface Toolchain {
  readonly clang: string;
  readonly bpftool: string;
  readonly python: string;
}

export const DEFAULT_TOOLCHAIN: Toolchain = { clang: 'clang-19', bpftool: 'bpftool', python: 'python3' };

/** libbpf headers the selftests include as <bpf/...>. */
const LIBBPF_HEADERS = ['bpf_helpers.h', 'bpf_tracing.h', 'bpf_core_read.h', 'bpf_endian.h', 'usdt.bpf.h'];

function writeIfChanged(path: string, text: string | Buffer): void {
  if (existsSync(path) && Buffer.compare(readFileSync(path), Buffer.from(text)) === 0) return;
  writeFileSync(path, text);
}

function run(cmd: string, args: readonly string[], what: string): Buffer {
  const r = spawnSync(cmd, args, { maxBuffer: 512 << 20 });
  if (r.error) throw new InputError(`${what}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new InputError(`${what}: ${cmd} exited with ${r.status}: ${r.stderr.toString().trim().split('\n').slice(0, 20).join('\n')}`);
  return r.stdout;
}

/** Fill `<cache>/include` (idempotent; files are rewritten only when their content changes).
 *  Returns the include directory. */
export function prepareIncludes(tree: SelftestTree, cache: string, tc: Toolchain = DEFAULT_TOOLCHAIN, vmlinux = '/sys/kernel/btf/vmlinux'): string {
  const inc = join(cache, 'include');
  mkdirSync(join(inc, 'bpf'), { recursive: true });
  const libbpf = join(tree.root, 'tools', 'lib', 'bpf');
  for (const h of LIBBPF_HEADERS) {
    const src = join(libbpf, h);
    if (existsSync(src)) writeIfChanged(join(inc, 'bpf', h), readFileSync(src));
  }
  const defs = join(inc, 'bpf', 'bpf_helper_defs.h');
  if (!existsSync(defs)) {
    const doc = join(tree.root, 'scripts', 'bpf_doc.py');
    const uapi = join(tree.root, 'include', 'uapi', 'linux', 'bpf.h');
    writeIfChanged(defs, run(tc.python, [doc, '--header', '--file', uapi], 'generating bpf_helper_defs.h'));
  }
  const vmh = join(inc, 'vmlinux.h');
  if (!existsSync(vmh)) {
    if (!existsSync(vmlinux)) throw new InputError(`${vmlinux} does not exist: the running kernel has no BTF to generate vmlinux.h from`);
    writeIfChanged(vmh, run(tc.bpftool, ['btf', 'dump', 'file', vmlinux, 'format', 'c'], 'generating vmlinux.h'));
  }
  return inc;
}

/** clang's own system include dirs, as -idirafter (the Makefile's get_sys_includes). */
function sysIncludes(clang: string): string[] {
  const r = spawnSync(clang, ['-v', '-E', '-'], { input: '', encoding: 'utf8' });
  if (r.error) throw new InputError(`cannot run ${clang}: ${r.error.message}`);
  const text = `${r.stdout}${r.stderr}`;
  const start = text.indexOf('#include <...> search starts here:');
  const end = text.indexOf('End of search list.');
  if (start < 0 || end < 0) return [];
  return text
    .slice(start, end)
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('/'))
    .flatMap((d) => ['-idirafter', d]);
}

/** Flags for one selftest object (test_progs flavour, -mcpu=v3). */
export function selftestCflags(tree: SelftestTree, inc: string, tc: Toolchain = DEFAULT_TOOLCHAIN, extra: readonly string[] = []): string[] {
  return [
    '-g', '-Wall', '-Werror', '-D__TARGET_ARCH_x86', '-mlittle-endian',
    `-I${inc}`, `-I${tree.selftests}`, `-I${join(tree.root, 'tools', 'include', 'uapi')}`,
    '-Wno-compare-distinct-pointer-types',
    ...sysIncludes(tc.clang),
    '-DENABLE_ATOMICS_TESTS',
    '-O2', '--target=bpf', '-mcpu=v3',
    ...extra,
  ];
}

/** Flags the shown build line uses (no absolute paths, so suites stay deterministic). */
export function displayCflags(extra: readonly string[] = []): string {
  return ['-g -O2 --target=bpf -mcpu=v3 -D__TARGET_ARCH_x86 -DENABLE_ATOMICS_TESTS -Wall -Werror', ...extra].join(' ');
}

/** Compile one .c to `out`. A compile error is bad input (InputError with clang's text). */
export function compileC(src: string, out: string, flags: readonly string[], tc: Toolchain = DEFAULT_TOOLCHAIN): void {
  mkdirSync(dirname(out), { recursive: true });
  const r = spawnSync(tc.clang, [...flags, '-c', src, '-o', out], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new InputError(`cannot run ${tc.clang}: ${r.error.message}`, { file: src, line: 0, col: 0 });
  if (r.status !== 0) {
    const first = /^(.*?):(\d+):(\d+): error: (.*)$/m.exec(r.stderr);
    const loc = first ? { file: first[1], line: Number(first[2]), col: Number(first[3]) } : { file: src, line: 0, col: 0 };
    const detail = r.stderr.trim().split('\n').slice(0, 12).join('\n');
    throw new InputError(`${tc.clang} failed to compile ${basename(src)}:\n${detail}`, loc);
  }
}

/** Known per-file flags: sources that clang-19 rejects against a newer kernel's vmlinux.h
 *  (6.18 made some struct members const; the 6.12 sources assign them to non-const
 *  pointers). Applied only to these files, and shown in the suite header. */
export const KNOWN_EXTRA_CFLAGS: Readonly<Record<string, readonly string[]>> = {
  verifier_vfs_accept: ['-Wno-error'],
  verifier_vfs_reject: ['-Wno-error'],
};

/** The verifier_*.c files 6.12's prog_tests/verifier.c drives, plus verifier_kfunc_prog_types
 *  (driven by its own prog_test), in name order. */
export function drivenVerifierSources(tree: SelftestTree): string[] {
  const driver = join(tree.selftests, 'prog_tests', 'verifier.c');
  if (!existsSync(driver)) throw new InputError(`${driver} does not exist`);
  const names = new Set<string>();
  for (const m of readFileSync(driver, 'utf8').matchAll(/#include "(verifier_[a-z0-9_]+)\.skel\.h"/g)) names.add(m[1]);
  names.add('verifier_kfunc_prog_types');
  return [...names].sort().map((n) => join(tree.selftests, 'progs', `${n}.c`)).filter((p) => existsSync(p));
}
