// Test-only: BPF programs whose x86-64 JIT images exercise what the kernel's JIT emits
// (every ALU op and width, loads/stores/sign-extending loads, atomics, all jump kinds near and
// far, helper/subprogram/tail calls, inlined map lookups, may_goto, LD_ABS, packet access).
// A fixed-seed generator adds straight-line programs with many forward branches, so label
// numbering (duplicates, more than 32 targets) is exercised too.

import type { Insn } from '../../engine/isa/insn.ts';
import { ldImm64 } from '../../engine/isa/insn.ts';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_AND, BPF_ARSH, BPF_ATOMIC, BPF_B, BPF_CALL, BPF_CMPXCHG, BPF_DIV, BPF_DW,
  BPF_END, BPF_EXIT, BPF_FETCH, BPF_H, BPF_JA, BPF_JCOND, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JLE, BPF_JLT, BPF_JMP,
  BPF_JMP32, BPF_JNE, BPF_JSET, BPF_JSGE, BPF_JSGT, BPF_JSLE, BPF_JSLT, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM,
  BPF_MEMSX, BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_OR, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_RSH,
  BPF_ST, BPF_STX, BPF_SUB, BPF_TO_BE, BPF_TO_LE, BPF_W, BPF_X, BPF_XCHG, BPF_XOR, BPF_ABS, BPF_IND,
} from '../../engine/isa/opcodes.ts';
import type { FuncDef, MapDef, Program, ProgType } from '../../engine/program/types.ts';
import { mulberry32 as rng } from './rng.ts';

const ins = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });
const movK = (dst: number, imm: number, alu = BPF_ALU64): Insn => ins(alu | BPF_MOV | BPF_K, dst, 0, 0, imm);
const movX = (dst: number, src: number, alu = BPF_ALU64): Insn => ins(alu | BPF_MOV | BPF_X, dst, src);
const exit = (): Insn => ins(BPF_JMP | BPF_EXIT);
const call = (id: number): Insn => ins(BPF_JMP | BPF_CALL, 0, 0, 0, id);
const stx = (size: number, dst: number, src: number, off: number): Insn => ins(BPF_STX | BPF_MEM | size, dst, src, off);
const ldx = (size: number, dst: number, src: number, off: number): Insn => ins(BPF_LDX | BPF_MEM | size, dst, src, off);
const mapFd = (dst: number, index: number): Insn => ({ ...ldImm64(dst, BigInt(index)), src: BPF_PSEUDO_MAP_FD });

export interface CorpusProgram {
  readonly program: Program;
  /** Loaded with these prog flags (e.g. RND_HI32 changes the code around 32-bit defs). */
  readonly flags: number;
}

function prog(name: string, insns: Insn[], extra: { progType?: ProgType; maps?: MapDef[]; funcs?: FuncDef[] } = {}): Program {
  return { name, progType: extra.progType ?? 'SOCKET_FILTER', insns, maps: extra.maps ?? [], funcs: extra.funcs ?? [], license: 'GPL', flags: 0 };
}

/** mulberry32: small, fixed-seed. */

const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV, BPF_ARSH];
const JMP_OPS = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE];
const SIZES = [BPF_B, BPF_H, BPF_W, BPF_DW];
const SIZE_BYTES: Record<number, number> = { [BPF_B]: 1, [BPF_H]: 2, [BPF_W]: 4, [BPF_DW]: 8 };

/** A block is a run of instructions that jumps never enter in the middle. */
type Block = Insn[];

function randomImm(r: () => number): number {
  const k = r();
  if (k < 0.3) return Math.floor(r() * 256) - 128;
  if (k < 0.6) return Math.floor(r() * 65536) - 32768;
  if (k < 0.8) return (Math.floor(r() * 2 ** 32) | 0);
  return [0, 1, -1, 0x7fffffff, -0x80000000, 0x100, 0xffff][Math.floor(r() * 7)];
}

