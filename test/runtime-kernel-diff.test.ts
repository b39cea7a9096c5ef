// Differential check: for a sample of programs, the interpreter's r0 (low 32 bits, what a
// test run reports) equals the live kernel's BPF_PROG_TEST_RUN retval. Needs root and
// bpf(); skipped otherwise. 64-bit results are folded into 32 bits by the programs.

import t from 'tap';
import { assemble } from '../engine/isa/asm/index.ts';
import type { MapDef, Program, ProgType } from '../engine/program/types.ts';
import { runProgram } from '../engine/runtime/index.ts';

const FOLD = 'r1 = r0; r1 >>= 32; r0 ^= r1;'; // r0 = lo ^ hi
const u32 = (v: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); return b; };
const u64 = (v: bigint): Uint8Array => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, v, true); return b; };

interface Case { readonly name: string; readonly text: string; readonly type?: ProgType; readonly maps?: MapDef[] }
const CASES: Case[] = [
  { name: 'add/sub carry', text: `r0 = 0xffffffff ll; r0 += 1; r1 = 3; r0 -= r1; ${FOLD} exit` },
  { name: 'mul64', text: `r0 = 0x123456789abcdef ll; r1 = 0xfedcba987 ll; r0 *= r1; ${FOLD} exit` },
  { name: 'mul32', text: 'r0 = 0x12345678; w0 *= 0x9abcdef; exit' },
  { name: 'div64 by zero', text: 'r0 = 77; r1 = 0; r0 /= r1; r0 += 5; exit' },
  { name: 'mod64 by zero', text: 'r0 = 77; r1 = 0; r0 %= r1; exit' },
  { name: 'mod32 by zero zero-extends', text: `r0 = -1; r1 = 0; w0 %= w1; ${FOLD} exit` },
  { name: 'udiv64 big', text: `r0 = -1; r1 = 0x100000001 ll; r0 /= r1; ${FOLD} exit` },
  { name: 'sdiv64 INT_MIN / -1', text: `r0 = 0x8000000000000000 ll; r1 = -1; r0 s/= r1; ${FOLD} exit` },
  { name: 'smod64 negative', text: `r0 = -7; r1 = 2; r0 s%= r1; ${FOLD} exit` },
  { name: 'sdiv32 INT_MIN / -1', text: 'r1 = 0x80000000; w0 = -1; w1 s/= w0; r0 = r1; exit' },
  { name: 'smod32 by imm', text: 'w0 = -13; w0 s%= 4; exit' },
  { name: 'lsh by reg > 63', text: `r0 = 1; r1 = 70; r0 <<= r1; ${FOLD} exit` },
  { name: 'arsh64', text: `r0 = 0x8000000000000000 ll; r0 s>>= 35; ${FOLD} exit` },
  { name: 'arsh32', text: 'w0 = -256; w0 s>>= 4; exit' },
  { name: 'neg64', text: `r0 = 5; r0 = -r0; ${FOLD} exit` },
  { name: 'movsx8', text: `r1 = 0x1f0; r0 = (s8)r1; ${FOLD} exit` },
  { name: 'movsx32 form', text: 'r1 = 0x8123; w0 = (s16)w1; exit' },
  { name: 'be16/be32/be64', text: `r0 = 0x1122334455667788 ll; r1 = r0; r1 = be16 r1; r2 = r0; r2 = be32 r2; r0 = be64 r0; r0 ^= r1; r0 ^= r2; ${FOLD} exit` },
  { name: 'bswap64', text: `r0 = 0x0102030405060708 ll; r0 = bswap64 r0; ${FOLD} exit` },
  { name: 'le16 truncates', text: 'r0 = 0x12345678; r0 = le16 r0; exit' },
  { name: 'memsx loads', text: '*(u64 *)(r10 - 8) = -200; r0 = *(s8 *)(r10 - 8); r1 = *(s16 *)(r10 - 8); r0 += r1; exit' },
  { name: 'atomic fetch add/xchg/cmpxchg', text: `*(u64 *)(r10 - 8) = 5; r1 = 3; r1 = atomic_fetch_add((u64 *)(r10 - 8), r1);
      r2 = 100; r2 = xchg_64(r10 - 8, r2); r0 = 100; r3 = 7; r0 = cmpxchg_64(r10 - 8, r0, r3);
      r4 = *(u64 *)(r10 - 8); r0 <<= 8; r0 += r1; r0 <<= 8; r0 += r2; r0 <<= 8; r0 += r4; exit` },
  { name: 'jmp32 signed', text: 'r0 = 0; r1 = 0x1ffffffff ll; if w1 s< 0 goto +1; exit; r0 = 1; exit' },
  { name: 'bpf-to-bpf call', text: 'r1 = 5; call f; r0 += 1; exit; f: r0 = r1; r0 *= 3; exit' },
  { name: 'skb len (socket)', text: 'r0 = *(u32 *)(r1 + 0); exit' },
  { name: 'skb len (tc)', text: 'r0 = *(u32 *)(r1 + 0); exit', type: 'SCHED_CLS' },
  { name: 'LD_ABS in range', text: 'r6 = r1; r0 = *(u32 *)skb[40]; r0 += 3; exit' },
  { name: 'LD_ABS out of range', text: 'r6 = r1; r0 = *(u32 *)skb[48]; r0 = 9; exit' },
  { name: 'skb_load_bytes past end', text: 'r2 = 48; r3 = r10; r3 += -8; r4 = 4; call 26; exit' },
  { name: 'xdp packet length', text: 'r2 = *(u32 *)(r1 + 0); r3 = *(u32 *)(r1 + 4); r0 = r3; r0 -= r2; exit', type: 'XDP' },
  // bpf_loop needs BTF func_info for the callback, which the kernel loader does not
  // synthesize; test/runtime-maps.test.ts covers it.
  {
    name: 'hash map lookup', text: `*(u32 *)(r10 - 4) = 1; r2 = r10; r2 += -4; r1 = map ll; call 1; if r0 == 0 goto +2; r0 = *(u64 *)(r0 + 0); exit; r0 = 99; exit`,
    maps: [{ name: 'm', type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, init: [{ key: u32(1), value: u64(0x1234n) }] }],
  },
];

function program(c: Case): Program {
  let insns = assemble(c.text.replace('r1 = map ll', 'r1 = 0 ll'));
  if (c.maps) insns = insns.map((i) => (i.code === 0x18 && i.dst === 1 ? { ...i, src: 1, imm: 0 } : i));
  return {
    name: 'diff', progType: c.type ?? 'SOCKET_FILTER', insns, maps: c.maps ?? [],
    funcs: [{ start: 0, name: 'main', linkage: 'static' }], license: 'GPL', flags: 0,
  };
}

const skip = process.getuid?.() !== 0 ? 'not root (bpf() test runs need it)' : undefined;

t.test('interpreter r0 == kernel test-run retval', { skip }, async (t) => {
  const { loadProgram } = await import('../engine/kernel/load.ts');
  for (const c of CASES) {
    const prog = program(c);
    const k = loadProgram(prog, { logLevel: 0, flags: 0, execute: true });
    if (k.skip) { t.fail(`${c.name}: kernel skip: ${k.skip}`); continue; }
    t.equal(k.errno, 0, `${c.name}: loads (${k.log.split('\n').slice(-3).join(' | ')})`);
    const mine = runProgram(prog);
    t.ok(mine.ok, `${c.name}: runs (${mine.fault ?? ''})`);
    t.equal(Number(BigInt.asIntN(32, mine.retval)), k.run?.retval, c.name);
  }
});
