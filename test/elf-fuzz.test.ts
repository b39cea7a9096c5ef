// Fuzz: 12,000 mutated objects through the ELF reader, the linker and the porter, and the
// BTF reader (with .BTF.ext and every resolver) on mutated blobs. Every input must either
// work or raise InputError, quickly: any other exception or a slow input fails. Fixed seed.
import t from 'tap';
import { InputError } from '../engine/errors.ts';
import { readBpfObject, linkObjectProgram, parseElf } from '../engine/elf/index.ts';
import { parseBtf, parseBtfExt, typeSize, cTypeName, kernelTypeName, funcSignature, declTags } from '../engine/btf/index.ts';
import { portObject } from '../engine/port/port-object.ts';
import { buildFixture, haveClang } from './fixtures/elf/build.ts';
import { xorshift32 } from './lib/rng.ts';

const clang = haveClang();

/** xorshift32 scaled to [0, 1). */
function rng(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 0x1_0000_0000;
}

function mutate(base: Uint8Array, r: () => number, hot: readonly [number, number][]): Uint8Array {
  const pick = (n: number) => Math.floor(r() * n);
  const kind = pick(6);
  if (kind === 0) return base.subarray(0, pick(base.length)); // truncation
  const out = base.slice();
  // Most flips land in structural areas (headers, tables), where they matter.
  const flips = 1 + pick(8);
  for (let i = 0; i < flips; i++) {
    const [lo, hi] = r() < 0.7 && hot.length ? hot[pick(hot.length)] : [0, out.length];
    const at = lo + pick(Math.max(1, hi - lo));
    if (at >= out.length) continue;
    if (kind === 1) out[at] ^= 1 << pick(8);
    else if (kind === 2) out[at] = pick(256);
    else if (kind === 3) out[at] = [0, 0xff, 0x7f, 0x80][pick(4)];
    else if (kind === 4 && at + 4 <= out.length) new DataView(out.buffer).setUint32(at, [0, 0xffffffff, 0x7fffffff, 1, out.length][pick(5)], true);
    else out[at] ^= 0xff;
  }
  return out;
}

function exercise(bytes: Uint8Array): void {
  const obj = readBpfObject(bytes, 'fuzz.o');
  for (const p of obj.programs) linkObjectProgram(obj, p.name, { resolveKsym: () => 1 });
  portObject(obj, { suite: 'fuzz' });
}

function exerciseBtf(blob: Uint8Array, ext: Uint8Array | undefined): void {
  const btf = parseBtf(blob);
  if (ext) parseBtfExt(ext, btf);
  for (const ty of btf.types) {
    typeSize(btf, ty.id);
    cTypeName(btf, ty.id);
    kernelTypeName(btf, ty.id);
    declTags(btf, ty.id);
    if (ty.kind === 'FUNC') funcSignature(btf, ty.id);
  }
}

interface FuzzSummary {
  ok: number;
  rejected: number;
  worstMs: number;
  /** The first input that threw something other than InputError. */
  crash?: string;
}

function run(n: number, seed: number, base: Uint8Array, hot: [number, number][], f: (b: Uint8Array) => void): FuzzSummary {
  const r = rng(seed);
  const sum: FuzzSummary = { ok: 0, rejected: 0, worstMs: 0 };
  for (let i = 0; i < n; i++) {
    const m = mutate(base, r, hot);
    const t0 = performance.now();
    try {
      f(m);
      sum.ok++;
    } catch (e) {
      if (!(e instanceof InputError)) {
        sum.crash = `input ${i} (seed ${seed}) threw ${(e as Error)?.stack ?? String(e)}`;
        return sum;
      }
      sum.rejected++;
    }
    sum.worstMs = Math.max(sum.worstMs, performance.now() - t0);
  }
  return sum;
}

function check(t: Pick<typeof import('tap').default, 'equal' | 'ok'>, n: number, s: FuzzSummary): void {
  t.equal(s.crash, undefined, 'no exception other than InputError');
  t.equal(s.ok + s.rejected, n, `${n} inputs: ${s.ok} accepted, ${s.rejected} rejected with InputError`);
  t.ok(s.worstMs < 1000, `slowest input took ${s.worstMs.toFixed(1)} ms`);
}

t.test('mutated objects', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  const base = buildFixture('objects');
  const elf = parseElf(base);
  // Hot areas: ELF header, section header table, symbol/relocation tables, BTF, .maps.
  const hot: [number, number][] = [[0, 64]];
  const shoff = Number(new DataView(base.buffer, base.byteOffset).getBigUint64(40, true));
  hot.push([shoff, shoff + elf.sections.length * 64]);
  for (const s of elf.sections) {
    if (['.symtab', '.BTF', '.BTF.ext', '.maps', 'socket', '.text'].includes(s.name) || s.name.startsWith('.rel')) hot.push([s.offset, s.offset + s.size]);
  }
  check(t, 8000, run(8000, 0x5eed, base, hot, exercise));
});

t.test('mutated BTF blobs', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  const elf = parseElf(buildFixture('objects'));
  const btf = elf.sections.find((s) => s.name === '.BTF')!.data.slice();
  const ext = elf.sections.find((s) => s.name === '.BTF.ext')!.data.slice();
  // Mutate the BTF (its header and type section are the hot part); keep .BTF.ext fixed,
  // then the other way round.
  check(t, 3000, run(3000, 0xb7f, btf, [[0, 24], [24, Math.min(btf.length, 24 + 2048)]], (b) => exerciseBtf(b, ext)));
  check(t, 1000, run(1000, 0xe87, ext, [[0, 32]], (e) => exerciseBtf(btf, e)));
});
