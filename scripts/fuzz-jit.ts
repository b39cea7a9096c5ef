// `make fuzz`: differential fuzzing of the x86-64 JIT against the interpreter.
// Random programs that OUR verifier accepts run in the interpreter (engine/runtime) and as
// native code (engine/jit/native, child-process pool); r0 and all map memory (which holds a
// copy of the stack and of every register at exit) must agree. A native crash is a
// disagreement naming its signal, never a crash of the fuzzer.
//
// usage: node --import tsx scripts/fuzz-jit.ts [--seed N] [--count N] [--jobs N] [--len N] [--quiet]
// Prints the seed and the counts; exit status 1 on any disagreement or fuzzer crash.

import { parseScriptArgs } from './lib/cli-args.ts';
import type { Insn } from '../engine/isa/insn.ts';
import { ldImm64 } from '../engine/isa/insn.ts';
import type { MapDef, Program } from '../engine/program/types.ts';
import { verify } from '../engine/verifier/index.ts';
import { MapStore, runProgram } from '../engine/runtime/index.ts';
import { NativePool } from '../engine/jit/native/pool.ts';
import { snapshotMaps, type NativeResult } from '../engine/jit/native/run.ts';

const USAGE = `usage: fuzz-jit.ts [--seed N] [--count N] [--jobs N] [--len N]
Random verified programs run in the interpreter and natively; r0 and memory must agree.`;

// ---- a small seeded generator ------------------------------------------------------------

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  /** An interesting 32-bit immediate: small, edge, or random. */
  imm(): number {
    switch (this.int(4)) {
      case 0: return this.int(33) - 16;
      case 1: return this.pick([0x7fffffff, -0x80000000, -1, 1, 0xffff, 0x8000, 0x80, 255, 63, 64]);
      default: return this.u32() | 0;
    }
  }
  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }
}

const I = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

/** Registers the body computes with: r6 holds ctx, r7 the map value, r10 the frame. */
const SCALARS = [0, 1, 2, 3, 4, 5, 8, 9];
/** Map value layout: [0, 64) the body's memory, [64, 128) the stack copy, [128, 192) regs. */
const VALUE_SIZE = 192;
const STACK_BYTES = 64;

const ALU_OPS = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x90, 0xa0, 0xb0, 0xc0];
const JMP_OPS = [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0];
const SIZES = [{ code: 0x18, n: 8 }, { code: 0x00, n: 4 }, { code: 0x08, n: 2 }, { code: 0x10, n: 1 }];

export function fuzzMap(rng: Rng): MapDef {
  const value = new Uint8Array(VALUE_SIZE);
  for (let i = 0; i < 64; i++) value[i] = rng.int(256);
  return { name: 'fuzz', type: 'ARRAY', keySize: 4, valueSize: VALUE_SIZE, maxEntries: 1, flags: 0, init: [{ key: new Uint8Array(4), value }] };
}

function aluInsn(rng: Rng): Insn {
  const is64 = rng.chance(0.6);
  const cls = is64 ? 0x07 : 0x04;
  const dst = rng.pick(SCALARS);
  const r = rng.int(100);
  if (r < 4) return I(cls | 0x80, dst, 0, 0, 0); // neg
  if (r < 8) { // end / bswap
    const width = rng.pick([16, 32, 64]);
    if (is64) return I(0xd7, dst, 0, 0, width);
    return I(0xd4 | (rng.chance(0.5) ? 0x08 : 0), dst, 0, 0, width);
  }
  if (r < 12) return I(cls | 0xb8, dst, rng.pick(SCALARS), rng.pick(is64 ? [8, 16, 32] : [8, 16]), 0); // movsx
  const op = rng.pick(ALU_OPS);
  const signed = (op === 0x30 || op === 0x90) && rng.chance(0.4) ? 1 : 0;
  if (rng.chance(0.5)) return I(cls | op | 0x08, dst, rng.pick(SCALARS), signed, 0);
  let imm = rng.imm();
  if (op === 0x60 || op === 0x70 || op === 0xc0) imm = rng.int(is64 ? 64 : 32);
  if ((op === 0x30 || op === 0x90) && imm === 0) imm = 7;
  return I(cls | op, dst, 0, signed, imm);
}

