// The porter: kernel selftest sources or objects -> one YAML spec suite per file.
//   inputs.ts-like collection (collectInputs), compile (compile.ts), read (engine/elf), port
//   (port-object.ts), print (yaml-out.ts). The caller may pass `verify`, which re-reads the
//   YAML and names tests whose program differs from the object's; those are written again
//   with raw `insns` so a suite never misstates its bytecode.

import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { InputError } from '../errors.ts';
import { findByName } from '../btf/resolve.ts';
import { moduleBtf, vmlinuxBtf } from '../btf/vmlinux.ts';
import { readBpfObject } from '../elf/object.ts';
import type { KsymResolver } from '../elf/link.ts';
import {
  compileC, DEFAULT_TOOLCHAIN, displayCflags, drivenVerifierSources, findSelftestTree, KNOWN_EXTRA_CFLAGS,
  prepareIncludes, selftestCflags, type SelftestTree, type Toolchain,
} from './compile.ts';
import { portObject, type PortedSuite } from './port-object.ts';
import { runnerFacts } from './runner.ts';
import { suiteYaml } from './yaml-out.ts';
import { applyInventory, type Inventory } from './xfail.ts';

export { portObject, suiteYaml };
export type { PortedSuite };

export interface PortInput {
  readonly kind: 'c' | 'o';
  readonly path: string;
  readonly suite: string;
  readonly tree?: SelftestTree;
}

/** Expand command-line inputs: a selftests tree (or kernel root) means the verifier_*.c files
 *  prog_tests/verifier.c drives plus verifier_kfunc_prog_types.c (`all`: every
 *  progs/verifier_*.c); other directories mean their *.c and *.o files. */
export function collectInputs(paths: readonly string[], opts: { all?: boolean } = {}): PortInput[] {
  const out: PortInput[] = [];
  const add = (p: string): void => {
    const suite = basename(p).replace(/\.(c|o|bpf\.o)$/, '');
    if (p.endsWith('.c')) {
      const tree = findSelftestTree(p);
      out.push({ kind: 'c', path: p, suite, ...(tree ? { tree } : {}) });
    } else if (p.endsWith('.o')) {
      out.push({ kind: 'o', path: p, suite });
    } else {
      throw new InputError('not a .c source, a .o object or a directory', { file: p, line: 0, col: 0 });
    }
  };
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch {
      throw new InputError('no such file or directory', { file: p, line: 0, col: 0 });
    }
    if (!st.isDirectory()) {
      add(p);
      continue;
    }
    const tree = findSelftestTree(p);
    if (tree && existsSync(join(tree.selftests, 'prog_tests', 'verifier.c')) && !p.replace(/\/+$/, '').endsWith('progs')) {
      const files = opts.all
        ? readdirSync(join(tree.selftests, 'progs')).filter((f) => /^verifier_.*\.c$/.test(f)).sort().map((f) => join(tree.selftests, 'progs', f))
        : drivenVerifierSources(tree);
      files.forEach(add);
      continue;
    }
    const files = readdirSync(p).filter((f) => f.endsWith('.c') || f.endsWith('.o')).sort();
    if (!files.length) throw new InputError('directory has no .c or .o files', { file: p, line: 0, col: 0 });
    files.forEach((f) => add(join(p, f)));
  }
  const seen = new Map<string, string>();
  for (const i of out) {
    const prev = seen.get(i.suite);
    if (prev) throw new InputError(`two inputs make suite ${i.suite}: ${prev} and ${i.path}`, { file: i.path, line: 0, col: 0 });
    seen.set(i.suite, i.path);
  }
  return out;
}

/** Kernel BTF ids for externs: vmlinux, then bpf_testmod when it is loaded. */
export const kernelKsymResolver: KsymResolver = (name, kind) => {
  const k = kind === 'func' ? 'FUNC' : 'VAR';
  const vm = vmlinuxBtf();
  const hit = vm ? findByName(vm, name, k) : undefined;
  if (hit) return hit.id;
  const mod = moduleBtf('bpf_testmod');
  return mod ? findByName(mod, name, k)?.id : undefined;
};

