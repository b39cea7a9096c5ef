// The bpf_conformance test file format (Alan-Jowett/bpf_conformance, tests/*.data):
// sections introduced by `-- <kind>` lines. `asm` holds the program in the ubpf-style
// dialect, `raw` the program as 64-bit hex words (one slot each, opcode in the low byte),
// `mem` hex bytes handed to the program (r1 = pointer, r2 = length), `result` the expected
// r0, `error` an expected failure, `map` map declarations. Other sections (`c`,
// `no register offset`) are notes and are ignored. `#` starts a comment in asm and map.

import { InputError } from '../../engine/errors.ts';

export interface SourceLine {
  readonly text: string;
  /** 1-based line number in the file. */
  readonly line: number;
}

export interface ConformanceMap {
  readonly name: string;
  /** enum bpf_map_type number. */
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly line: number;
}

export interface ConformanceTest {
  readonly file: string;
  readonly asm?: readonly SourceLine[];
  /** Raw slots, each as an unsigned 64-bit value. */
  readonly raw?: readonly bigint[];
  readonly mem: Uint8Array;
  readonly result?: bigint;
  readonly error?: string;
  readonly maps: readonly ConformanceMap[];
}

type Section = 'asm' | 'raw' | 'mem' | 'result' | 'error' | 'map' | 'ignore';

function sectionOf(header: string): Section | undefined {
  const name = header.replace(/^--\s*/, '').trim().toLowerCase();
  switch (name) {
    case 'asm': case 'raw': case 'mem': case 'result': case 'error': case 'map':
      return name;
    case 'c': case 'no register offset':
      return 'ignore';
    default:
      return undefined;
  }
}

const stripComment = (s: string): string => {
  const i = s.indexOf('#');
  return (i >= 0 ? s.slice(0, i) : s).trim();
};

/** Parse an unsigned or signed integer in decimal or 0x-hex into a 64-bit two's complement. */
export function parseU64(text: string): bigint | undefined {
  const t = text.trim();
  const m = /^([+-]?)(0x[0-9a-f]+|\d+)$/i.exec(t);
  if (!m) return undefined;
  const v = BigInt(m[2]);
  if (v >= 1n << 64n) return undefined;
  return BigInt.asUintN(64, m[1] === '-' ? -v : v);
}

export function parseConformance(text: string, file = '<input>'): ConformanceTest {
  let section: Section = 'ignore';
  const asm: SourceLine[] = [];
  const raw: bigint[] = [];
  const memBytes: number[] = [];
  const maps: ConformanceMap[] = [];
  let result: bigint | undefined;
  let error: string | undefined;
  let sawAsm = false, sawRaw = false;
  const lines = text.split('\n');
  lines.forEach((rawLine, idx) => {
    const line = rawLine.replace(/\r$/, '');
    const lineNo = idx + 1;
    const at = (col = 1) => ({ file, line: lineNo, col });
    if (/^\s*--/.test(line)) {
      const s = sectionOf(line.trim());
      if (s === undefined) throw new InputError(`unknown section header '${line.trim()}'`, at());
      section = s;
      if (s === 'asm') sawAsm = true;
      if (s === 'raw') sawRaw = true;
      return;
    }
    if (line.trim() === '') return;
    switch (section) {
      case 'asm': {
        const t = stripComment(line);
        if (t) asm.push({ text: t, line: lineNo });
        break;
      }
      case 'raw':
        for (const w of stripComment(line).split(/\s+/).filter(Boolean)) {
          const v = parseU64(w);
          if (v === undefined) throw new InputError(`bad raw instruction word '${w}'`, at(line.indexOf(w) + 1));
          raw.push(v);
        }
        break;
      case 'mem':
        for (const w of stripComment(line).split(/\s+/).filter(Boolean)) {
          if (!/^[0-9a-f]{1,2}$/i.test(w)) throw new InputError(`bad memory byte '${w}'`, at(line.indexOf(w) + 1));
          memBytes.push(parseInt(w, 16));
        }
        break;
      case 'result': {
        const t = stripComment(line);
        if (!t) break;
        const v = parseU64(t);
        if (v === undefined) throw new InputError(`bad result value '${t}'`, at(line.indexOf(t) + 1));
        result = v;
        break;
      }
      case 'error':
        error = line.trim();
        break;
      case 'map': {
        const t = stripComment(line);
        if (!t) break;
        const f = t.split(/\s+/);
        const nums = f.slice(1).map(Number);
        if (f.length !== 5 || nums.some((n) => !Number.isInteger(n) || n < 0)) {
          throw new InputError(`map line must be 'name type key_size value_size max_entries': '${t}'`, at());
        }
        maps.push({ name: f[0], type: nums[0], keySize: nums[1], valueSize: nums[2], maxEntries: nums[3], line: lineNo });
        break;
      }
      default:
        break;
    }
  });
  if (sawAsm && sawRaw) throw new InputError('both -- asm and -- raw sections', { file, line: 0, col: 0 });
  return {
    file,
    asm: sawAsm ? asm : undefined,
    raw: sawRaw ? raw : undefined,
    mem: Uint8Array.from(memBytes),
    result,
    error,
    maps,
  };
}