function memInsn(rng: Rng): Insn {
  const sz = rng.pick(SIZES);
  const onStack = rng.chance(0.5);
  const base = onStack ? 10 : 7;
  const slot = rng.int(64 / sz.n) * sz.n;
  const off = onStack ? -STACK_BYTES + slot : slot;
  const r = rng.int(10);
  if (r < 4) return I(0x61 | sz.code | (rng.chance(0.2) && sz.n < 8 ? 0x20 : 0), rng.pick(SCALARS), base, off, 0); // ldx / ldsx
  if (r < 7) return I(0x63 | sz.code, base, rng.pick(SCALARS), off, 0); // stx
  if (r < 9) return I(0x62 | sz.code, base, 0, off, rng.imm()); // st
  // atomics: 32/64-bit, aligned
  const n = rng.chance(0.5) ? 8 : 4;
  const aoff = onStack ? -STACK_BYTES + rng.int(64 / n) * n : rng.int(64 / n) * n;
  const op = rng.pick([0x00, 0x40, 0x50, 0xa0, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1]);
  return I(0xc3 | (n === 8 ? 0x18 : 0), base, rng.pick(SCALARS.filter((x) => x !== 0 || op !== 0xf1)), aoff, op);
}

/** Re-initialise r1..r5 after a call clobbered them (the verifier forbids reading them). */
function reinit(rng: Rng, out: Insn[]): void {
  for (let r = 1; r <= 5; r++) out.push(I(0xb7, r, 0, 0, rng.imm()));
}

/** One random program the verifier is likely to accept. */
export function fuzzProgram(rng: Rng, len: number, name: string): Program {
  const map = fuzzMap(rng);
  const pro: Insn[] = [
    I(0xbf, 6, 1, 0, 0), // r6 = ctx
    I(0x62, 10, 0, -4, 0), // *(u32 *)(fp-4) = 0
    ldImm64(1, 0n, 1), // r1 = map
    I(0xbf, 2, 10, 0, 0), I(0x07, 2, 0, 0, -4),
    I(0x85, 0, 0, 0, 1), // map_lookup_elem
    I(0x55, 0, 0, 1, 0), I(0x95, 0, 0, 0, 0), // if r0 == 0 exit
    I(0xbf, 7, 0, 0, 0), // r7 = value
  ];
  for (let off = -STACK_BYTES; off < 0; off += 8) pro.push(I(0x7a, 10, 0, off, rng.imm()));
  for (const r of SCALARS) pro.push(rng.chance(0.3) ? ldImm64(r, rng.u64()) : I(0xb7, r, 0, 0, rng.imm()));

  // Body: straight-line chunks with forward conditional jumps over a few of them.
  const body: Insn[][] = [];
  for (let k = 0; k < len; k++) {
    const r = rng.int(100);
    const chunk: Insn[] = [];
    if (r < 55) chunk.push(aluInsn(rng));
    else if (r < 85) chunk.push(memInsn(rng));
    else if (r < 90) {
      chunk.push(I(0x85, 0, 0, 0, rng.pick([5, 7, 8]))); // ktime, prandom, smp_processor_id
      reinit(rng, chunk);
    } else chunk.push(I(0x05, 0, 0, 0, 0)); // placeholder: becomes a conditional jump
    body.push(chunk);
  }
  // Resolve the placeholders: jump forward over 1..4 chunks (never past the body).
  const flat: Insn[] = [];
  const starts: number[] = [];
  let at = 0;
  for (const chunk of body) {
    starts.push(at);
    at += chunk.length;
  }
  starts.push(at);
  body.forEach((chunk, k) => {
    if (chunk[0].code !== 0x05) {
      flat.push(...chunk);
      return;
    }
    const target = Math.min(body.length, k + 1 + rng.int(4));
    const off = starts[target] - starts[k] - 1;
    const is32 = rng.chance(0.3);
    const op = rng.pick(JMP_OPS);
    const dst = rng.pick(SCALARS);
    if (rng.chance(0.5)) flat.push(I((is32 ? 0x06 : 0x05) | op | 0x08, dst, rng.pick(SCALARS), off, 0));
    else flat.push(I((is32 ? 0x06 : 0x05) | op, dst, 0, off, rng.imm()));
  });

  // Epilogue: copy the stack and every scalar register into the map value, fold into r0.
  const epi: Insn[] = [];
  for (let k = 0; k < STACK_BYTES / 8; k++) {
    epi.push(I(0x79, 1, 10, -STACK_BYTES + 8 * k, 0), I(0x7b, 7, 1, 64 + 8 * k, 0));
  }
  SCALARS.forEach((r, k) => epi.push(I(0x7b, 7, r, 128 + 8 * k, 0)));
  for (const r of [1, 2, 3, 4, 5, 8, 9]) epi.push(I(0xaf, 0, r, 0, 0));
  epi.push(I(0x95, 0, 0, 0, 0));
  return { name, progType: 'SOCKET_FILTER', insns: [...pro, ...flat, ...epi], maps: [map], funcs: [], license: 'GPL', flags: 0 };
}