export interface PortContext {
  /** Scratch directory for generated headers and objects. */
  readonly cache: string;
  readonly toolchain?: Toolchain;
  readonly cflags?: readonly string[];
  readonly resolveKsym?: KsymResolver;
  /** Suite `base_flags` to write: the prog flags the runner starts from (test_progs on a
   *  kernel where its flag probe fails: 0). Omitted: the spec default. */
  readonly baseFlags?: number;
  /** The xfail inventory (corpus/xfail-6.18.yaml) to write into the suite as `xfail`. */
  readonly inventory?: Inventory;
  /** Names of tests whose YAML program differs from `insns` (see the module comment). */
  readonly verify?: (yaml: string, file: string, suite: PortedSuite) => ReadonlySet<string>;
}

export interface PortFileResult {
  readonly input: PortInput;
  readonly suite: PortedSuite;
  readonly yaml: string;
  /** Shown source path (relative to the kernel tree, or the file name). */
  readonly source: string;
  /** Tests written as raw insns because their asm text did not round-trip. */
  readonly rawFallbacks: readonly string[];
}

export function portFile(input: PortInput, ctx: PortContext): PortFileResult {
  const tc = ctx.toolchain ?? DEFAULT_TOOLCHAIN;
  let objPath = input.path;
  let build: string | undefined;
  let source = basename(input.path);
  if (input.kind === 'c') {
    const tree = input.tree;
    if (!tree) throw new InputError('not inside a kernel selftests tree (no progs/bpf_misc.h above it); compile it yourself and pass the .o', { file: input.path, line: 0, col: 0 });
    const extra = [...(KNOWN_EXTRA_CFLAGS[input.suite] ?? []), ...(ctx.cflags ?? [])];
    const inc = prepareIncludes(tree, ctx.cache, tc);
    objPath = join(ctx.cache, 'obj', `${input.suite}.o`);
    compileC(input.path, objPath, selftestCflags(tree, inc, tc, extra), tc);
    build = `${tc.clang} ${displayCflags(extra)} (vmlinux.h from the running kernel)`;
    source = relative(tree.root, input.path);
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(objPath));
  } catch (e) {
    throw new InputError(`cannot read object: ${(e as Error).message}`, { file: objPath, line: 0, col: 0 });
  }
  const obj = readBpfObject(bytes, input.kind === 'o' ? input.path : `${input.suite}.o`);
  const resolveKsym = ctx.resolveKsym ?? kernelKsymResolver;
  const coreTarget = vmlinuxBtf();
  // How test_progs drives the file (caps, pre-run map seeds), when we know its tree.
  const runner = input.tree ? runnerFacts(input.tree.selftests, input.suite) : undefined;
  const base = {
    suite: input.suite,
    resolveKsym,
    ...(coreTarget ? { coreTarget } : {}),
    ...(ctx.baseFlags !== undefined ? { baseFlags: ctx.baseFlags } : {}),
    ...(runner ? { keepSysAdmin: runner.keepSysAdmin, mapSeeds: runner.mapSeeds } : {}),
  };
  const withXfail = (s: PortedSuite): PortedSuite => (ctx.inventory ? applyInventory(s, ctx.inventory) : s);
  let suite = withXfail(portObject(obj, base));
  const header = { source, ...(build ? { build } : {}) };
  let yaml = suiteYaml(suite, header);
  let rawFallbacks: string[] = [];
  if (ctx.verify) {
    const bad = ctx.verify(yaml, `${input.suite}.yaml`, suite);
    if (bad.size) {
      rawFallbacks = [...bad].sort();
      suite = withXfail(portObject(obj, { ...base, rawInsns: bad }));
      yaml = suiteYaml(suite, header);
    }
  }
  return { input, suite, yaml, source, rawFallbacks };
}
