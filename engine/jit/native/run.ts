// Run a program as native x86-64 in this process: JIT in `native` mode, map the code RW,
// write it, flip it to RX, call it through koffi. A bad program can crash the process, so
// callers that must survive use the child-process pool (pool.ts), which runs this there.
//
// Native memory model (first cut): r1 points to a zeroed context buffer; ARRAY maps live in
// native memory and bpf_map_lookup_elem returns real pointers into it; the map "pointer"
// a program loads is the map's index. Helpers are koffi callbacks.

import koffi from 'koffi';
import type { Program } from '../../program/types.ts';
import { jitProgram } from '../x86_64/compile.ts';
import { fromXlated } from '../x86_64/xlated.ts';
import type { JitFunction } from '../x86_64/types.ts';
import { nextRandom } from '../../runtime/helpers.ts';
import type { Machine } from '../../runtime/machine.ts';

export interface NativeEnv {
  /** Seed for bpf_get_prandom_u32 (same generator as the interpreter's). */
  readonly seed?: number;
  /** Bytes of the zeroed buffer r1 points to. */
  readonly ctxSize?: number;
}

export interface NativeResult {
  readonly ok: boolean;
  /** r0 at exit as an unsigned 64-bit value. */
  readonly retval: bigint;
  readonly error?: string;
  /** Set by the pool when the child died: the signal's name (SIGSEGV, SIGILL, ...). */
  readonly signal?: string;
  /** Image size and JIT time (ns), for benchmarks. */
  readonly codeSize?: number;
  readonly jitNs?: number;
}

const MAX_BPF_STACK = 512;
const PROT_RW = 3;
const PROT_RX = 5;
const MAP_PRIVATE_ANON = 0x22;

type CFunc = ReturnType<ReturnType<typeof koffi.load>['func']>;
interface Libc {
  mmap: CFunc;
  mprotect: CFunc;
  munmap: CFunc;
}
let libc: Libc | undefined;
function getLibc(): Libc {
  if (!libc) {
    const lib = koffi.load('libc.so.6');
    libc = {
      mmap: lib.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, int64_t off)'),
      mprotect: lib.func('int mprotect(void *addr, size_t len, int prot)'),
      munmap: lib.func('int munmap(void *addr, size_t len)'),
    };
  }
  return libc;
}

const HelperProto = koffi.proto('uint64_t BpfHelper(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t)');
const EntryProto = koffi.proto('uint64_t BpfEntry(void *ctx)');

/** The program's functions as the native JIT takes them. Without a verifier run we give
 *  every function the full 512-byte frame, which is always enough. */
export function nativeFunctions(prog: Program): JitFunction[] {
  return fromXlated(prog.insns, { stackDepths: [], uniformStackDepth: MAX_BPF_STACK, callOffsetIn: 'imm' });
}

type Native = { buf: bigint; len: number };

/** JIT `prog` natively and run it once. Throws only for problems of this process (no koffi). */
export function runNativeInProcess(prog: Program, env: NativeEnv = {}): NativeResult {
  const c = getLibc();
  const rng = { rngState: (env.seed ?? 0) >>> 0 };
  const allocs: Native[] = [];
  const callbacks: bigint[] = [];
  const alloc = (len: number): bigint => {
    const buf = c.mmap(null, len, PROT_RW, MAP_PRIVATE_ANON, -1, 0) as bigint;
    if (!buf || buf === 0xffffffffffffffffn) throw new Error('mmap failed');
    allocs.push({ buf, len });
    return buf;
  };
  try {
    // Maps: ARRAY only, in native memory, with their initial values.
    const arrays = prog.maps.map((m) => {
      if (m.type !== 'ARRAY') return undefined;
      const size = Math.max(4096, m.valueSize * m.maxEntries);
      const base = alloc(size);
      const view = new Uint8Array(koffi.view(base, size));
      for (const e of m.init ?? []) {
        const k = new DataView(e.key.buffer, e.key.byteOffset).getUint32(0, true);
        if (k < m.maxEntries) view.set(e.value.subarray(0, m.valueSize), k * m.valueSize);
      }
      return { base, def: m };
    });
    const helpers = new Map<number, (...a: bigint[]) => bigint>([
      [1, (mapIdx, keyPtr) => {
        const a = arrays[Number(mapIdx)];
        if (!a) throw new Error(`map ${mapIdx} is not an ARRAY map (native mode supports ARRAY only)`);
        const key = Number(koffi.decode(keyPtr, 'uint32_t'));
        return key < a.def.maxEntries ? a.base + BigInt(key * a.def.valueSize) : 0n;
      }],
      // The interpreter's generator, which only reads and advances rngState.
      [7, () => BigInt(nextRandom(rng as unknown as Machine))],
    ]);
    const addrs = new Map<number, bigint>();
    const callTarget = (src: number, imm: number): bigint => {
      const fn = src === 0 ? helpers.get(imm) : undefined;
      if (!fn) throw new Error(`helper ${src === 0 ? imm : `kfunc ${imm}`} is not available natively`);
      let a = addrs.get(imm);
      if (a === undefined) {
        const cb = koffi.register((...args: (number | bigint)[]) => fn(...args.map((v) => BigInt.asUintN(64, BigInt(v)))), koffi.pointer(HelperProto));
        callbacks.push(cb);
        a = cb;
        addrs.set(imm, a);
      }
      return a;
    };

    const t0 = process.hrtime.bigint();
    const funcs = nativeFunctions(prog);
    // Sizes do not depend on addresses in native mode: lay out once, then emit for real.
    const sizing = jitProgram(funcs, { mode: 'native', callTarget: () => 0n });
    const total = sizing.code.length;
    const mapLen = (total + 4095) & ~4095;
    const code = alloc(mapLen);
    const funcAddrs: bigint[] = [];
    let at = 0n;
    for (const len of sizing.funcLens) {
      funcAddrs.push(code + at);
      at += BigInt(len);
    }
    const img = jitProgram(funcs, { mode: 'native', callTarget, funcAddrs });
    const jitNs = Number(process.hrtime.bigint() - t0);
    new Uint8Array(koffi.view(code, mapLen)).set(img.code);
    if (c.mprotect(code, mapLen, PROT_RX) !== 0) throw new Error('mprotect failed');

    const ctx = alloc(Math.max(4096, env.ctxSize ?? 256));
    const r = koffi.call(code, EntryProto, ctx) as number | bigint;
    return { ok: true, retval: BigInt.asUintN(64, BigInt(r)), codeSize: total, jitNs };
  } catch (e) {
    return { ok: false, retval: 0n, error: (e as Error).message };
  } finally {
    for (const cb of callbacks) koffi.unregister(cb);
    for (const a of allocs) c.munmap(a.buf, a.len);
  }
}

export { MAX_BPF_STACK };
