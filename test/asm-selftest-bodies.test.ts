// Real selftest inline asm: every `asm volatile` body of a __naked function in the 6.12
// progs/verifier_*.c files (read from the installed kernel tree at test time, never
// committed) must assemble, and where clang-19 is installed, to exactly clang's bytes.

import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleFunction, type AsmFunction, type Binding } from '../engine/isa/asm/index.ts';
import { InputError } from '../engine/errors.ts';
import { helperId } from '../engine/isa/helpers.ts';
import { decode } from '../engine/isa/decode.ts';
import { encode } from '../engine/isa/encode.ts';
import type { Insn } from '../engine/isa/insn.ts';
import { LD_IMM64, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_BTF_ID } from '../engine/isa/opcodes.ts';
import { allBodies, elfSections, findProgsDir, type AsmBody } from './lib/asm-selftest-source.ts';

const dir = findProgsDir();
const CONST_INSN = 0x00000005000000b7n; // r0 = 5, for __imm_insn operands

/** Value given to an __imm_const operand (the real one is a C expression; any number shows
 *  the same thing as long as clang and we get the same one). */
const constValue = (name: string): bigint => BigInt(8 * ([...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 997, 7) % 64));

function bindingsFor(b: AsmBody): Record<string, Binding> {
  const out: Record<string, Binding> = {};
  let maps = 0;
  for (const o of b.operands) {
    if (o.macro === '__imm_addr') out[o.name] = { kind: 'map', index: maps++ };
    else if (o.macro === '__imm_const') out[o.name] = { kind: 'const', value: constValue(o.name) };
    else if (o.macro === '__imm_insn') out[o.name] = { kind: 'const', value: CONST_INSN };
    else if (o.macro === '__imm_ptr') out[o.name] = { kind: 'func', label: o.name };
    else if (o.macro === '__imm' && helperId(o.name) === undefined) out[o.name] = { kind: 'kfunc', btfId: 1000, name: o.name };
  }
  return out;
}

const usable = (b: AsmBody): boolean => b.naked && !b.opaque;

