// Shared by test/spec-fuzz-*.test.ts: small valid seed suites (between them every feature of
// the format), a seeded PRNG, byte- and structure-level mutators, and the check loop.
import { parse, stringify } from 'yaml';
import { InputError } from '../../engine/errors.ts';
import { loadSuiteText, SpecErrors } from '../../harness/spec/index.ts';
import { mulberry32 } from './rng.ts';

export const SEEDS = [
  `suite: fa
maps:
  m: {type: hash, key_size: 8, value_size: 8, max_entries: 1}
subprogs:
  sub7:
    params: [{a: int}]
    asm: |
      r0 = r1;
      exit;
tests:
  - name: calls
    section: tc
    asm: |
      r1 = %[m] ll;
      call sub7;
      exit;
    expect: {result: success, retval: 8}
`,
  `suite: fb
tests:
  - name: raw
    section: "?raw_tp"
    log_level: 2
    flags: ["!BPF_F_TEST_RND_HI32", 8]
    insns: [b700000007000000, "9500000000000000"]
    expect:
      result: failure
      msgs: ["x", {not: "y"}, "R{{[0-9]}} z"]
      xlated: ["r0 = 7", "...", "exit"]
      jited: {x86_64: ["endbr64"]}
    unpriv: {msgs: ["u"], retval: POINTER_VALUE}
    caps_unpriv: [CAP_BPF]
    xfail: {reason: "later"}
`,
  `suite: fc
series: v4
maps:
  o: {type: array_of_maps, key_size: 4, value_size: 4, max_entries: 1, flags: [BPF_F_RDONLY_PROG],
      inner: {type: array, key_size: 4, value_size: 4, max_entries: 1, init: [{key: 0, value: "01000000"}]}}
kfuncs:
  kf: {params: [mem: void *, mem__sz: int], ret: void, flags: [KF_RET_NULL]}
tests:
  - name: imm
    section: socket
    imm: {k: -8, raw: {insn: "b700000001000000"}}
    asm: "r2 = %[k]; .8byte %[raw]; exit;"
`,
  `suite: fd
tests:
  - name: from_c
    section: syscall
    from: progs/x.c:f
    insns: ["18010000ffffffff", "00000000ffffffff", "9500000000000000"]
    expect: {retval: "0xffffffff", stack_arg_depth: {"func#0": {incoming: 0, outgoing: 2}}}
    auxiliary: true
`,
];


let rnd = mulberry32(1);
export const reseed = (seed: number): void => {
  rnd = mulberry32(seed);
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const SPECIAL = [':', '-', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', ',', '?', '\n', ' ', '\t', '\\', '\u0000', 'é', '{{', '}}', '...', '0x', 'r11', ';'];

export function mutateBytes(s: string): string {
  let out = s;
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rnd() * (out.length + 1));
    const op = rnd();
    if (op < 0.3) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rnd() * 8));
    else if (op < 0.6) out = out.slice(0, at) + pick(SPECIAL) + out.slice(at);
    else if (op < 0.8) out = out.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 128)) + out.slice(at + 1);
    else {
      // Duplicate a random line somewhere else (indentation games).
      const lines = out.split('\n');
      const l = pick(lines);
      lines.splice(Math.floor(rnd() * lines.length), 0, l);
      out = lines.join('\n');
    }
  }
  return out;
}

type J = null | boolean | number | string | J[] | { [k: string]: J };
const RANDOM_VALUES: J[] = [null, true, 0, -1, 2 ** 40, 'x', '', '!BPF_F_NOPE', 'POINTER_VALUE', 'r0 = %[nope]; exit;', '{{', [], {}, [1, 'a'], { not: 1 }, 'exit;', 'b700000007000000', 1.5];
const RANDOM_KEYS = ['name', 'section', 'asm', 'insns', 'expect', 'unpriv', 'msgs', 'bogus', 'type', 'inner', 'not', 'retval', 'flags', 'imm', 'from', 'xlated', 'jited', 'x86_64', 'params', 'tests'];

function walkContainers(v: J, out: (J[] | { [k: string]: J })[]): void {
  if (Array.isArray(v)) {
    out.push(v);
    v.forEach((x) => walkContainers(x, out));
  } else if (v && typeof v === 'object') {
    out.push(v);
    Object.values(v).forEach((x) => walkContainers(x, out));
  }
}

export function mutateStructure(s: string): string {
  const doc = structuredClone(parsedSeed(s));
  const n = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < n; i++) {
    const all: (J[] | { [k: string]: J })[] = [];
    walkContainers(doc, all);
    const c = pick(all);
    const op = rnd();
    if (Array.isArray(c)) {
      if (c.length && op < 0.3) c.splice(Math.floor(rnd() * c.length), 1);
      else if (c.length && op < 0.6) c.push(structuredClone(pick(c)));
      else if (c.length) c[Math.floor(rnd() * c.length)] = structuredClone(pick(RANDOM_VALUES));
      else c.push(structuredClone(pick(RANDOM_VALUES)));
    } else {
      const keys = Object.keys(c);
      if (keys.length && op < 0.3) delete c[pick(keys)];
      else if (keys.length && op < 0.6) c[pick(keys)] = structuredClone(pick(RANDOM_VALUES));
      else if (keys.length && op < 0.8) c[pick(RANDOM_KEYS)] = structuredClone(c[pick(keys)]);
      else c[pick(RANDOM_KEYS)] = structuredClone(pick(RANDOM_VALUES));
    }
  }
  return stringify(doc);
}

const parsed = new Map<string, J>();
function parsedSeed(s: string): J {
  let j = parsed.get(s);
  if (j === undefined) {
    j = parse(s) as J;
    parsed.set(s, j);
  }
  return j;
}

export interface FuzzResult {
  loaded: number;
  rejected: number;
  bad: string[];
  ms: number;
}

/** Load `n` inputs made by `make`; collect anything that is not a located InputError. */
export function fuzz(n: number, make: (i: number) => string): FuzzResult {
  const r: FuzzResult = { loaded: 0, rejected: 0, bad: [], ms: 0 };
  const start = Date.now();
  for (let i = 0; i < n; i++) {
    const input = make(i);
    try {
      loadSuiteText(input, 'fuzz.yaml');
      r.loaded++;
    } catch (e) {
      if (!(e instanceof InputError)) {
        r.bad.push(`#${i} ${(e as Error)?.stack ?? String(e)}\n--- input ---\n${input}`);
        continue;
      }
      r.rejected++;
      const errs = e instanceof SpecErrors ? e.errors : [e];
      const x = errs.find((x) => x.loc.file !== 'fuzz.yaml' || !(x.loc.line >= 1) || !(x.loc.col >= 1));
      if (x) r.bad.push(`#${i} unlocated: ${x.format()}\n--- input ---\n${input}`);
    }
  }
  r.ms = Date.now() - start;
  return r;
}

export { loadSuiteText };

/** A byte-level campaign: characters deleted, inserted and replaced, lines duplicated. */
export function byteCampaign(seed: number, n: number): FuzzResult {
  reseed(seed);
  return fuzz(n, (i) => mutateBytes(SEEDS[i % SEEDS.length]));
}

/** A structure-level campaign: keys deleted, values swapped for values of other types,
 *  unknown keys added, list items duplicated; every 5th input is byte-mutated as well. */
export function structureCampaign(seed: number, n: number): FuzzResult {
  reseed(seed);
  return fuzz(n, (i) => {
    const s = mutateStructure(SEEDS[i % SEEDS.length]);
    return i % 5 === 0 ? mutateBytes(s) : s;
  });
}
