// Test support (not a test): pull the `asm volatile(...)` bodies of __naked functions out of
// the kernel's progs/verifier_*.c at test time, so no kernel file is ever committed.

import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The unpacked tree: $KERNEL_SRC, else the cache `make kernel-selftests` fills.
const TREE = process.env.KERNEL_SRC ?? join(import.meta.dirname, '..', '..', '.cache', 'linux-source-6.12');
const TARBALL = '/usr/src/linux-source-6.12.tar.xz';
const PROGS = 'tools/testing/selftests/bpf/progs';

/** Directory holding progs/verifier_*.c, unpacking just those from the tarball if needed. */
export function findProgsDir(): string | undefined {
  const direct = join(TREE, PROGS);
  if (existsSync(direct)) return direct;
  if (!existsSync(TARBALL)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'asm-progs-'));
  const r = spawnSync('tar', ['-xJf', TARBALL, '-C', dir, '--wildcards', `*/${PROGS}/verifier_*.c`], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const top = readdirSync(dir).find((d) => existsSync(join(dir, d, PROGS)));
  return top ? join(dir, top, PROGS) : undefined;
}

export interface Operand {
  /** The bpf_misc.h macro: __imm, __imm_addr, __imm_const, __imm_insn, __imm_ptr. */
  readonly macro: string;
  readonly name: string;
  /** The C expression of __imm_const / __imm_insn. */
  readonly expr?: string;
}

export interface AsmBody {
  readonly file: string;
  /** Function the asm belongs to. */
  readonly func: string;
  /** 1-based line of `asm volatile` in the file. */
  readonly line: number;
  /** The asm template (C string literals concatenated and unescaped). */
  readonly text: string;
  readonly operands: readonly Operand[];
  readonly clobbers: readonly string[];
  /** Has something we do not interpret here (a macro or #if between the strings). */
  readonly opaque: boolean;
  readonly naked: boolean;
}

const unescapeC = (s: string): string =>
  s.replace(/\\(n|t|"|\\|')/g, (_m, c: string) => ({ n: '\n', t: '\t', '"': '"', '\\': '\\', "'": "'" })[c] ?? c);

/** Split a comma list at top level (parentheses balanced). */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of s) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

export function extractBodies(file: string, raw: string): AsmBody[] {
  const out: AsmBody[] = [];
  // Translation phase 2: backslash-newline splices lines (also inside string literals).
  const src = raw.replace(/\\\r?\n/g, '');
  const re = /asm\s+volatile\s*\(/g;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    let i = m.index + m[0].length;
    let text = '';
    let opaque = false;
    // string literals, comments and stray tokens up to the first ':' or the closing ')'
    while (i < src.length) {
      const c = src[i];
      if (c === '"') {
        let j = i + 1;
        let lit = '';
        while (j < src.length && src[j] !== '"') {
          if (src[j] === '\\') {
            lit += src.slice(j, j + 2);
            j += 2;
          } else lit += src[j++];
        }
        text += unescapeC(lit);
        i = j + 1;
      } else if (src.startsWith('/*', i)) {
        const e = src.indexOf('*/', i + 2);
        i = e < 0 ? src.length : e + 2;
      } else if (src.startsWith('//', i)) {
        const e = src.indexOf('\n', i);
        i = e < 0 ? src.length : e;
      } else if (c === ':' || c === ')') break;
      else if (/\s/.test(c) || c === '\\') i++;
      else {
        opaque = true; // a macro or preprocessor line among the strings
        while (i < src.length && !'"\n'.includes(src[i])) i++;
      }
    }
    // operand and clobber sections: up to the matching ')'
    let depth = 1;
    let j = i;
    while (j < src.length && depth > 0) {
      if (src[j] === '(') depth++;
      else if (src[j] === ')') depth--;
      j++;
    }
    const sections = src.slice(i, j - 1).split(':').slice(1);
    const operands: Operand[] = [];
    for (const sec of sections.slice(0, 2)) {
      for (const item of splitTop(sec.replace(/\/\*[\s\S]*?\*\//g, ''))) {
        const om = /^(__imm\w*)\s*\(\s*(\w+)\s*(?:,\s*([\s\S]*))?\)$/.exec(item);
        if (om) operands.push({ macro: om[1], name: om[2], ...(om[3] ? { expr: om[3].trim() } : {}) });
        else if (item && !/^__clobber/.test(item)) opaque = true;
      }
    }
    const clobSec = sections[2] ?? '';
    const clobbers = clobSec.includes('__clobber_all')
      ? ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'memory']
      : clobSec.includes('__clobber_common')
        ? ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'memory']
        : [...clobSec.matchAll(/"(\w+)"/g)].map((x) => x[1]);
    const before = src.slice(Math.max(0, m.index - 2000), m.index);
    const fm = [...before.matchAll(/(\b__naked\b[^;{]*?)?\b(\w+)\s*\([^;{)]*\)\s*\{/g)].pop();
    const line = src.slice(0, m.index).split('\n').length;
    out.push({
      file, func: fm?.[2] ?? '?', line, text, operands, clobbers, opaque,
      naked: Boolean(fm?.[1]),
    });
  }
  return out;
}

export function allBodies(dir: string): AsmBody[] {
  const files = readdirSync(dir).filter((f) => /^verifier_.*\.c$/.test(f)).sort();
  return files.flatMap((f) => extractBodies(f, readFileSync(join(dir, f), 'utf8')));
}

/** The sections of an ELF64 little-endian object by name (enough to read clang's output). */
export function elfSections(elf: Uint8Array): Map<string, Uint8Array> {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  const hdr = (i: number): { name: number; off: number; size: number } => {
    const b = shoff + i * shentsize;
    return { name: dv.getUint32(b, true), off: Number(dv.getBigUint64(b + 0x18, true)), size: Number(dv.getBigUint64(b + 0x20, true)) };
  };
  const strtab = hdr(shstrndx);
  const nameAt = (o: number): string => {
    let e = strtab.off + o;
    while (elf[e] !== 0) e++;
    return new TextDecoder().decode(elf.subarray(strtab.off + o, e));
  };
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < shnum; i++) {
    const h = hdr(i);
    out.set(nameAt(h.name), elf.subarray(h.off, h.off + h.size));
  }
  return out;
}
