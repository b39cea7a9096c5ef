// Record the live kernel's text for a corpus of instructions, into
// test/fixtures/kernel-disasm.json. Run as root: node --import tsx scripts/record-disasm-oracle.ts
//
// How: at log level 2 the 6.18 verifier lists every instruction of the program in its
// "Live regs before insn:" table after the CFG checks and before do_check, so an instruction
// that do_check would reject (uninitialised registers, r11, bad fields) still gets printed as
// long as the program passes the early checks: a known opcode, jumps in range, no unreachable
// instruction, every subprogram ending in exit or a jump. The corpus is therefore laid out in
// small programs built around those rules (see layout*). Opcodes outside the kernel's
// instruction table never reach that listing ("unknown opcode XX" instead) and are covered by
// unit tests only.
//
// Kernel pointers (map addresses, ld_imm64 of a BTF function) vary between runs: the fixture
// stores them as the placeholder ADDR, and the instruction with a map *index* (imm 0) in
// place of the fd, as test_verifier's fixups do. kfunc calls and BTF ids are recorded with the
// BTF name; the id in `hex` is this kernel's, and the live check looks names up again.

import { writeFileSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { bpfProgLoad, bpfMapCreate, closeFd } from '../engine/kernel/bpf.ts';
import { PROG_TYPES, MAP_TYPES } from '../engine/program/types.ts';
import {
  BPF_ALU, BPF_ALU64, BPF_JMP, BPF_JMP32, BPF_K, BPF_X, BPF_TO_LE, BPF_TO_BE,
  BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_NEG, BPF_MOD,
  BPF_XOR, BPF_MOV, BPF_ARSH, BPF_END,
  BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_CALL, BPF_EXIT,
  BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE, BPF_JCOND,
  BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_W, BPF_H, BPF_B, BPF_DW, BPF_ABS, BPF_IND, BPF_MEM,
  BPF_MEMSX, BPF_ATOMIC, BPF_FETCH, BPF_XCHG, BPF_CMPXCHG, BPF_LOAD_ACQ, BPF_STORE_REL,
  BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
  BPF_PSEUDO_BTF_ID, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE, LD_IMM64,
} from '../engine/isa/opcodes.ts';
import type { Insn } from '../engine/isa/insn.ts';
import { ldImm64, slotOffsets } from '../engine/isa/insn.ts';
import { encode, insnHex } from '../engine/isa/encode.ts';
import { decodeHex } from '../engine/isa/decode.ts';
import {
  isCondJump, isExit, isPseudoCall, isPseudoFunc, isUncondJump, jumpOffset,
} from '../engine/isa/classify.ts';

/** What the placeholder stands for in a recorded text: a kernel address. */
export const ADDR = '{{addr}}';

/** One recorded instruction. */
export interface OracleEntry {
  /** 16 hex digits in memory order, 32 for an ld_imm64. */
  readonly hex: string;
  /** The kernel's text; a kernel address appears as ADDR. */
  readonly text: string;
  /** For MAP_FD/MAP_VALUE ld_imm64s: imm holds this map index, not an fd. (The _IDX forms
   *  keep their imm, an index into the fd_array [map 0, map 1] every probe is loaded with.) */
  readonly map?: number;
  /** For kfunc calls and ld_imm64 BTF_ID: the BTF name the id stood for. */
  readonly btf?: string;
}

export const FIXTURE = fileURLToPath(new URL('../test/fixtures/kernel-disasm.json', import.meta.url));

// ---------------------------------------------------------------- corpus ----

const ins = (code: number, dst: number, src: number, off: number, imm: number): Insn =>
  ({ code, dst, src, off, imm });

/** A corpus item: the instruction plus what must be resolved before loading it. */
export interface Item {
  readonly insn: Insn;
  readonly map?: number;
  readonly btf?: string;
}

const ALU_OPS = [BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV, BPF_OR, BPF_AND, BPF_LSH, BPF_RSH, BPF_MOD,
  BPF_XOR, BPF_MOV, BPF_ARSH];
const COND_OPS = [BPF_JEQ, BPF_JGT, BPF_JGE, BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE, BPF_JLT,
  BPF_JLE, BPF_JSLT, BPF_JSLE];
const SIZES = [BPF_W, BPF_H, BPF_B, BPF_DW];
const IMMS = [0, 1, -1, 7, 255, 0x7fffffff, -0x80000000, 0x12345678, -4096, 64, 32, 16];
const OFFS = [0, 1, -1, -8, 8, 0x7fff, -0x8000, -512, 3, 100];
/** Registers the kernel may print: r0..r10, plus nibbles that are not registers at all. */
const REGS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15];