// ---- the differential run ---------------------------------------------------------------

export type FuzzVerdict = 'agree' | 'rejected' | 'verifier-error' | 'differ';

export interface FuzzOutcome {
  readonly verdict: FuzzVerdict;
  readonly detail?: string;
}

/** Interpreter side of one program: r0 (or fault) and the map contents. */
export function interpret(prog: Program, seed: number): { ok: boolean; retval: bigint; fault?: string; maps: Record<string, string[]> } {
  const maps = MapStore.fromDefs(prog.maps);
  const r = runProgram(prog, { maps, seed });
  return { ok: r.ok, retval: r.retval, fault: r.fault, maps: snapshotMaps(maps) };
}

export function compare(want: ReturnType<typeof interpret>, got: NativeResult): string | undefined {
  if (want.ok !== got.ok) return `interpreter ${want.ok ? `r0=${want.retval}` : want.fault}, native ${got.ok ? `r0=${got.retval}` : got.error}`;
  if (!want.ok) return undefined;
  if (want.retval !== got.retval) return `r0: interpreter ${want.retval}, native ${got.retval}`;
  const a = JSON.stringify(want.maps), b = JSON.stringify(got.maps ?? {});
  if (a !== b) return `memory differs: interpreter ${a}, native ${b}`;
  return undefined;
}

export async function fuzzOne(pool: NativePool, prog: Program, seed: number): Promise<FuzzOutcome> {
  let accepted: boolean;
  try {
    accepted = verify(prog, { logLevel: 0, unpriv: false, series: 'none' }).accepted;
  } catch (e) {
    return { verdict: 'verifier-error', detail: (e as Error).message };
  }
  if (!accepted) return { verdict: 'rejected' };
  const want = interpret(prog, seed);
  const got = await pool.run(prog, { seed, snapshot: true });
  const d = compare(want, got);
  return d ? { verdict: 'differ', detail: d } : { verdict: 'agree' };
}

interface ShardResult {
  readonly counts: Record<FuzzVerdict, number>;
  readonly crashed: number;
}

/** Programs i = shard, shard + shards, ... of the run; one native worker, two in flight so
 *  verification here overlaps native runs there. */
