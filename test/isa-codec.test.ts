// decode/encode: lossless round trips, field extraction, and the two ways raw bytes can be bad.

import t from 'tap';
import { decode, decodeHex, decodeSlot } from '../engine/isa/decode.ts';
import { encode, encodeHex, insnHex } from '../engine/isa/encode.ts';
import { InputError } from '../engine/errors.ts';
import { imm64, ldImm64 } from '../engine/isa/insn.ts';
import type { Insn } from '../engine/isa/insn.ts';
import { readFixture } from '../scripts/record-disasm-oracle.ts';
import { xorshift32 as rng } from './lib/rng.ts';

/** xorshift32, fixed seed: deterministic "random" bytes. */

const bytesOf = (hex: string): Uint8Array => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

t.test('fields: little endian, dst low nibble, signed off and imm', async (t) => {
  // 7b 1a f8 ff 00 00 00 00: *(u64 *)(r10 -8) = r1
  const s = decodeSlot(bytesOf('7b1af8ff00000000'), 0);
  t.same(s, { code: 0x7b, dst: 10, src: 1, off: -8, imm: 0 });
  const m = decodeSlot(bytesOf('b7fc0080ffffff7f'), 0);
  t.same(m, { code: 0xb7, dst: 12, src: 15, off: -32768, imm: 0x7fffffff });
  const n = decodeSlot(bytesOf('0400ff7f00000080'), 0);
  t.equal(n.off, 32767);
  t.equal(n.imm, -2147483648);
});

t.test('ld_imm64 folds its second slot, keeps it raw, and round-trips', async (t) => {
  const [insn] = decode(bytesOf('18210000efbeadde' + '00000000' + '78563412'));
  t.equal(insn.code, 0x18);
  t.equal(insn.dst, 1);
  t.equal(insn.src, 2);
  t.same(insn.next, { code: 0, dst: 0, src: 0, off: 0, imm: 0x12345678 });
  t.equal(imm64(insn), 0x12345678deadbeefn);
  // A second slot with garbage in every field survives (the verifier rejects it later).
  const odd = bytesOf('1800000001000000' + 'ffffffff02000000' + '9500000000000000');
  const ins = decode(odd);
  t.equal(ins.length, 2);
  t.same(ins[0].next, { code: 0xff, dst: 15, src: 15, off: -1, imm: 2 });
  t.ok(sameBytes(encode(ins), odd));
  // ldImm64() builds the same encoding the decoder produces.
  const built = ldImm64(3, -2n);
  t.equal(insnHex(built), '18030000feffffff00000000ffffffff');
  t.same(decode(encode([built])), [built]);
});

t.test('every fixture form round-trips through encode/decode and hex', async (t) => {
  const fixture = readFixture();
  let n = 0;
  for (const e of fixture) {
    const b = bytesOf(e.hex);
    const insns = decode(b);
    if (insns.length !== 1 || !sameBytes(encode(insns), b) || insnHex(insns[0]) !== e.hex) {
      t.fail(`round trip of ${e.hex}`);
      continue;
    }
    const words = encodeHex(insns);
    if (words.join('') !== e.hex || !sameBytes(encode(decodeHex(words)), b)) t.fail(`hex round trip of ${e.hex}`);
    else n++;
  }
  t.equal(n, fixture.length, `${n} fixture encodings round-trip`);
  // The whole corpus as one program, too.
  const all = bytesOf(fixture.map((e) => e.hex).join(''));
  t.ok(sameBytes(encode(decode(all)), all), 'whole corpus as one program');
});

t.test('random byte strings round-trip byte for byte', async (t) => {
  const next = rng(0xb9f0c0de);
  let roundTrips = 0;
  let truncations = 0;
  for (let k = 0; k < 2000; k++) {
    const slots = 1 + (next() % 12);
    const b = new Uint8Array(slots * 8);
    for (let i = 0; i < b.length; i++) b[i] = next() & 0xff;
    // Sprinkle ld_imm64 opcodes so folding (and sometimes truncation) is exercised.
    for (let s = 0; s < slots; s++) if (next() % 4 === 0) b[s * 8] = 0x18;
    // Independent model of the fold: does an ld_imm64 start in the last slot?
    let s = 0;
    while (s < slots - 1) s += b[s * 8] === 0x18 ? 2 : 1;
    const truncated = s === slots - 1 && b[s * 8] === 0x18;
    if (truncated) {
      const e = captureError(() => decode(b));
      if (e && /truncated ld_imm64/.test(e.message)) truncations++;
      else t.fail(`expected a truncation error for ${Array.from(b).join(',')}`);
      continue;
    }
    if (sameBytes(encode(decode(b)), b)) roundTrips++;
    else t.fail(`round trip of ${Array.from(b).join(',')}`);
  }
  t.equal(roundTrips + truncations, 2000, `${roundTrips} round trips, ${truncations} truncations`);
  t.ok(roundTrips > 1000 && truncations > 100, 'both outcomes exercised');
});

t.test('bad input: length and truncated ld_imm64 raise InputError with where', async (t) => {
  const e1 = captureError(() => decode(new Uint8Array(13), { file: 'prog.bin' }));
  t.ok(e1 instanceof InputError, 'length not a multiple of 8');
  t.match(e1?.message, /13 bytes, not a multiple of 8.*byte offset 8/);
  t.equal(e1?.loc.file, 'prog.bin');

  const e2 = captureError(() => decode(bytesOf('b700000000000000' + '1801000001000000')));
  t.ok(e2 instanceof InputError, 'ld_imm64 in the last slot');
  t.match(e2?.message, /truncated ld_imm64: insn 1 \(slot 1, byte offset 8\)/);

  // A 0x18 that is itself the second half of an ld_imm64 is not a truncation.
  t.equal(decode(bytesOf('1800000000000000' + '1800000000000000')).length, 1);

  t.same(decode(new Uint8Array(0)), [], 'empty input decodes to no instructions');
});

t.test('decodeHex: entries, spaces, whole ld_imm64, errors name the entry', async (t) => {
  const insns = decodeHex(['b700000007000000', 'b7 00 00 00 07 00 00 00', '1801000001000000' + '0000000002000000', '9500000000000000']);
  t.equal(insns.length, 4);
  t.equal(imm64(insns[2]), 0x200000001n);
  t.same(encodeHex(insns), ['b700000007000000', 'b700000007000000', '1801000001000000', '0000000002000000', '9500000000000000']);

  const bad = captureError(() => decodeHex(['b700000007000000', 'b70000000700000g'], { file: 's.yaml', path: 'tests[2].insns' }));
  t.ok(bad instanceof InputError);
  t.match(bad?.message, /insns entry 1: "b70000000700000g" is not an instruction/);
  t.equal(bad?.loc.path, 'tests[2].insns[1]');
  t.equal(bad?.loc.file, 's.yaml');

  const short = captureError(() => decodeHex(['b7000000070000']));
  t.match(short?.message, /insns entry 0/);
  const odd = captureError(() => decodeHex(['b700000007000000b7']));
  t.match(odd?.message, /insns entry 0/);

  const located = captureError(() => decodeHex(['9500000000000000', '1800000000000000'], {
    locate: (i) => ({ line: 10 + i, col: 7 }),
  }));
  t.ok(located instanceof InputError);
  t.match(located?.message, /insns entry 1: truncated ld_imm64/);
  t.same([located?.loc.line, located?.loc.col], [11, 7]);

  const notString = captureError(() => decodeHex([42 as unknown as string]));
  t.ok(notString instanceof InputError, 'a non-string entry is bad input, not a crash');
});

function captureError(fn: () => unknown): InputError | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  return undefined;
}