function randomBlock(r: () => number): Block {
  const reg = (): number => Math.floor(r() * 10);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const k = r();
  if (k < 0.45) {
    const alu = r() < 0.5 ? BPF_ALU64 : BPF_ALU;
    const op = pick(ALU_OPS);
    const bits = alu === BPF_ALU64 ? 64 : 32;
    const dst = reg();
    if (op === BPF_NEG) return [ins(alu | op | BPF_K, dst)];
    const useReg = r() < 0.5;
    // signed div/mod (off 1) and sign-extending moves (off 8/16/32) are cpu v4
    let off = 0;
    if ((op === BPF_DIV || op === BPF_MOD) && r() < 0.4) off = 1;
    if (op === BPF_MOV && useReg && r() < 0.4) off = pick(alu === BPF_ALU64 ? [8, 16, 32] : [8, 16]);
    if (useReg) return [ins(alu | op | BPF_X, dst, reg(), off)];
    let imm = randomImm(r);
    if (op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) imm = Math.floor(r() * bits);
    if ((op === BPF_DIV || op === BPF_MOD) && imm === 0) imm = 3;
    return [ins(alu | op | BPF_K, dst, 0, off, imm)];
  }
  if (k < 0.52) {
    // byte swaps: le/be 16/32/64 and the v4 unconditional bswap
    const kind = r();
    const width = pick([16, 32, 64]);
    if (kind < 0.33) return [ins(BPF_ALU64 | BPF_END | BPF_TO_LE, reg(), 0, 0, width)];
    return [ins(BPF_ALU | BPF_END | (kind < 0.66 ? BPF_TO_LE : BPF_TO_BE), reg(), 0, 0, width)];
  }
  if (k < 0.64) {
    // stack memory through r10 or a scratch pointer that becomes a scalar again afterwards
    const size = pick(SIZES);
    const n = SIZE_BYTES[size];
    const slot = -8 * (1 + Math.floor(r() * 8));
    const off = slot + n * Math.floor(r() * (8 / n));
    const viaPtr = r() < 0.4;
    const base = viaPtr ? 1 + Math.floor(r() * 9) : 10;
    const out: Block = [];
    let o = off;
    if (viaPtr) {
      const adj = -8 * Math.floor(r() * 4);
      out.push(movX(base, 10), ins(BPF_ALU64 | BPF_ADD | BPF_K, base, 0, 0, adj));
      o = off - adj;
    }
    const what = r();
    let other = reg();
    if (viaPtr) while (other === base) other = reg();
    if (what < 0.35) out.push(stx(size, base, other, o));
    else if (what < 0.5) out.push(ins(BPF_ST | BPF_MEM | size, base, 0, o, randomImm(r)));
    else if (what < 0.8 || size === BPF_DW) out.push(ldx(size, other, base, o));
    else out.push(ins(BPF_LDX | BPF_MEMSX | size, other, base, o));
    // the loaded/stored slot may now hold a partial spill; restore a full 8-byte scalar
    out.push(stx(BPF_DW, 10, viaPtr ? other : reg(), slot));
    if (viaPtr && other !== base) out.push(movK(base, randomImm(r)));
    return out;
  }
  if (k < 0.72) {
    // atomics on an initialised stack slot
    const dw = r() < 0.6;
    const slot = -8 * (1 + Math.floor(r() * 8));
    const op = pick([BPF_ADD, BPF_OR, BPF_AND, BPF_XOR, BPF_ADD | BPF_FETCH, BPF_OR | BPF_FETCH, BPF_AND | BPF_FETCH, BPF_XOR | BPF_FETCH, BPF_XCHG, BPF_CMPXCHG]);
    return [ins(BPF_STX | BPF_ATOMIC | (dw ? BPF_DW : BPF_W), 10, 1 + Math.floor(r() * 9), slot, op)];
  }
  if (k < 0.76) return [ldImm64(reg(), BigInt.asUintN(64, (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32))))];
  if (k < 0.8) {
    // helper calls clobber r1-r5; make them scalars again
    const id = pick([5, 7, 8]);
    return [call(id), ...[1, 2, 3, 4, 5].map((d) => movK(d, randomImm(r)))];
  }
  return [];
}