async function runShard(seed: number, count: number, len: number, shard: number, shards: number, quiet: boolean): Promise<ShardResult> {
  const pool = new NativePool({ size: 1 });
  const counts: Record<FuzzVerdict, number> = { agree: 0, rejected: 0, 'verifier-error': 0, differ: 0 };
  const started = Date.now();
  let crashed = 0;
  let next = shard;
  const lane = async (): Promise<void> => {
    for (;;) {
      const i = next;
      next += shards;
      if (i >= count) return;
      const rng = new Rng((seed + Math.imul(i, 0x9e3779b1)) >>> 0);
      const prog = fuzzProgram(rng, len, `fuzz_${seed}_${i}`);
      try {
        const o = await fuzzOne(pool, prog, i);
        counts[o.verdict]++;
        if (o.verdict === 'differ') process.stdout.write(`DIFFER program ${i} (--seed ${seed}): ${o.detail}\n`);
      } catch (e) {
        crashed++;
        process.stdout.write(`FUZZER CRASH on program ${i} (--seed ${seed}): ${(e as Error).stack}\n`);
      }
      if (!quiet && shard === 0 && Math.floor(i / shards) % 5000 === 4999) {
        process.stdout.write(`  ~${i + 1} programs, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      }
    }
  };
  try {
    await Promise.all([lane(), lane()]);
  } finally {
    pool.close();
  }
  return { counts, crashed };
}

/** Run shards in child processes (one per job) and add up their summaries. */
async function runSharded(seed: number, count: number, len: number, jobs: number): Promise<ShardResult> {
  const { spawn } = await import('node:child_process');
  const self = new URL(import.meta.url).pathname;
  const results = await Promise.all(Array.from({ length: jobs }, (_, k) => new Promise<ShardResult>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', self, '--seed', String(seed), '--count', String(count), '--len', String(len), '--shard', `${k}/${jobs}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    let summary: ShardResult | undefined;
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('SHARD ')) summary = JSON.parse(line.slice(6)) as ShardResult;
        else process.stdout.write(line + '\n');
      }
    });
    child.on('exit', (code) => (summary ? resolve(summary) : reject(new Error(`shard ${k} exited with ${code} and no summary`))));
  })));
  const counts: Record<FuzzVerdict, number> = { agree: 0, rejected: 0, 'verifier-error': 0, differ: 0 };
  let crashed = 0;
  for (const r of results) {
    for (const k of Object.keys(counts) as FuzzVerdict[]) counts[k] += r.counts[k];
    crashed += r.crashed;
  }
  return { counts, crashed };
}

async function main(): Promise<number> {
  const { values } = parseScriptArgs(USAGE, {
    options: {
      seed: { type: 'string' }, count: { type: 'string', default: '2000' }, jobs: { type: 'string', default: '2' },
      len: { type: 'string', default: '40' }, quiet: { type: 'boolean', default: false }, shard: { type: 'string' },
    },
  });
  const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : (Date.now() & 0x7fffffff) >>> 0;
  const count = Number(values.count), jobs = Math.max(1, Number(values.jobs)), len = Number(values.len);
  if (values.shard) {
    const [k, n] = values.shard.split('/').map(Number);
    const r = await runShard(seed, count, len, k, n, values.quiet);
    process.stdout.write(`SHARD ${JSON.stringify(r)}\n`);
    return 0;
  }
  process.stdout.write(`fuzz-jit: seed ${seed}, ${count} programs, ${jobs} shard(s), ~${len} body insns\n`);
  const started = Date.now();
  const { counts, crashed } = jobs === 1 ? await runShard(seed, count, len, 0, 1, values.quiet) : await runSharded(seed, count, len, jobs);
  const secs = (Date.now() - started) / 1000;
  const ran = counts.agree + counts.differ;
  process.stdout.write(
    `fuzz-jit: seed ${seed}: ${count} generated, ${ran} verified and run, ${counts.agree} agree, ${counts.differ} differ, ` +
      `${counts.rejected} rejected by the verifier, ${counts['verifier-error']} verifier exceptions, ${crashed} fuzzer crashes, ` +
      `${secs.toFixed(1)} s (${((secs * 1000) / Math.max(1, count)).toFixed(2)} ms/program)\n`,
  );
  return counts.differ === 0 && crashed === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then((code) => process.exit(code), (e) => {
    process.stderr.write(`fuzz-jit: ${(e as Error).stack}\n`);
    process.exit(2);
  });
}
