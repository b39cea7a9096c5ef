// The clang step (`make progs`): compile progs/*.c with clang-19 and write the bytecode of
// every test that says `from: progs/<file>.c:<function>` into its `insns:` list, plus the BTF
// facts the verifier needs into the suite's `kfuncs:` (prototypes of the kfunc externs the
// program calls, with parameter names). Edits keep the rest of each YAML file as written.
// `--check` (for `make check`) changes nothing and fails when a spec is stale.
//
// usage: node --import tsx scripts/clang-step.ts [--check] [--clang clang-19] [specs dir or files...]
//   (default: specs). Exit: 0 up to date / written, 1 stale (--check), 2 bad input.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseScriptArgs } from './lib/cli-args.ts';
import { isMap, isSeq, parseDocument, YAMLMap, YAMLSeq, type Document } from 'yaml';
import { InputError } from '../engine/errors.ts';
import { funcSignature } from '../engine/btf/resolve.ts';
import { readBpfObject, type BpfObject } from '../engine/elf/object.ts';
import { linkObjectProgram } from '../engine/elf/link.ts';
import { encodeHex } from '../engine/isa/encode.ts';
import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, LD_IMM64 } from '../engine/isa/opcodes.ts';
import type { Insn } from '../engine/isa/insn.ts';
import { kernelKsymResolver } from '../engine/port/index.ts';
import { findSpecFiles } from '../harness/spec/load.ts';

const USAGE = `usage: clang-step.ts [--check] [--clang BIN] [progs/*.c...]
Compile progs/*.c with clang-19 -target bpf into the specs that use them (--check: fail on stale bytecode).`;

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Flags for our own progs (not the kernel selftests' build): BTF for param names. */
export const PROGS_CFLAGS = ['-g', '-O2', '--target=bpf', '-mcpu=v3', '-Wall', '-Werror', '-idirafter', '/usr/include/x86_64-linux-gnu'];

export interface StepResult {
  readonly file: string;
  readonly changed: boolean;
  readonly text: string;
}

/** Compile one progs/*.c once per run. */
export class Compiler {
  private readonly objs = new Map<string, BpfObject>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'bpfconform-progs-'));
  constructor(
    private readonly clang: string,
    private readonly root: string,
  ) {}

  object(rel: string, at: { file: string; line: number; col: number }): BpfObject {
    let o = this.objs.get(rel);
    if (o) return o;
    const src = join(this.root, rel);
    const out = join(this.dir, `${rel.replace(/[/\\]/g, '_')}.o`);
    const r = spawnSync(this.clang, [...PROGS_CFLAGS, `-I${join(this.root, 'progs')}`, '-c', src, '-o', out], { encoding: 'utf8' });
    if (r.error) throw new InputError(`cannot run ${this.clang}: ${r.error.message}`, at);
    if (r.status !== 0) throw new InputError(`${this.clang} failed to compile ${rel}:\n${r.stderr.trim().split('\n').slice(0, 12).join('\n')}`, at);
    o = readBpfObject(new Uint8Array(readFileSync(out)), rel);
    this.objs.set(rel, o);
    return o;
  }
}

/** Rewrite one spec file's `from:` tests; returns the new text (unchanged when current). */
export function applyClangStep(file: string, text: string, compiler: { object(rel: string, at: { file: string; line: number; col: number }): BpfObject }): StepResult {
  const doc = parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length) throw new InputError(`YAML: ${doc.errors[0].message.split('\n')[0]}`, { file, line: 0, col: 0 });
  const root = doc.contents;
  if (!isMap(root)) return { file, changed: false, text };
  const tests = root.get('tests', true);
  if (!isSeq(tests)) return { file, changed: false, text };
  const mapNames = mapNameList(root);
  const lineOf = (node: { range?: [number, number, number] | null }) => {
    const off = node.range?.[0] ?? 0;
    const line = text.slice(0, off).split('\n').length;
    return { file, line, col: off - text.lastIndexOf('\n', off - 1) };
  };
  for (const item of tests.items) {
    if (!isMap(item)) continue;
    const from = item.get('from');
    if (typeof from !== 'string') continue;
    const at = lineOf(item.get('from', true) as { range?: [number, number, number] });
    const m = /^(progs\/[^:\s]+\.c):([A-Za-z_][A-Za-z0-9_]*)$/.exec(from);
    if (!m) throw new InputError(`from: expected progs/<file>.c:<function>, got ${JSON.stringify(from)}`, at);
    const obj = compiler.object(m[1], at);
    if (!obj.programs.some((p) => p.name === m[2])) throw new InputError(`${m[1]} has no program ${m[2]} (a function with a SEC())`, at);
    const linked = linkObjectProgram(obj, m[2], { resolveKsym: kernelKsymResolver });
    const insns = renumberMaps(linked.insns, obj, mapNames, at);
    item.set('insns', flowSeq(doc, encodeHex(insns)));
    addKfuncs(doc, root, obj, [...linked.refs.values()].flatMap((r) => (r.kind === 'kfunc' ? [r.name] : [])));
  }
  const out = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
  return { file, changed: out !== text, text: out };
}

