// Records what llvm-mc (the LLVM BPF assembler clang uses for inline asm) encodes for a
// large list of statements in the LLVM dialect, into test/fixtures/asm-llvm-mc.json, so that
// test/asm-llvm-mc.test.ts can compare our assembler against it without LLVM installed.
//
//   node --import tsx scripts/record-llvm-mc-fixture.ts
//
// The statement list is generated deterministically (every instruction form, registers
// r0..r11, edge immediates and offsets). Also exports runLlvmMc for the live test.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfSections } from '../test/lib/asm-selftest-source.ts';
import { fileURLToPath } from 'node:url';

export const LLVM_MC = process.env.LLVM_MC ?? 'llvm-mc-19';
export const FIXTURE = new URL('../test/fixtures/asm-llvm-mc.json', import.meta.url);

export interface McEntry {
  readonly asm: string;
  /** Bytes in memory order as hex (16 digits, 32 for ld_imm64), or null if llvm-mc rejects it. */
  readonly hex: string | null;
}

export function llvmMcAvailable(): boolean {
  const r = spawnSync(LLVM_MC, ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

/** Assemble each line with llvm-mc (one process for all), one result per line. Lines that
 *  llvm-mc rejects come back with hex null. */
export function runLlvmMc(lines: readonly string[]): (string | null)[] {
  // A marker instruction between statements lets us split the output even when a line is
  // rejected (a rejected line prints an error and no encoding).
  const MARK = 'r9 = 0x5a5a5a5a ll';
  const src = lines.map((l) => `${MARK}\n${l}\n`).join('') + `${MARK}\n`;
  const r = spawnSync(LLVM_MC, ['-triple=bpfel', '-mcpu=v4', '--show-encoding'], {
    input: src,
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  if (r.error) throw r.error;
  const encs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /encoding: \[([^\]]*)\]/.exec(line);
    if (m) encs.push(m[1].split(',').map((b) => b.replace(/^0x/, '').padStart(2, '0')).join(''));
  }
  const markHex = '1809000' + '05a5a5a5a' + '0000000000000000';
  const out: (string | null)[] = [];
  let k = 0;
  if (encs[k] !== markHex) throw new Error(`llvm-mc output did not start with the marker: ${encs[k]}`);
  k++;
  for (let i = 0; i < lines.length; i++) {
    if (encs[k] === markHex) {
      out.push(null);
      k++;
      continue;
    }
    out.push(encs[k] ?? null);
    k++;
    if (encs[k] !== markHex) throw new Error(`llvm-mc: statement ${i} ('${lines[i]}') produced more than one instruction`);
    k++;
  }
  return out;
}

/** The .text bytes llvm-mc makes of a whole program, or null if it rejects it. */
export function llvmMcText(asm: string): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'llvm-mc-'));
  try {
    const obj = join(dir, 'a.o');
    const r = spawnSync(LLVM_MC, ['-triple=bpfel', '-mcpu=v4', '-filetype=obj', '-o', obj], { input: `${asm}\n`, encoding: 'utf8' });
    if (r.status !== 0) return null;
    const text = elfSections(new Uint8Array(readFileSync(obj))).get('.text');
    return text ? Array.from(text, (x) => x.toString(16).padStart(2, '0')).join('') : null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The generated statement list: every LLVM-dialect form with varied operands. */
export function statements(): string[] {
  const out: string[] = [];
  const R = Array.from({ length: 12 }, (_, i) => i); // r0..r11
  const pairs = R.map((d, i) => [d, R[(i * 5 + 3) % 12]] as const);
  const IMMS = ['0', '1', '-1', '42', '0x7fffffff', '-2147483648', '0xffffffff', '0x80000000', '255', '-4096', '0x100000001'];
  const OFFS = ['0', '8', '- 8', '-8', '+ 16', '32767', '- 32768', '0x10', '- 0x7ff'];

  const aluOps = ['+=', '-=', '*=', '/=', '|=', '&=', '<<=', '>>=', '%=', '^=', 's>>=', 's/=', 's%='];
  for (const [d, s] of pairs) {
    for (const op of aluOps) {
      out.push(`r${d} ${op} r${s}`, `w${d} ${op} w${s}`);
    }
    out.push(`r${d} = r${s}`, `w${d} = w${s}`, `r${d} = -r${d}`, `w${d} = -w${d}`);
    out.push(`r${d} = (s8)r${s}`, `r${d} = (s16)r${s}`, `r${d} = (s32)r${s}`, `w${d} = (s8)w${s}`, `w${d} = (s16)w${s}`);
    for (const e of ['be16', 'be32', 'be64', 'le16', 'le32', 'le64', 'bswap16', 'bswap32', 'bswap64']) out.push(`r${d} = ${e} r${d}`);
    out.push(`r${d} = addr_space_cast(r${s}, 0, 1)`, `r${d} = addr_space_cast(r${s}, 1, 0)`);
  }
  for (const [i, imm] of IMMS.entries()) {
    const d = R[i % 12];
    for (const op of aluOps) out.push(`r${d} ${op} ${imm}`, `w${d} ${op} ${imm}`);
    out.push(`r${d} = ${imm}`, `w${d} = ${imm}`);
  }
  // loads and stores
  for (const [k, [d, s]] of pairs.entries()) {
    const off = OFFS[k % OFFS.length];
    const o = off.startsWith('-') || off.startsWith('+') ? ` ${off}` : ` + ${off}`;
    for (const sz of ['u8', 'u16', 'u32', 'u64']) {
      out.push(`r${d} = *(${sz} *)(r${s}${o})`, `*(${sz} *)(r${d}${o}) = r${s}`);
      out.push(`*(${sz} *)(r${d}${o}) = ${IMMS[k % IMMS.length]}`);
      if (sz !== 'u64') out.push(`w${d} = *(${sz} *)(r${s}${o})`, `*(${sz} *)(r${d}${o}) = w${s}`);
    }
    for (const sz of ['s8', 's16', 's32']) out.push(`r${d} = *(${sz} *)(r${s}${o})`);
    // atomics
    for (const op of ['+=', '|=', '&=', '^=']) {
      out.push(`lock *(u64 *)(r${d}${o}) ${op} r${s}`, `lock *(u32 *)(r${d}${o}) ${op} w${s}`);
    }
    for (const f of ['add', 'or', 'and', 'xor']) {
      out.push(`r${s} = atomic_fetch_${f}((u64 *)(r${d}${o}), r${s})`);
      out.push(`w${s} = atomic_fetch_${f}((u32 *)(r${d}${o}), w${s})`);
    }
    out.push(`r${s} = xchg_64(r${d}${o}, r${s})`, `w${s} = xchg32_32(r${d}${o}, w${s})`);
    out.push(`r0 = cmpxchg_64(r${d}${o}, r0, r${s})`, `w0 = cmpxchg32_32(r${d}${o}, w0, w${s})`);
  }
  // jumps
  const conds = ['==', '!=', '>', '>=', '<', '<=', 's>', 's>=', 's<', 's<=', '&'];
  for (const [k, [d, s]] of pairs.entries()) {
    const t = ['+0', '+1', '-1', '+32767', '-32768', '+100'][k % 6];
    for (const c of conds) {
      out.push(`if r${d} ${c} r${s} goto ${t}`, `if w${d} ${c} w${s} goto ${t}`);
      out.push(`if r${d} ${c} ${IMMS[k % IMMS.length]} goto ${t}`, `if w${d} ${c} ${IMMS[(k + 3) % IMMS.length]} goto ${t}`);
    }
    out.push(`goto ${t}`, `callx r${d}`);
  }
  for (const t of ['+0', '+1', '-1', '+65536', '-2147483648', '+2147483647']) out.push(`gotol ${t}`);
  for (const t of ['+0', '+1', '-1', '+32767']) out.push(`may_goto ${t}`);
  for (const n of ['0', '1', '12', '211', '0x7fffffff', '-1']) out.push(`call ${n}`);
  out.push('exit');
  // ld_imm64
  const WIDE = ['0', '1', '-1', '0x123456789', '0xffffffff00000000', '0x8000000000000000', '-9223372036854775808', '0x7fffffffffffffff', '4294967296'];
  for (const [k, v] of WIDE.entries()) out.push(`r${R[k % 12]} = ${v} ll`);
  // packet loads
  for (const sz of ['u8', 'u16', 'u32']) {
    for (const imm of ['0', '1', '-1', '0x7fffffff']) out.push(`r0 = *(${sz} *)skb[${imm}]`);
    for (const r of [0, 1, 7, 11]) out.push(`r0 = *(${sz} *)skb[r${r}]`);
  }
  // stack-argument forms (merged series: r11)
  out.push('*(u64 *)(r11 - 8) = r1', '*(u64 *)(r11 - 16) = 7', 'r0 = *(u64 *)(r11 + 8)', 'r1 = r11');
  return [...new Set(out)];
}

/** Whole programs (labels, local labels, directives, comments, separators): llvm-mc
 *  assembles each into an object and we take its .text. */
export function programs(): string[] {
  return [
    'r0 = 0\n  if r1 == 0 goto l0_1\n  r0 = 1\nl0_1:\n  exit',
    '1: r0 += 1; if r0 < 10 goto 1b; goto 2f; r0 = 5; 2: exit',
    '1: r1 = 1\n1: r2 = 2\n  goto 1b\n  goto 1f\n1: exit',
    'start: r1 = 0x123456789 ll\n  if r1 != 0 goto end\n  r1 = 0 ll\nend: goto start',
    '.rept 3\n r0 += 1\n .rept 2\n w1 = w2\n .endr\n.endr\nexit',
    '.8byte 0x00000005000000b7\n.8byte 0x95\n',
    '.byte 0xe5; .byte 0; .short -1; .long 0\nexit',
    '.byte 0xb7, 0x01, 0x00, 0x00, 0x2a, 0, 0, 0\n.2byte 0x95, 0\n.4byte 0\n.quad 0x95',
    'r0 = 1 // c++ comment\n/* block\n comment */ r0 = 2 # hash comment\n# whole line\nexit',
    'l1: r0 = 0; l2: r1 = 1; l3: if r1 > r0 goto l1; if w1 s< 5 goto l2; gotol l3; may_goto l1; exit',
    'r0 = 10 - 1; r1 = 2 * 3 + 1; r2 = -5; r3 = 1 << 4; r4 = 0xff & 0x0f; r5 = 7 / 2',
    'call sub\n  exit\nsub:\n  r0 = 1\n  call sub2\n  exit\nsub2: r0 = 2; exit',
    'L:L2:L3: r0 = 1; exit',
    '.rept 40\nr0 += 1\n.endr\ngoto -41',
  ];
}

function main(): void {
  if (!llvmMcAvailable()) {
    console.error(`${LLVM_MC} not found (set LLVM_MC)`);
    process.exit(1);
  }
  const lines = statements();
  const hex = runLlvmMc(lines);
  const entries: McEntry[] = lines.map((asm, i) => ({ asm, hex: hex[i] }));
  const progs = programs().map((asm) => ({ asm, hex: llvmMcText(asm) }));
  writeFileSync(FIXTURE, JSON.stringify({ tool: LLVM_MC, triple: 'bpfel', mcpu: 'v4', entries, programs: progs }, null, 1) + '\n');
  console.log(`${progs.length} programs, ${progs.filter((p) => p.hex === null).length} rejected`);
  const rejected = entries.filter((e) => e.hex === null);
  console.log(`${entries.length} statements, ${rejected.length} rejected by llvm-mc`);
  for (const e of rejected) console.log(`  rejected: ${e.asm}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