/** Deterministic cycling picks, so the corpus varies fields without randomness. */
function cycler<T>(xs: readonly T[], start = 0): () => T {
  let i = start;
  return () => xs[i++ % xs.length];
}

/** The instruction corpus. Kfunc and BTF ids are looked up by name in the running kernel. */
export function buildCorpus(btfIds: ReadonlyMap<string, number>): Item[] {
  const out: Item[] = [];
  const add = (insn: Insn, extra: Omit<Item, 'insn'> = {}) => out.push({ insn, ...extra });
  const reg = cycler(REGS);
  const reg2 = cycler(REGS, 5);
  const imm = cycler(IMMS);
  const off = cycler(OFFS);

  // ALU and ALU64, immediate and register forms, every op.
  for (const cls of [BPF_ALU, BPF_ALU64]) {
    for (const op of ALU_OPS) {
      for (let k = 0; k < 3; k++) add(ins(cls | op | BPF_K, reg(), 0, 0, imm()));
      for (let k = 0; k < 2; k++) add(ins(cls | op | BPF_X, reg(), reg2(), 0, 0));
    }
    // sdiv/smod (off 1), movsx (off 8/16/32, register form), mov32 with odd offsets.
    for (const op of [BPF_DIV, BPF_MOD]) {
      add(ins(cls | op | BPF_K, reg(), 0, 1, imm()));
      add(ins(cls | op | BPF_K, reg(), 0, 1, -7));
      add(ins(cls | op | BPF_X, reg(), reg2(), 1, 0));
      add(ins(cls | op | BPF_X, 3, 9, 1, 0));
    }
    for (const o of [8, 16, 32]) {
      add(ins(cls | BPF_MOV | BPF_X, reg(), reg2(), o, 0));
      add(ins(cls | BPF_MOV | BPF_K, reg(), 0, o, imm()));
    }
    add(ins(cls | BPF_MOV | BPF_X, 1, 2, 2, 0));
    add(ins(cls | BPF_MOV | BPF_X, 4, 5, -8, 0));
    // neg ignores src and imm when printing.
    add(ins(cls | BPF_NEG | BPF_K, reg(), 0, 0, 0));
    add(ins(cls | BPF_NEG | BPF_K, reg(), reg2(), 5, 77));
    // Fields that the verifier rejects later but the listing prints as they are.
    add(ins(cls | BPF_ADD | BPF_K, 1, 3, 4, 5));
    add(ins(cls | BPF_MUL | BPF_X, 1, 2, 1, 0));
    add(ins(cls | BPF_LSH | BPF_X, 6, 7, 0, 99));
  }
  // Byte order: ALU | END converts (le/be), ALU64 | END swaps unconditionally.
  for (const w of [16, 32, 64, 0, 8, -1]) {
    add(ins(BPF_ALU | BPF_END | BPF_TO_LE, reg(), 0, 0, w));
    add(ins(BPF_ALU | BPF_END | BPF_TO_BE, reg(), 0, 0, w));
    add(ins(BPF_ALU64 | BPF_END | BPF_TO_LE, reg(), 0, 0, w));
  }
  // Arena and per-CPU forms of ALU64 | MOV | X.
  add(ins(BPF_ALU64 | BPF_MOV | BPF_X, 1, 2, 1, 1));
  add(ins(BPF_ALU64 | BPF_MOV | BPF_X, 3, 4, 1, 0x10000));
  add(ins(BPF_ALU64 | BPF_MOV | BPF_X, 5, 5, 1, -1));
  add(ins(BPF_ALU64 | BPF_MOV | BPF_X, 0, 0, -1, 0));
  add(ins(BPF_ALU64 | BPF_MOV | BPF_X, 7, 8, -1, 3));

  // Conditional jumps (both classes, immediate and register), small and extreme offsets.
  for (const cls of [BPF_JMP, BPF_JMP32]) {
    for (const op of COND_OPS) {
      add(ins(cls | op | BPF_K, reg(), 0, small(off()), imm()));
      add(ins(cls | op | BPF_K, reg(), 0, 0, 0));
      add(ins(cls | op | BPF_X, reg(), reg2(), small(off()), 0));
      add(ins(cls | op | BPF_X, reg(), reg2(), 1, 0x55));
    }
  }
  add(ins(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 0x7fff, 0));
  add(ins(BPF_JMP32 | BPF_JSGT | BPF_X, 2, 3, -0x8000, 0));
  // may_goto and the other JCOND sources (printed with a missing table entry).
  for (const o of [0, 1, 4, -1, -3, 300]) add(ins(BPF_JMP | BPF_JCOND, 0, 0, o, 0));
  add(ins(BPF_JMP | BPF_JCOND, 0, 1, 2, 0));
  add(ins(BPF_JMP | BPF_JCOND, 3, 7, -2, 9));
  // goto (off) and gotol (imm).
  for (const o of [0, 1, 2, 5, -1, -2, -7, 200, 0x7fff, -0x8000]) add(ins(BPF_JMP | BPF_JA, 0, 0, o, 0));
  for (const o of [0, 1, 3, -1, -4, 1000, 40000, -40000]) add(ins(BPF_JMP32 | BPF_JA, 0, 0, 0, o));
  add(ins(BPF_JMP | BPF_JA, 1, 2, 1, 9));
  add(ins(BPF_JMP32 | BPF_JA, 3, 4, 5, 2));
  // exit, plain and with fields the listing ignores.
  add(ins(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  add(ins(BPF_JMP | BPF_EXIT, 1, 2, 3, 4));

  // Calls: helpers (known, 0, out of range, negative), unknown sources, bpf-to-bpf, kfuncs.
  for (const id of [0, 1, 2, 5, 6, 7, 12, 14, 25, 51, 113, 130, 211, 212, 1000, -1, -0x80000000]) {
    add(ins(BPF_JMP | BPF_CALL, 0, 0, 0, id));
  }
  add(ins(BPF_JMP | BPF_CALL, 3, 0, 7, 1));
  for (const src of [3, 4, 5, 9, 15]) add(ins(BPF_JMP | BPF_CALL, 0, src, 0, src * 11));
  for (const k of [1, 2, 3, 10, -1, -2, -5]) add(ins(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, k));
  add(ins(BPF_JMP | BPF_CALL, 2, BPF_PSEUDO_CALL, 4, 1));
  for (const name of ['bpf_cast_to_kern_ctx', 'bpf_rdonly_cast', 'bpf_get_current_task_btf']) {
    const id = btfIds.get(name);
    if (id !== undefined) add(ins(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_KFUNC_CALL, 0, id), { btf: name });
  }

  // ld_imm64: constants, then every pseudo source.
  const consts = [0n, 1n, -1n, 7n, 0xffffffffn, 0x100000000n, 0x8000000000000000n,
    0x123456789abcdef0n, 0x7fffffffffffffffn, -2n, 0xdeadbeefn, 0xcafe00000000n];
  consts.forEach((v, k) => add(ldImm64(REGS[k % 11], v)));
  add(ldImm64(11, 5n));
  add(ldImm64(15, -3n));
  add({ ...ldImm64(1, 0n, BPF_PSEUDO_MAP_FD) }, { map: 0 });
  add({ ...ldImm64(6, 0n, BPF_PSEUDO_MAP_FD) }, { map: 0 });
  for (const o of [0, 4, 60]) add(ldImm64(2, BigInt(o) << 32n, BPF_PSEUDO_MAP_VALUE), { map: 0 });
  add(ldImm64(1, 0n, BPF_PSEUDO_MAP_IDX));
  add(ldImm64(3, 1n, BPF_PSEUDO_MAP_IDX));
  add(ldImm64(4, (8n << 32n) | 1n, BPF_PSEUDO_MAP_IDX_VALUE));
  add(ldImm64(0, 0n, BPF_PSEUDO_MAP_IDX_VALUE));
  for (const k of [2, 3, 9]) add(ldImm64(k % 10, BigInt(k), BPF_PSEUDO_FUNC));
  const fn = btfIds.get('bpf_cast_to_kern_ctx');
  if (fn !== undefined) add(ldImm64(7, BigInt(fn), BPF_PSEUDO_BTF_ID), { btf: 'bpf_cast_to_kern_ctx' });

  // Loads and stores: every size, signed loads, stores of registers and immediates.
  for (const sz of SIZES) {
    for (let k = 0; k < 3; k++) add(ins(BPF_LDX | BPF_MEM | sz, reg(), reg2(), off(), 0));
    for (let k = 0; k < 3; k++) add(ins(BPF_ST | BPF_MEM | sz, reg(), 0, off(), imm()));
    for (let k = 0; k < 3; k++) add(ins(BPF_STX | BPF_MEM | sz, reg(), reg2(), off(), 0));
    if (sz !== BPF_DW) {
      for (let k = 0; k < 2; k++) add(ins(BPF_LDX | BPF_MEMSX | sz, reg(), reg2(), off(), 0));
      add(ins(BPF_LD | BPF_ABS | sz, 0, 0, 0, imm()));
      add(ins(BPF_LD | BPF_ABS | sz, 3, 4, 5, 14));
      add(ins(BPF_LD | BPF_IND | sz, 0, reg2(), 0, imm()));
      add(ins(BPF_LD | BPF_IND | sz, 1, 7, -2, -12));
    }
  }
  add(ins(BPF_LD | BPF_ABS | BPF_W, 0, 0, 0, -0x80000000));
  add(ins(BPF_LD | BPF_IND | BPF_B, 0, 15, 0, -1));
  add(ins(BPF_STX | BPF_MEM | BPF_DW, 10, 1, -8, 0));
  add(ins(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0));

  // Atomics: every op with and without fetch, xchg, cmpxchg, acquire/release, all sizes,
  // and imm values the kernel has no form for (printed as BUG_xx).
  const atomicOps = [BPF_ADD, BPF_OR, BPF_AND, BPF_XOR];
  for (const sz of SIZES) {
    for (const op of atomicOps) {
      add(ins(BPF_STX | BPF_ATOMIC | sz, reg(), reg2(), off(), op));
      add(ins(BPF_STX | BPF_ATOMIC | sz, reg(), reg2(), off(), op | BPF_FETCH));
    }
    add(ins(BPF_STX | BPF_ATOMIC | sz, reg(), reg2(), off(), BPF_XCHG));
    add(ins(BPF_STX | BPF_ATOMIC | sz, reg(), reg2(), off(), BPF_CMPXCHG));
    add(ins(BPF_STX | BPF_ATOMIC | sz, reg(), reg2(), off(), BPF_LOAD_ACQ));
    add(ins(BPF_STX | BPF_ATOMIC | sz, reg(), reg2(), off(), BPF_STORE_REL));
    add(ins(BPF_STX | BPF_ATOMIC | sz, 1, 2, 0, 0x50));
  }
  add(ins(BPF_STX | BPF_ATOMIC | BPF_DW, 1, 2, 0, -1));
  add(ins(BPF_STX | BPF_ATOMIC | BPF_W, 1, 2, 0, BPF_SUB));
  add(ins(BPF_STX | BPF_ATOMIC | BPF_W, 1, 2, 0, 0x101));

  // Deduplicate by encoding; first occurrence wins.
  const seen = new Set<string>();
  return out.filter((it) => {
    const h = insnHex(it.insn);
    if (seen.has(h)) return false;
    seen.add(h);
    return true;
  });
}

/** Cap offsets so a cycled offset does not force a huge program; extremes are added apart. */
const small = (o: number): number => Math.max(-20, Math.min(20, o));

// --------------------------------------------------------------- layouts ----

const R0_0 = ins(0xb7, 0, 0, 0, 0);
const EXIT = ins(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
/** `if r1 == 0x0 goto pc+1`: makes the slot after an unconditional jump reachable. */
const GUARD = ins(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 1, 0);
const fill = (n: number): Insn[] => Array.from({ length: Math.max(0, n) }, () => R0_0);

/** A program and, for each slot we care about, the corpus item printed there. */
export interface Probe {
  readonly insns: Insn[];
  /** Slot index -> item. */
  readonly at: Map<number, Item>;
}

function probeOf(parts: (Insn | Item)[]): Probe {
  const insns: Insn[] = [];
  const at = new Map<number, Item>();
  let pc = 0;
  for (const p of parts) {
    const insn = 'insn' in p ? p.insn : p;
    if ('insn' in p) at.set(pc, p);
    insns.push(insn);
    pc += insn.code === LD_IMM64 ? 2 : 1;
  }
  return { insns, at };
}

type Kind = 'straight' | 'jump' | 'call' | 'func';

function kindOf(insn: Insn): Kind {
  if (isPseudoCall(insn)) return 'call';
  if (isPseudoFunc(insn)) return 'func';
  if (isCondJump(insn) || isUncondJump(insn) || isExit(insn)) return 'jump';
  return 'straight';
}

/** Straight-line instructions, many per program: [items..., r0 = 0, exit]. */
function layoutStraight(items: Item[]): Probe {
  return probeOf([...items, R0_0, EXIT]);
}

/** Jumps, many per program. Unconditional ones and exits are preceded by GUARD so the slot
 *  after them is reachable; fillers before and after keep every target in range. */
function layoutJumps(items: Item[]): Probe {
  const seq: (Insn | Item)[] = [];
  for (const it of items) {
    if (!isCondJump(it.insn)) seq.push(GUARD);
    seq.push(it);
  }
  let front = 0;
  let back = 0;
  seq.forEach((p, i) => {
    if (!('insn' in p) || isExit(p.insn)) return;
    const target = i + jumpOffset(p.insn) + 1;
    front = Math.max(front, -target);
    back = Math.max(back, target - seq.length);
  });
  return probeOf([...fill(front), ...seq, ...fill(back), R0_0, EXIT]);
}

/** One bpf-to-bpf call. imm >= 1: main calls forward into a one-insn subprog after its exit.
 *  imm <= -1: main calls A (slot 3) and B (slot 4); the call under test sits in B and goes
 *  back to A, or for imm == -1 to B itself. */
function layoutCall(it: Item): Probe {
  const k = it.insn.imm;
  if (k >= 1) return probeOf([it, ...fill(k - 1), EXIT, R0_0, EXIT]);
  const m = -k;
  const p = Math.max(4, m + 2);
  const call = (imm: number) => ins(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, imm);
  return probeOf([call(2), call(2), EXIT, EXIT, ...fill(p - 4), it, EXIT]);
}

/** One ld_imm64 of a subprog address: the subprog starts at slot imm + 1 (imm >= 2). */
function layoutFunc(it: Item): Probe {
  return probeOf([it, ...fill(it.insn.imm - 2), EXIT, R0_0, EXIT]);
}

/** Group a corpus into programs. Big jumps get a program of their own. */
export function layoutCorpus(items: readonly Item[]): Probe[] {
  const probes: Probe[] = [];
  const straight = items.filter((it) => kindOf(it.insn) === 'straight');
  const jumps = items.filter((it) => kindOf(it.insn) === 'jump');
  for (let i = 0; i < straight.length; i += 128) probes.push(layoutStraight(straight.slice(i, i + 128)));
  const near = jumps.filter((it) => Math.abs(jumpOffset(it.insn)) <= 64 || isExit(it.insn));
  const far = jumps.filter((it) => !near.includes(it));
  for (let i = 0; i < near.length; i += 64) probes.push(layoutJumps(near.slice(i, i + 64)));
  for (const it of far) probes.push(layoutJumps([it]));
  for (const it of items) {
    if (kindOf(it.insn) === 'call') probes.push(layoutCall(it));
    if (kindOf(it.insn) === 'func') probes.push(layoutFunc(it));
  }
  return probes;
}

// ------------------------------------------------------------------ kernel ----

/** BTF ids of the named kernel functions, from the running kernel (bpftool). */
export function lookupBtfIds(names: readonly string[]): Map<string, number> {
  const ids = new Map<string, number>();
  let dump: string;
  try {
    dump = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], {
      encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return ids;
  }
  const want = new Set(names);
  for (const m of dump.matchAll(/^\[(\d+)\] FUNC '([^']+)'/gm)) {
    if (want.has(m[2])) ids.set(m[2], Number(m[1]));
  }
  return ids;
}

export const KFUNC_NAMES = ['bpf_cast_to_kern_ctx', 'bpf_rdonly_cast', 'bpf_get_current_task_btf'];

const LIVE_LINE = /^ *(?:\d+ +)?(\d+): [0-9.]{10} (.*)$/;

/** The "Live regs before insn:" listing of a log, by slot index. */
export function parseLiveRegsListing(log: string): Map<number, string> {
  const lines = log.split('\n');
  const out = new Map<number, string>();
  const start = lines.indexOf('Live regs before insn:');
  if (start < 0) return out;
  for (let i = start + 1; i < lines.length; i++) {
    const m = LIVE_LINE.exec(lines[i]);
    if (!m) break;
    out.set(Number(m[1]), m[2]);
  }
  return out;
}

/** Load every probe and collect the kernel's text for each corpus item. Map ld_imm64s get a
 *  real array map: MAP_FD/MAP_VALUE through imm, MAP_IDX(_VALUE) through fd_array. */
export function recordKernelTexts(items: readonly Item[]): OracleEntry[] {
  const maps = [0, 1].map(() =>
    bpfMapCreate({ mapType: MAP_TYPES.ARRAY, keySize: 4, valueSize: 64, maxEntries: 1 }));
  for (const m of maps) if (m.fd < 0) throw new Error(`array map create failed: errno ${m.errno}`);
  const fds = maps.map((m) => m.fd);
  try {
    const out: OracleEntry[] = [];
    for (const probe of layoutCorpus(items)) {
      const at = slotOffsets(probe.insns);
      const insns = probe.insns.map((insn, i) => {
        const it = probe.at.get(at[i]);
        // MAP_FD / MAP_VALUE name the map by fd; the _IDX forms index fd_array instead.
        const byFd = insn.src === BPF_PSEUDO_MAP_FD || insn.src === BPF_PSEUDO_MAP_VALUE;
        return it?.map !== undefined && byFd ? { ...insn, imm: fds[it.map] } : insn;
      });
      const r = bpfProgLoad({
        progType: PROG_TYPES.SOCKET_FILTER, insns: encode(insns), logLevel: 2,
        logSize: 16 << 20, fdArray: fds,
      });
      closeFd(r.fd);
      const listing = parseLiveRegsListing(r.log);
      for (const [pc, it] of probe.at) {
        const text = listing.get(pc);
        if (text === undefined) {
          throw new Error(`no listing for slot ${pc} (${insnHex(it.insn)}); log starts:\n${r.log.slice(0, 800)}`);
        }
        out.push(entryOf(it, text));
      }
    }
    return out;
  } finally {
    for (const fd of fds) closeFd(fd);
  }
}

/** Kernel addresses in a recorded text become ADDR (map pointers, BTF function addresses). */
function entryOf(it: Item, text: string): OracleEntry {
  const insn = it.insn;
  const hidesAddr = insn.code === LD_IMM64 && insn.src !== 0 && insn.src !== BPF_PSEUDO_FUNC;
  let shown = text;
  if (hidesAddr) {
    const m = /^(\(18\) r\d+ = )(0x[0-9a-f]+)$/.exec(text);
    if (!m || BigInt(m[2]) < 0xffff000000000000n) throw new Error(`expected a kernel address in ${JSON.stringify(text)}`);
    shown = `${m[1]}${ADDR}`;
  }
  return {
    hex: insnHex(insn),
    text: shown,
    ...(it.map !== undefined ? { map: it.map } : {}),
    ...(it.btf !== undefined ? { btf: it.btf } : {}),
  };
}

/** Corpus items back from fixture entries (for re-checking them live). `btfIds` remaps the
 *  recorded BTF ids to the running kernel's. */
export function itemsOf(entries: readonly OracleEntry[], btfIds: ReadonlyMap<string, number>): Item[] {
  return entries.flatMap((e) => {
    const [insn] = decodeHex([e.hex]);
    if (e.btf === undefined) return [{ insn, ...(e.map !== undefined ? { map: e.map } : {}) }];
    const id = btfIds.get(e.btf);
    return id === undefined ? [] : [{ insn: { ...insn, imm: id }, btf: e.btf }];
  });
}

export function readFixture(path = FIXTURE): OracleEntry[] {
  return JSON.parse(readFileSync(path, 'utf8')) as OracleEntry[];
}

function main(): void {
  const items = buildCorpus(lookupBtfIds(KFUNC_NAMES));
  const t0 = Date.now();
  const entries = recordKernelTexts(items).sort((a, b) => (a.hex < b.hex ? -1 : a.hex > b.hex ? 1 : 0));
  const json = '[\n' + entries.map((e) => '  ' + JSON.stringify(e)).join(',\n') + '\n]\n';
  writeFileSync(FIXTURE, json);
  console.log(`recorded ${entries.length} instructions from ${layoutCorpus(items).length} programs ` +
    `in ${Date.now() - t0} ms -> ${FIXTURE}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