t.test('selftest asm bodies', { skip: dir ? false : 'no 6.12 kernel tree or tarball' }, async (t) => {
  const bodies = allBodies(dir ?? '');
  const naked = bodies.filter(usable);
  t.ok(naked.length > 1000, `${naked.length} of ${bodies.length} bodies are plain __naked asm`);

  const assembled = new Map<AsmBody, AsmFunction>();
  const failures: string[] = [];
  for (const b of naked) {
    try {
      assembled.set(b, assembleFunction(b.text, { file: b.file, bindings: bindingsFor(b), clobbers: b.clobbers }));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      failures.push(`${b.file} ${b.func}: ${e.format()}`);
    }
  }
  t.same(failures, [], `${assembled.size}/${naked.length} bodies assemble`);

  const clang = spawnSync('clang-19', ['--version']).status === 0;
  t.test('bytes equal clang-19', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
    const { source, included } = cFile([...assembled.keys()]);
    const tmp = mkdtempSync(join(tmpdir(), 'asm-clang-'));
    try {
      writeFileSync(join(tmp, 'b.c'), source);
      const r = spawnSync('clang-19', ['-target', 'bpf', '-O2', '-mcpu=v4', '-w', '-ferror-limit=3', '-c', 'b.c', '-o', 'b.o'], { cwd: tmp, encoding: 'utf8', timeout: 60_000 });
      t.equal(r.status, 0, `clang compiles ${included.length} bodies${r.status ? `: ${r.stderr.slice(0, 2000)}` : ''}`);
      if (r.status !== 0) return;
      const secs = elfSections(new Uint8Array(readFileSync(join(tmp, 'b.o'))));
      const diffs: string[] = [];
      included.forEach((b, k) => {
        const ours = assembled.get(b);
        const theirs = secs.get(`s${k}`);
        if (!ours || !theirs) {
          diffs.push(`${b.file} ${b.func}: missing section`);
          return;
        }
        const [a, c] = normalize(ours, decode(theirs));
        if (a !== c) diffs.push(`${b.file} ${b.func}:\n ours  ${a}\n clang ${c}`);
      });
      t.same(diffs, [], `${included.length - diffs.length}/${included.length} bodies byte-identical to clang-19`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

/** Compare with what libbpf would fill in blanked: clang's object has relocations (imm 0 or
 *  -1, src 0 or 1) where we already put map indexes, kfunc ids and pseudo-call distances. */
function normalize(ours: AsmFunction, theirs: Insn[]): [string, string] {
  const blank = new Set(ours.relocs.map((r) => r.index));
  ours.insns.forEach((i, k) => {
    if (i.code === LD_IMM64 && (i.src === BPF_PSEUDO_MAP_FD || i.src === BPF_PSEUDO_BTF_ID)) blank.add(k);
    if (i.code === 0x85 && i.src === BPF_PSEUDO_KFUNC_CALL) blank.add(k);
  });
  const clear = (list: readonly Insn[]): string => {
    const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return hex(encode(list.map((i, k) => (blank.has(k) ? { ...i, src: 0, imm: 0, ...(i.next ? { next: { ...i.next, imm: 0 } } : {}) } : i))));
  };
  return [clear(ours.insns), clear(theirs)];
}

/** One C file with every body as its own naked function in section s<k>, operands declared
 *  the way bpf_misc.h / bpf_helper_defs.h would declare them. Bodies whose names clash
 *  with another body's use of the same name are left out. */
function cFile(bodies: readonly AsmBody[]): { source: string; included: AsmBody[] } {
  const kinds = new Map<string, string>();
  const decls: string[] = [];
  const fns: string[] = [];
  const included: AsmBody[] = [];
  const declare = (name: string, kind: string, text: string): boolean => {
    const had = kinds.get(name);
    if (had) return had === kind;
    kinds.set(name, kind);
    if (text) decls.push(text);
    return true;
  };
  const cstr = (s: string): string => JSON.stringify(s).replace(/\\u([0-9a-f]{4})/g, (_m, h: string) => `\\x${h.slice(2)}`);
  for (const b of bodies) {
    const pending: [string, string, string][] = [];
    const ops: string[] = [];
    for (const o of b.operands) {
      const id = helperId(o.name);
      if (o.macro === '__imm' && id !== undefined) {
        pending.push([o.name, 'helper', `static long (* const ${o.name})(void) = (void *) ${id};`]);
        ops.push(`[${o.name}]"i"(${o.name})`);
      } else if (o.macro === '__imm') {
        pending.push([o.name, 'kfunc', `extern void ${o.name}(void) __attribute__((section(".ksyms")));`]);
        ops.push(`[${o.name}]"i"(${o.name})`);
      } else if (o.macro === '__imm_addr') {
        pending.push([o.name, 'map', `struct { int x; } ${o.name} __attribute__((section(".maps"), used));`]);
        ops.push(`[${o.name}]"i"(&${o.name})`);
      } else if (o.macro === '__imm_const') ops.push(`[${o.name}]"i"(${constValue(o.name)}LL)`);
      else if (o.macro === '__imm_insn') ops.push(`[${o.name}]"i"(${CONST_INSN}LL)`);
      else if (o.macro === '__imm_ptr') {
        pending.push([o.name, 'func', `static __attribute__((naked, used)) void ${o.name}(void) { asm volatile ("r0 = 0; exit;"); }`]);
        ops.push(`[${o.name}]"r"(&${o.name})`);
      }
    }
    const labels = new Set([...b.text.matchAll(/([A-Za-z_]\w*)\s*:/g)].map((m) => m[1]));
    for (const m of b.text.matchAll(/\bcall\s+([A-Za-z_]\w*)/g)) {
      if (!labels.has(m[1])) pending.push([m[1], 'func', `static __attribute__((naked, used)) void ${m[1]}(void) { asm volatile ("r0 = 0; exit;"); }`]);
    }
    // Plain labels (no %=) are symbols of the whole translation unit: one body each.
    for (const l of labels) pending.push([l, `label in ${b.file} ${b.func}`, '']);
    if (!pending.every(([n, k]) => !kinds.has(n) || kinds.get(n) === k)) continue;
    for (const [n, k, text] of pending) declare(n, k, text);
    const k = included.length;
    included.push(b);
    const clob = b.clobbers.map((c) => `"${c}"`).join(', ');
    fns.push(`__attribute__((naked, section("s${k}"), used)) void t_${k}(void) {\n  asm volatile (${cstr(b.text)} :: ${ops.join(', ')} : ${clob});\n}`);
  }
  return { source: `${decls.join('\n')}\n${fns.join('\n')}\nchar _license[] __attribute__((section("license"), used)) = "GPL";\n`, included };
}
