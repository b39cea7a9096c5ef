// 64-bit arithmetic on (hi, lo) pairs of u32 words, for the operations that are not a line
// of code in the dispatch loop. Results go to the shared OUT array (lo, hi) so nothing is
// allocated per instruction; BigInt is only used by 64-bit division with a high word set.

/** OUT[0] = low word, OUT[1] = high word of the last result. */
export const OUT = new Uint32Array(2);

const toBig = (hi: number, lo: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
const fromBig = (v: bigint): void => {
  OUT[0] = Number(v & 0xffffffffn);
  OUT[1] = Number((v >> 32n) & 0xffffffffn);
};

/** (ah:al) * (bh:bl) mod 2^64. */
export function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  OUT[0] = ((mid & 0xffff) << 16) | (p00 & 0xffff);
  OUT[1] = p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(al, bh) + Math.imul(ah, bl);
}

/** Unsigned 64-bit divide; the caller has ruled out a zero divisor. */
export function udiv64(ah: number, al: number, bh: number, bl: number): void {
  if (ah === 0 && bh === 0) {
    OUT[0] = Math.floor(al / bl);
    OUT[1] = 0;
    return;
  }
  fromBig(toBig(ah, al) / toBig(bh, bl));
}

export function umod64(ah: number, al: number, bh: number, bl: number): void {
  if (ah === 0 && bh === 0) {
    OUT[0] = al % bl;
    OUT[1] = 0;
    return;
  }
  fromBig(toBig(ah, al) % toBig(bh, bl));
}

/** Signed 64-bit divide truncating toward zero (C semantics); divisor is not 0 or -1. */
export function sdiv64(ah: number, al: number, bh: number, bl: number): void {
  fromBig(BigInt.asUintN(64, BigInt.asIntN(64, toBig(ah, al)) / BigInt.asIntN(64, toBig(bh, bl))));
}

/** Signed 64-bit remainder with the dividend's sign; divisor is not 0 or -1. */
export function smod64(ah: number, al: number, bh: number, bl: number): void {
  fromBig(BigInt.asUintN(64, BigInt.asIntN(64, toBig(ah, al)) % BigInt.asIntN(64, toBig(bh, bl))));
}

export function lsh64(ah: number, al: number, n: number): void {
  n &= 63;
  if (n === 0) { OUT[0] = al; OUT[1] = ah; }
  else if (n < 32) { OUT[1] = (ah << n) | (al >>> (32 - n)); OUT[0] = al << n; }
  else { OUT[1] = al << (n - 32); OUT[0] = 0; }
}

export function rsh64(ah: number, al: number, n: number): void {
  n &= 63;
  if (n === 0) { OUT[0] = al; OUT[1] = ah; }
  else if (n < 32) { OUT[0] = (al >>> n) | (ah << (32 - n)); OUT[1] = ah >>> n; }
  else { OUT[0] = ah >>> (n - 32); OUT[1] = 0; }
}

export function arsh64(ah: number, al: number, n: number): void {
  n &= 63;
  if (n === 0) { OUT[0] = al; OUT[1] = ah; }
  else if (n < 32) { OUT[0] = (al >>> n) | (ah << (32 - n)); OUT[1] = (ah | 0) >> n; }
  else { OUT[0] = (ah | 0) >> (n - 32); OUT[1] = (ah | 0) >> 31; }
}

export const bswap16 = (x: number): number => ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
export const bswap32 = (x: number): number =>
  (((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;

/** A conditional jump's test on 64-bit operands; `op` is BPF_OP of the opcode. */
export function cmp64(op: number, ah: number, al: number, bh: number, bl: number): boolean {
  switch (op) {
    case 0x10: return ah === bh && al === bl; // JEQ
    case 0x50: return ah !== bh || al !== bl; // JNE
    case 0x20: return ah > bh || (ah === bh && al > bl); // JGT
    case 0x30: return ah > bh || (ah === bh && al >= bl); // JGE
    case 0xa0: return ah < bh || (ah === bh && al < bl); // JLT
    case 0xb0: return ah < bh || (ah === bh && al <= bl); // JLE
    case 0x60: return (ah | 0) > (bh | 0) || (ah === bh && al > bl); // JSGT
    case 0x70: return (ah | 0) > (bh | 0) || (ah === bh && al >= bl); // JSGE
    case 0xc0: return (ah | 0) < (bh | 0) || (ah === bh && al < bl); // JSLT
    case 0xd0: return (ah | 0) < (bh | 0) || (ah === bh && al <= bl); // JSLE
    case 0x40: return ((ah & bh) | (al & bl)) !== 0; // JSET
    default: return false;
  }
}

/** The same test on the low 32 bits (JMP32). */
export function cmp32(op: number, a: number, b: number): boolean {
  switch (op) {
    case 0x10: return a === b;
    case 0x50: return a !== b;
    case 0x20: return a > b;
    case 0x30: return a >= b;
    case 0xa0: return a < b;
    case 0xb0: return a <= b;
    case 0x60: return (a | 0) > (b | 0);
    case 0x70: return (a | 0) >= (b | 0);
    case 0xc0: return (a | 0) < (b | 0);
    case 0xd0: return (a | 0) <= (b | 0);
    case 0x40: return (a & b) !== 0;
    default: return false;
  }
}

/** Sign-extend the low `bits` bits of lo into OUT (hi, lo). */
export function sext(lo: number, bits: number): void {
  const v = bits === 32 ? lo | 0 : (lo << (32 - bits)) >> (32 - bits);
  OUT[0] = v;
  OUT[1] = v >> 31;
}