/** A straight-line program with forward jumps between blocks. */
export function randomProgram(seed: number, nBlocks: number): Program {
  const r = rng(seed);
  const blocks: Block[] = [];
  const init: Block = [];
  for (let d = 0; d <= 9; d++) init.push(movK(d, randomImm(r)));
  for (let s = 1; s <= 8; s++) init.push(stx(BPF_DW, 10, s, -8 * s));
  blocks.push(init);
  const jumpAt = new Map<number, { op: number; j32: boolean; skip: number; reg: boolean; dst: number; src: number; imm: number }>();
  for (let i = 0; i < nBlocks; i++) {
    if (r() < 0.3) {
      const far = r() < 0.2;
      jumpAt.set(blocks.length, {
        op: r() < 0.1 ? BPF_JA : JMP_OPS[Math.floor(r() * JMP_OPS.length)],
        j32: r() < 0.35,
        skip: far ? 10 + Math.floor(r() * 30) : Math.floor(r() * 4),
        reg: r() < 0.5,
        dst: Math.floor(r() * 10),
        src: Math.floor(r() * 10),
        imm: randomImm(r),
      });
      blocks.push([]); // placeholder for the jump
    }
    let b = randomBlock(r);
    while (b.length === 0) b = randomBlock(r);
    blocks.push(b);
  }
  blocks.push([exit()]);
  // resolve jumps: target is the start of the block `skip` blocks after the next one
  const starts: number[] = [];
  let slot = 0;
  for (let i = 0; i < blocks.length; i++) {
    starts.push(slot);
    const j = jumpAt.get(i);
    // an unconditional jump is guarded by a conditional one so that no block is unreachable
    slot += j ? (j.op === BPF_JA ? 2 : 1) : blocks[i].reduce((n, x) => n + (x.next ? 2 : 1), 0);
  }
  const insns: Insn[] = [];
  for (let i = 0; i < blocks.length; i++) {
    const j = jumpAt.get(i);
    if (!j) {
      insns.push(...blocks[i]);
      continue;
    }
    const target = Math.min(i + 1 + j.skip, blocks.length - 1);
    if (j.op === BPF_JA) {
      const off = starts[target] - (starts[i] + 2);
      insns.push(ins(BPF_JMP | BPF_JNE | BPF_K, j.dst, 0, 1, j.imm));
      insns.push(j.j32 ? ins(BPF_JMP32 | BPF_JA, 0, 0, 0, off) : ins(BPF_JMP | BPF_JA, 0, 0, off));
      continue;
    }
    const off = starts[target] - (starts[i] + 1);
    insns.push(ins((j.j32 ? BPF_JMP32 : BPF_JMP) | j.op | (j.reg ? BPF_X : BPF_K), j.dst, j.reg ? j.src : 0, off, j.reg ? 0 : j.imm));
  }
  return prog(`rand_${seed}`, insns);
}

const arrayMap: MapDef = { name: 'arr', type: 'ARRAY', keySize: 4, valueSize: 48, maxEntries: 4, flags: 0 };
const hashMap: MapDef = { name: 'hash', type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4, flags: 0 };
const progArray: MapDef = { name: 'jmp_table', type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: 4, flags: 0 };

/** Lookup key 0 in map #index; leaves the value pointer (or NULL) in r0. */
const lookup = (index: number): Insn[] => [
  ins(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0),
  movX(2, 10),
  ins(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4),
  mapFd(1, index),
  call(1),
];

