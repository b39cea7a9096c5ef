// Fuzz: mutated asm text either assembles or raises InputError with a line and column
// (>= 1, mapped through opts.line/col); never another exception, never a hang.

import t from 'tap';
import { assemble, assembleFunction, linkProgram, type Binding } from '../engine/isa/asm/index.ts';
import { InputError } from '../engine/errors.ts';
import { mulberry32 as rng } from './lib/rng.ts';


const SEEDS = [
  `r1 = 0;
	*(u64 *)(r10 - 8) = r1;
	r2 = r10;
	r2 += -8;
	r1 = %[map] ll;
	call %[bpf_map_lookup_elem];
	if r0 == 0 goto l0_%=;
	r1 = *(u8 *)(r0 + %[off]);
	lock *(u64 *)(r0 + 0) += r1;
	w2 = atomic_fetch_xor((u32 *)(r0 + 0), w2);
l0_%=:	r0 = 0;
	exit;`,
  `.rept 3
	r0 s%%= 3
	.rept 2
	w1 = (s8)w2
	.endr
	.endr
1:	if w1 s> -5 goto 1b
	gotol 2f
	may_goto 2f
2:	r0 = *(u16 *)skb[r1]
	.8byte %[insn]
	.byte 0xe5; .byte 0; .short -1; .long 0
	call sub; call %[cb]; r2 = %[cb]; r3 = %[cb] ll
	exit`,
  `0: (b7) r0 = 7
1: (7b) *(u64 *)(r10 -8) = r1
2: (18) r1 = map[id:3]
4: (18) r2 = map[id:3][0]+16
6: (85) call bpf_map_lookup_elem#1
7: (85) call pc+2
8: (15) if r0 == 0x0 goto pc+1
9: (db) r0 = atomic64_fetch_add((u64 *)(r10 -8), r0)
10: (c3) lock *(u32 *)(r10 -8) += r1
11: (db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)
12: (db) r1 = load_acquire((u64 *)(r2 +0))
13: (85) call kernel-function#1234
14: (bf) r1 = addr_space_cast(r2, 0, 1)
15: (95) exit`,
  `r1 = 0x123456789 ll /* wide */ // comment
	r1 = -9223372036854775808ULL ll # another
	*(u64 *)(r11 - 8) = r1; *(u64 *)(r12 - 8) = 7; r0 = *(u64 *)(r11 + 8)
	r0 = r1; r0 = be16 r0; r0 = bswap64 r0; r0 = -r0; w0 = -w0
	r0 = xchg_64(r1 + 0, r0); w0 = cmpxchg32_32(r1 + 0, w0, w2)
	store_release((u8 *)(r1 - 2), w3); callx r3; nospec
	r1 = &(void __percpu *)(r2)
	r0 = %[vals_arr_sz] - 1
	exit`,
];

const INSERTS = [
  '%', '%[', '%=', '%%', '[', ']', '(', ')', '*', ':', ';', '\n', '#', '/*', '*/', '//', '\\\n', ' ', '-', '+', '0x',
  '99999999999999999999', '0xffffffffffffffffff', 'r16', 'w15', 'r99', 'll', 'goto', '.rept 2\n', '.rept 100000\n',
  '.endr\n', '.8byte', '.byte', '.quad', '.bogus', '1f', '1b', '9f', 'pc+', 'pc-', '=', 's', 's>', 'é', '\0', '\t',
  'call', 'exit', 'l0_%=', 'l0_%=:', 'map[id:', '][0]+', '(18)', '(zz)', '#1', 'unknown#', 'kernel-function',
  '%[map]', '%[nope]', '%[cb]', '%[bpf_loop]', '%[kf]', '(s8)', '(u64 *)', '*(u32 *)', 'skb[', 'lock', '+=', 's%=',
  '40000', '-32769', '32768', '2147483648', '0b102', '08', '1:', '0:',
];

const bindings: Record<string, Binding> = {
  map: { kind: 'map', index: 2 },
  off: { kind: 'const', value: 4n },
  insn: { kind: 'const', value: 0x00000005000000b7n },
  cb: { kind: 'func', label: 'cb' },
  kf: { kind: 'kfunc', btfId: 77, name: 'kf' },
  vals_arr_sz: { kind: 'const', value: 10n },
};

function mutate(src: string, r: () => number): string {
  const int = (n: number): number => Math.floor(r() * n);
  let s = src;
  const rounds = 1 + int(4);
  for (let k = 0; k < rounds; k++) {
    const at = int(s.length + 1);
    switch (int(6)) {
      case 0:
        s = s.slice(0, at) + INSERTS[int(INSERTS.length)] + s.slice(at);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + 1 + int(12));
        break;
      case 2:
        s = s.slice(0, at) + String.fromCharCode(int(128)) + s.slice(at + 1);
        break;
      case 3: {
        const lines = s.split('\n');
        const i = int(lines.length);
        lines.splice(int(lines.length), 0, lines[i]);
        s = lines.join('\n');
        break;
      }
      case 4: {
        const lines = s.split('\n');
        const i = int(lines.length);
        const j = int(lines.length);
        [lines[i], lines[j]] = [lines[j], lines[i]];
        s = lines.join('\n');
        break;
      }
      default:
        s = s.slice(0, at);
    }
  }
  return s;
}

/** Assemble as the spec loader does: the text plus two library functions, linked. */
function linked(text: string, line: number, col: number): unknown[] {
  const main = assembleFunction(text, { file: 'f.yaml', line, col, bindings, clobbers: ['r0', 'r1'] });
  const sub = assembleFunction('r0 = 0; exit', { name: 'sub' });
  const cb = assembleFunction('r0 = 1; exit', { name: 'cb' });
  return linkProgram(main, new Map([['sub', sub], ['cb', cb]])).insns;
}

t.test('the seeds themselves assemble', async (t) => {
  for (const [i, text] of SEEDS.entries()) {
    const p = linked(text, 1, 0);
    t.ok(p.length > 5, `seed ${i}: ${p.length} instructions`);
  }
});

t.test('10,000 mutated inputs: success or InputError with a location', async (t) => {
  const r = rng(0xf022);
  const N = 10_000;
  let ok = 0;
  let inputErrors = 0;
  const other: string[] = [];
  const badLoc: string[] = [];
  let slowest = 0;
  for (let i = 0; i < N; i++) {
    const text = mutate(SEEDS[i % SEEDS.length], r);
    const line = 1 + Math.floor(r() * 50);
    const col = Math.floor(r() * 8);
    const t0 = performance.now();
    try {
      if (i % 3 === 0) assemble(text, { file: 'f.yaml', line, col, bindings });
      else linked(text, line, col);
      ok++;
    } catch (e) {
      if (e instanceof InputError) {
        inputErrors++;
        if (!(e.loc.line >= line && e.loc.col >= 1 && e.loc.file === 'f.yaml')) {
          badLoc.push(`${JSON.stringify(text)} -> ${e.format()} (base line ${line})`);
        }
      } else {
        other.push(`${JSON.stringify(text)} -> ${String(e)}`);
      }
    }
    slowest = Math.max(slowest, performance.now() - t0);
  }
  t.same(other.slice(0, 10), [], 'no exception other than InputError');
  t.same(badLoc.slice(0, 10), [], 'every InputError has file, line >= base line, col >= 1');
  t.ok(ok > 500 && inputErrors > 500, `${N} inputs: ${ok} assembled, ${inputErrors} InputErrors`);
  t.ok(slowest < 3000, `slowest input took ${slowest.toFixed(0)} ms`);
});
