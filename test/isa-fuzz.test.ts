// Fuzz: 10,000+ mutated byte inputs (fixed seed). decode either succeeds, and then encode gives
// the input back and every printer returns text, or it throws InputError saying where.

import t from 'tap';
import { decode } from '../engine/isa/decode.ts';
import { encode } from '../engine/isa/encode.ts';
import { printInsn, printProgram, printXlatedInsn } from '../engine/isa/disasm.ts';
import { InputError } from '../engine/errors.ts';
import { readFixture } from '../scripts/record-disasm-oracle.ts';
import { xorshift32 as rng } from './lib/rng.ts';

const SEED = 0x5eed1234;
const RUNS = 12_000;


const corpus = readFixture().map((e) => Uint8Array.from(e.hex.match(/../g) ?? [], (h) => parseInt(h, 16)));

/** A seed program: a few corpus instructions back to back. */
function seedProgram(next: () => number): Uint8Array {
  const n = 1 + (next() % 8);
  const parts = Array.from({ length: n }, () => corpus[next() % corpus.length]);
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One of several mutations: byte/bit flips, interesting values, truncation, growth, splices. */
function mutate(b: Uint8Array, next: () => number): Uint8Array {
  const pick = next() % 8;
  const copy = () => Uint8Array.from(b);
  const at = b.length ? next() % b.length : 0;
  switch (pick) {
    case 0: { const c = copy(); if (c.length) c[at] ^= 1 << (next() % 8); return c; }
    case 1: { const c = copy(); if (c.length) c[at] = next() & 0xff; return c; }
    case 2: { const c = copy(); if (c.length) c[at - (at % 8)] = [0x18, 0x85, 0x95, 0xdb, 0x05, 0x06, 0xe5, 0xff][next() % 8]; return c; }
    case 3: { const c = copy(); if (c.length) c[at] = [0x00, 0xff, 0x7f, 0x80, 0x0b, 0xfc][next() % 6]; return c; }
    case 4: return b.slice(0, next() % (b.length + 1));
    case 5: {
      const extra = Uint8Array.from({ length: 1 + (next() % 16) }, () => next() & 0xff);
      const c = new Uint8Array(b.length + extra.length);
      c.set(b);
      c.set(extra, b.length);
      return c;
    }
    case 6: { const c = copy(); if (c.length >= 8) c[c.length - 8] = 0x18; return c; }
    default: return b.slice(next() % 8);
  }
}

t.test(`fuzz: ${RUNS} mutated inputs, seed 0x${SEED.toString(16)}`, async (t) => {
  const next = rng(SEED);
  let decoded = 0;
  let rejected = 0;
  let printed = 0;
  const problems: string[] = [];
  for (let run = 0; run < RUNS; run++) {
    let b = seedProgram(next);
    for (let m = 1 + (next() % 4); m > 0; m--) b = mutate(b, next);
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    try {
      const insns = decode(b, { file: 'fuzz.bin' });
      decoded++;
      const back = encode(insns);
      if (back.length !== b.length || back.some((x, i) => x !== b[i])) problems.push(`round trip: ${hex}`);
      for (const insn of insns) {
        const a = printInsn(insn);
        const x = printXlatedInsn(insn);
        const u = printInsn(insn, { allowPtrLeaks: false });
        if (!a || /undefined|NaN/.test(a + x + u)) problems.push(`text ${JSON.stringify(a)} for ${hex}`);
        printed++;
      }
      if (printProgram(insns).split('\n').length !== insns.length + 1) problems.push(`listing: ${hex}`);
    } catch (e) {
      if (!(e instanceof InputError)) {
        problems.push(`non-InputError ${String(e)} for ${hex}`);
        continue;
      }
      rejected++;
      // Where: the byte offset in the message, the file in the location.
      if (!/byte offset \d+/.test(e.message) || e.loc.file !== 'fuzz.bin') problems.push(`no location: ${e.message}`);
      // And only for the two documented reasons.
      const tooShort = b.length % 8 !== 0;
      if (tooShort !== /not a multiple of 8/.test(e.message)) problems.push(`wrong reason: ${e.message} for ${hex}`);
    }
  }
  t.same(problems.slice(0, 20), [], 'no crash, no lossy round trip, no bad text, every error located');
  t.equal(decoded + rejected, RUNS);
  t.ok(decoded > 1000 && rejected > 1000, `${decoded} decoded (${printed} insns printed), ${rejected} rejected`);
});

t.test('printInsn never throws on any field combination', async (t) => {
  const next = rng(0xfeedface);
  let n = 0;
  for (let code = 0; code < 256; code++) {
    for (let k = 0; k < 24; k++) {
      const insn = {
        code, dst: next() & 15, src: next() & 15,
        off: ((next() & 0xffff) << 16) >> 16, imm: next() | 0,
        ...(code === 0x18 ? { next: { code: 0, dst: 0, src: 0, off: 0, imm: next() | 0 } } : {}),
      };
      const s = printInsn(insn) + printXlatedInsn(insn);
      if (s.length > 0 && !/undefined|NaN/.test(s)) n++;
    }
  }
  t.equal(n, 256 * 24, `${n} random instructions of every opcode printed`);
});