/** Hand-written programs for what random straight-line code does not reach. */
export function structuredPrograms(): Program[] {
  const out: Program[] = [];
  // bpf-to-bpf calls: three functions, one calling another
  out.push(prog('calls', [
    movK(1, 5), ins(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2), ins(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, 1), exit(),
    movX(0, 1), ins(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, 3), movX(1, 0), ins(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 1), exit(),
    movX(0, 1), ins(BPF_JMP | BPF_JGT | BPF_K, 0, 0, 1, 100), ins(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, 7), exit(),
  ], { funcs: [{ start: 0, name: 'calls', linkage: 'static' }, { start: 4, name: 'f1', linkage: 'static' }, { start: 9, name: 'f2', linkage: 'static' }] }));
  // tail call from main and from a subprogram (tail-call counter prologue, rel32 to the image)
  out.push(prog('tail_call', [
    movX(6, 1), mapFd(2, 0), movK(3, 0), call(12), movX(1, 6), ins(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 2), movK(0, 0), exit(),
    mapFd(2, 0), movK(3, 1), call(12), movK(0, 1), exit(),
  ], { maps: [progArray], funcs: [{ start: 0, name: 'tail_call', linkage: 'static' }, { start: 9, name: 'sub', linkage: 'global', params: [{ name: 'ctx', type: 'struct __sk_buff *' }] }] }));
  // inlined array and hash lookups, value access
  for (const [i, m] of [[0, arrayMap], [1, hashMap]] as const) {
    out.push(prog(`lookup_${m.name}`, [
      ...lookup(i), ins(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2, 0), ldx(BPF_DW, 0, 0, 0), exit(), movK(0, 0), exit(),
    ], { maps: i === 0 ? [arrayMap] : [arrayMap, hashMap] }));
  }
  // get_smp_processor_id (inlined through %gs), ktime, prandom
  out.push(prog('helpers', [call(8), movX(6, 0), call(7), ins(BPF_ALU64 | BPF_ADD | BPF_X, 6, 0), call(5), ins(BPF_ALU64 | BPF_ADD | BPF_X, 0, 6), exit()]));
  // may_goto loop and a bounded back-edge loop
  out.push(prog('may_goto', [
    movK(0, 0), ins(BPF_JMP | BPF_JCOND, 0, 0, 2, 0), ins(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, 1), ins(BPF_JMP | BPF_JA, 0, 0, -3), exit(),
  ]));
  out.push(prog('loop', [
    movK(0, 0), movK(1, 0), ins(BPF_ALU64 | BPF_ADD | BPF_X, 0, 1), ins(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, 1),
    ins(BPF_JMP | BPF_JLT | BPF_K, 1, 0, -3, 50), exit(),
  ]));
  // LD_ABS / LD_IND (legacy packet access: calls into the kernel, r6 = skb)
  out.push(prog('ld_abs', [
    movX(6, 1), ins(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, 1), ins(BPF_LD | BPF_ABS | BPF_H, 0, 0, 0, 2), ins(BPF_LD | BPF_ABS | BPF_W, 0, 0, 0, 4),
    movK(7, 3), ins(BPF_LD | BPF_IND | BPF_B, 0, 7, 0, 1), ins(BPF_LD | BPF_IND | BPF_W, 0, 7, 0, 8), exit(),
  ]));
  // skb ctx rewrites and direct packet access (tc)
  out.push(prog('packet', [
    ldx(BPF_W, 2, 1, 76), ldx(BPF_W, 3, 1, 80), ldx(BPF_W, 4, 1, 0), ldx(BPF_W, 5, 1, 8), movX(0, 2),
    ins(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, 14), ins(BPF_JMP | BPF_JGT | BPF_X, 0, 3, 2, 0), ldx(BPF_B, 0, 2, 12), exit(),
    movK(0, 0), exit(),
  ], { progType: 'SCHED_CLS' }));
  // bpf_loop with a callback (inlined by the verifier) and a 512-byte stack
  out.push(prog('bpf_loop', [
    movK(1, 10), { ...ldImm64(2, 8n), src: BPF_PSEUDO_FUNC }, movK(3, 0), movK(4, 0), call(181),
    stx(BPF_DW, 10, 0, -512), ldx(BPF_DW, 1, 10, -512), ins(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 3), exit(),
    movK(0, 0), exit(),
    movK(0, 2), exit(),
  ], { funcs: [
    { start: 0, name: 'bpf_loop', linkage: 'static' }, { start: 10, name: 'cb', linkage: 'static' },
    // a global function makes the loader pass func_info, which a callback needs
    { start: 12, name: 'g', linkage: 'global', params: [{ name: 'x', type: 'int' }] },
  ] }));
  // one function with more than 32 distinct branch targets
  const many: Insn[] = [movK(0, 0), movK(1, 1)];
  for (let i = 0; i < 40; i++) many.push(ins(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1, i), ins(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, i));
  many.push(exit());
  out.push(prog('many_labels', many));
  // several branches to one target (duplicate label entries)
  out.push(prog('dup_targets', [
    movK(0, 0), movK(1, 3), ins(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 4, 1), ins(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 3, 2),
    ins(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 2, 3), ins(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 2, 4), movK(0, 1), movK(0, 2), exit(),
  ]));
  // shifts by register (BMI2 shlx/shrx/sarx or %cl), div/mod by register, sdiv/smod
  const shifts: Insn[] = [movK(0, 12345), movK(1, 3), movK(2, 7), movK(3, 9)];
  for (const alu of [BPF_ALU64, BPF_ALU]) {
    for (const op of [BPF_LSH, BPF_RSH, BPF_ARSH, BPF_DIV, BPF_MOD]) {
      for (const [d, s] of [[0, 1], [1, 0], [2, 3], [4, 4], [3, 2]]) {
        if (d === 4) shifts.push(movK(4, 5));
        shifts.push(ins(alu | op | BPF_X, d, s, 0), ins(alu | op | BPF_X, d, s, op === BPF_DIV || op === BPF_MOD ? 1 : 0));
      }
    }
  }
  shifts.push(exit());
  out.push(prog('shifts_divs', shifts));
  return out;
}

/** The full corpus: structured programs, then random ones (fixed seeds), with flag variants. */
export function corpus(nRandom = 100): CorpusProgram[] {
  const out: CorpusProgram[] = [];
  for (const p of structuredPrograms()) {
    out.push({ program: p, flags: 0 });
    out.push({ program: p, flags: 0x84 }); // RND_HI32 | REG_INVARIANTS, as test_loader loads
  }
  for (let s = 1; s <= nRandom; s++) {
    const blocks = s % 10 === 0 ? 200 : 20 + (s % 7) * 10;
    out.push({ program: randomProgram(s, blocks), flags: s % 2 ? 0x84 : 0 });
  }
  return out;
}