function mapNameList(root: YAMLMap): string[] {
  const maps = root.get('maps', true);
  return isMap(maps) ? maps.items.map((p) => String((p.key as { value?: unknown })?.value ?? p.key)) : [];
}

/** The object's map indices -> the suite's (by name); global data needs a same-named map. */
function renumberMaps(insns: readonly Insn[], obj: BpfObject, suiteMaps: readonly string[], at: { file: string; line: number; col: number }): Insn[] {
  return insns.map((i) => {
    if (i.code !== LD_IMM64 || (i.src !== BPF_PSEUDO_MAP_FD && i.src !== BPF_PSEUDO_MAP_VALUE)) return i;
    const name = obj.maps[i.imm]?.name;
    const idx = suiteMaps.indexOf(name ?? '');
    if (idx < 0) throw new InputError(`the program uses map ${name}, which the suite's maps: does not define`, at);
    return { ...i, imm: idx };
  });
}

function flowSeq(doc: Document, words: string[]): YAMLSeq {
  const seq = doc.createNode(words) as YAMLSeq;
  seq.flow = true;
  return seq;
}

/** Add (or refresh the prototype of) each kfunc the program calls to the suite's kfuncs:. */
function addKfuncs(doc: Document, root: YAMLMap, obj: BpfObject, names: readonly string[]): void {
  if (!names.length || !obj.btf) return;
  const found: unknown = root.get('kfuncs', true);
  let km: YAMLMap;
  if (isMap(found)) {
    km = found;
  } else {
    km = doc.createNode({}) as YAMLMap;
    root.set('kfuncs', km);
  }
  for (const name of [...new Set(names)].sort()) {
    const ext = obj.externs.find((e) => e.name === name);
    if (ext?.btfId === undefined) continue;
    const sig = funcSignature(obj.btf, ext.btfId);
    const existing = km.get(name, true);
    const entry = isMap(existing) ? existing : (doc.createNode({ flags: [] }) as YAMLMap);
    const params = doc.createNode(sig.params.map((p, i) => ({ [p.name || `arg${i}`]: p.type }))) as YAMLSeq;
    params.flow = true;
    entry.set('params', params);
    entry.set('ret', sig.ret);
    if (!isMap(existing)) km.set(name, entry);
  }
}

function main(): number {
  const { values: o, positionals } = parseScriptArgs(USAGE, { allowPositionals: true, options: { check: { type: 'boolean' }, clang: { type: 'string', default: 'clang-19' } } });
  try {
    const files = findSpecFiles(positionals.length ? positionals : [join(REPO, 'specs')]);
    const compiler = new Compiler(o.clang!, REPO);
    let stale = 0;
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      if (!/^\s*from:/m.test(text)) continue;
      const r = applyClangStep(f, text, compiler);
      if (!r.changed) continue;
      if (o.check) {
        stale++;
        process.stderr.write(`${f}: bytecode from progs/ is stale; run 'make progs'\n`);
      } else {
        writeFileSync(f, r.text);
        process.stdout.write(`updated ${f}\n`);
      }
    }
    return stale ? 1 : 0;
  } catch (e) {
    if (e instanceof InputError) {
      process.stderr.write(`${e.format()}\n`);
      return 2;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main();
