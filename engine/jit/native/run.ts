// Run a program as native x86-64 in this process: JIT in `native` mode, map the code RW,
// write it, flip it to RX, call it through koffi. A bad program can crash the process, so
// callers that must survive use the child-process pool (pool.ts), which runs this there.
//
// Memory model: the interpreter's own (engine/runtime) with native backing (space.ts). The
// ctx, the packet and every map live in native memory that both the program and the
// interpreter's helpers (bridge.ts) use; a map ld_imm64 loads the runtime's map handle (or a
// value's native address), so helpers recognise maps exactly as in the interpreter.

import { fireDueTimers } from '../../runtime/timer.ts';
import koffi from 'koffi';
import type { Insn } from '../../isa/insn.ts';
import type { Program, Series } from '../../program/types.ts';
import { jitProgram } from '../x86_64/compile.ts';
import { fromXlated } from '../x86_64/xlated.ts';
import { LAYOUT_6_18, type JitFunction } from '../x86_64/types.ts';
import { withStackArgs } from '../x86_64/stack-args.ts';
import { buildContext } from '../../runtime/context.ts';
import { defaultHelpers } from '../../runtime/helpers.ts';
import { DEFAULT_PACKET_SIZE, type HelperFn, type KfuncFn, type MapStore, type RtMap } from '../../runtime/index.ts';
import { getLibc, mapAnon, pageRound, PROT_RX } from './libc.ts';
import { NativeMapStore } from './space.ts';
import { arenaRewrite } from './arena.ts';
import { nativeExtable, withExtable } from './fault.ts';
import { planNativeThrow, throwStub, THROW_FRAME_SIZE } from './throw.ts';
import { namedArenaIndex } from '../../program/arena.ts';
import { kfuncsByName } from '../../runtime/kfuncs/index.ts';
import { BUILTIN_KFUNCS } from '../../program/kfuncs.ts';
import { Bridge, NativeMachine, helperTrampoline, kfuncTrampoline, ldAbsTrampoline, setActiveBridge, syncCtxPointers } from './bridge.ts';

export interface NativeEnv {
  /** Seed for bpf_get_prandom_u32 (same generator and state as the interpreter's). */
  readonly seed?: number;
  /** The packet (default 64 zero bytes), as the interpreter's RunEnv.data. */
  readonly data?: Uint8Array;
  /** ctx_in, as the interpreter's RunEnv.ctx. */
  readonly ctx?: Uint8Array;
  /** Programs PROG_ARRAY init values index (map contents only: no native tail calls). */
  readonly progs?: readonly (Program | undefined)[];
  /** Stack depth per function (the verifier's); default 512 for every function. */
  readonly stackDepths?: readonly number[];
  /** Also return every map's contents and the packet after the run (differential tests). */
  readonly snapshot?: boolean;
  /** Stack-argument dialect of the program (default none). */
  readonly series?: Series;
  /** Arguments each function takes (the verifier's argCount); default from prog.funcs. */
  readonly argCounts?: readonly (number | undefined)[];
  /** kfunc BTF ids the program names, with their names (a suite's `kfuncs:`), bound to the
   *  interpreter's implementations as RunEnv.kfuncs would be; the built-ins are always there. */
  readonly kfuncIds?: readonly (readonly [number, string])[];
}

/** In-process extras that cannot cross to a child (functions). */
export interface NativeImpl {
  readonly helpers?: ReadonlyMap<number, HelperFn>;
  readonly kfuncs?: ReadonlyMap<number, KfuncFn>;
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
  /** Time of the native call itself (ns). */
  readonly runNs?: number;
  /** With `snapshot`: map name -> entries as `key-hex=value-hex`, and the packet. */
  readonly maps?: Readonly<Record<string, readonly string[]>>;
  readonly dataOut?: Uint8Array;
}

const MAX_BPF_STACK = 512;
const EntryProto = koffi.proto('uint64_t BpfNativeEntry(uint64_t ctx)');
const HELPERS = defaultHelpers();

/** The program's functions as the native JIT takes them. Without a verifier run every
 *  function gets the full 512-byte frame, which is always enough. */
export function nativeFunctions(
  prog: Program, stackDepths?: readonly number[], series: Series = 'none', argCounts?: readonly (number | undefined)[],
  kfuncArgs?: (btfId: number) => number | undefined, exceptionCbStart?: number,
): JitFunction[] {
  const depths = stackDepths ? { stackDepths } : { stackDepths: [], uniformStackDepth: MAX_BPF_STACK };
  const exc = exceptionCbStart !== undefined ? { exceptionCbStart, exceptionBoundary: true } : {};
  const funcs = fromXlated(prog.insns, { ...depths, ...exc, callOffsetIn: 'imm' });
  if (series === 'none') return funcs;
  const fromBtf = prog.funcs.length === funcs.length ? [...prog.funcs].sort((a, b) => a.start - b.start).map((f) => f.params?.length) : undefined;
  return withStackArgs(funcs, series, argCounts ?? fromBtf, kfuncArgs);
}

/** Native mode runs the indirect tail-call jump as a plain `jmp *%rcx`. */
const NATIVE_CONFIG = { indirectJump: 'plain' } as const;

const fail = (msg: string): never => {
  throw new Error(msg);
};

/** `prog` and every program reachable from it through PROG_ARRAY slots (their maps are
 *  created in `store` too, as the interpreter does when it loads a tail-call target). */
function tailCallClosure(prog: Program, store: NativeMapStore): Program[] {
  const out = [prog];
  for (let k = 0; k < out.length; k++) {
    for (const d of out[k].maps) {
      const map = store.ensure(d);
      if (d.type !== 'PROG_ARRAY') continue;
      for (const key of map.keys()) {
        const slot = map.lookup(key);
        if (slot?.kind === 'prog' && !out.includes(slot.prog)) out.push(slot.prog);
      }
    }
  }
  return out;
}

/** For each PROG_ARRAY: native memory laid out like struct bpf_array as the tail-call
 *  sequence reads it (max_entries, ptrs[]), each non-empty slot pointing at a bpf_prog
 *  look-alike whose bpf_func is the target's entry. Returns the array addresses. */
function progArrays(store: NativeMapStore, progs: readonly Program[], progAddrs: readonly (readonly bigint[])[]): Map<RtMap, bigint> {
  const L = LAYOUT_6_18;
  const out = new Map<RtMap, bigint>();
  const space = store.space;
  for (const map of store.maps) {
    if (map.def.type !== 'PROG_ARRAY') continue;
    const size = L.arrayPtrs + 8 * map.def.maxEntries;
    const arr = space.arena.alloc(size);
    const dv = new DataView(koffi.view(arr, size));
    dv.setUint32(L.arrayMaxEntries, map.def.maxEntries, true);
    for (const key of map.keys()) {
      const slot = map.lookup(key);
      if (slot?.kind !== 'prog') continue;
      const fake = space.arena.alloc(L.progBpfFunc + 8);
      new DataView(koffi.view(fake, L.progBpfFunc + 8)).setBigUint64(L.progBpfFunc, progAddrs[progs.indexOf(slot.prog)][0], true);
      dv.setBigUint64(L.arrayPtrs + 8 * new DataView(key.buffer, key.byteOffset).getUint32(0, true), fake, true);
    }
    out.set(map, arr);
  }
  return out;
}

/** Argument count of a kfunc by BTF id: the built-in declarations, also reached by name
 *  through a suite's ids. */
function kfuncArgCount(ids: NativeEnv['kfuncIds']): (btfId: number) => number | undefined {
  const names = new Map(ids ?? []);
  return (id) => {
    const name = names.get(id);
    return BUILTIN_KFUNCS.find((k) => k.btfId === id || k.name === name)?.params.length;
  };
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every map's contents, comparable between the interpreter and a native run. */
export function snapshotMaps(store: MapStore): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of store.maps) {
    if (m.holdsRefs) continue;
    out[m.def.name] = m.keys().map((k) => `${hex(k)}=${hex(m.read(k) ?? new Uint8Array(0))}`);
  }
  return out;
}

/** JIT `prog` natively and run it once. Never throws for what the program does; a crash
 *  takes the process down (use the pool). */
export function runNativeInProcess(prog: Program, env: NativeEnv = {}, impl: NativeImpl = {}): NativeResult {
  const c = getLibc();
  const store = new NativeMapStore();
  let code = 0n;
  let codeLen = 0;
  let m: NativeMachine | undefined;
  try {
    for (const d of prog.maps) store.ensure(d);
    // An arena program runs with kern_vm_start in r12 and its arena accesses as PROBE_MEM32,
    // as the kernel's verifier and JIT make it (arena.ts). The window exists before any page
    // is taken, the __arena globals' included (applyInit).
    const space = store.space;
    const named = namedArenaIndex(prog);
    const arena = named !== undefined ? store.ensure(prog.maps[named]).arena : store.maps.find((x) => x.arena)?.arena;
    if (arena) space.fallback = arena;
    const arenaOf = arena ? { kernVmStart: space.mapArena(arena.def.name, arena.userVmStart), userVmStart: arena.userVmStart } : undefined;
    store.applyInit(prog.maps, env.progs ?? []);
    const helpers = impl.helpers ? new Map([...HELPERS, ...impl.helpers]) : HELPERS;
    const kfuncs = impl.kfuncs ?? kfuncsByName(new Map(env.kfuncIds ?? []));
    m = new NativeMachine(store, helpers, kfuncs, Number.MAX_SAFE_INTEGER, env.progs ?? []);
    if (env.series && env.series !== 'none') m.useStackArgs(env.series);
    m.progType = prog.progType;
    m.rngState = (env.seed ?? 0) >>> 0;
    const ctx = buildContext(m, prog.progType, env.data ?? new Uint8Array(DEFAULT_PACKET_SIZE), env.ctx);
    syncCtxPointers(m);

    // A program that can throw: its main function records its frame, bpf_throw goes to a
    // stub that hands the frame to the exception callback (throw.ts).
    const thrower = planNativeThrow(prog, env.kfuncIds);
    const throwFrame = thrower ? space.arena.alloc(THROW_FRAME_SIZE) : undefined;
    let stubAt = 0n;
    const callTarget = (src: number, imm: number): bigint => {
      if (src === 0) return helperTrampoline(imm);
      if (src === 2 && thrower?.ids.has(imm)) return stubAt;
      if (src === 2) return kfuncTrampoline(imm);
      throw new Error(`call with src_reg ${src} has no native target`);
    };

    const t0 = process.hrtime.bigint();
    // The main program and every program a PROG_ARRAY slot names (tail-call targets), each
    // JITed on its own; a prog array becomes a native struct bpf_array look-alike.
    const progs = tailCallClosure(prog, store);
    const usesArena = (p: Program): boolean => !!arenaOf && p.maps.some((d) => d.type === 'ARENA');
    const funcsOf = progs.map((p, k) => {
      const own = k === 0 && thrower ? thrower.prog : p;
      const q = usesArena(p) ? { ...own, insns: arenaRewrite(own.insns) } : own;
      const f = k === 0
        ? nativeFunctions(q, env.stackDepths, env.series, env.argCounts, kfuncArgCount(env.kfuncIds), thrower?.cbStart)
        : nativeFunctions(q);
      const withFrame = k === 0 && throwFrame !== undefined ? f.map((fn, i) => (i === 0 ? { ...fn, nativeThrowFrame: throwFrame } : fn)) : f;
      return usesArena(p) ? withFrame.map((fn) => ({ ...fn, arena: arenaOf })) : withFrame;
    });
    const opts = { mode: 'native' as const, config: NATIVE_CONFIG, ldAbsTarget: ldAbsTrampoline() };
    // Sizes do not depend on addresses in native mode: lay out once, then emit for real.
    const sizings = funcsOf.map((f) => jitProgram(f, { ...opts, callTarget: () => 0n, ldImm64Value: () => 0n }));
    const imagesLen = sizings.reduce((a, z) => a + z.code.length, 0);
    const total = imagesLen + (thrower ? throwStub(0n, 0n).length : 0);
    codeLen = pageRound(total);
    code = mapAnon(codeLen);
    const progAddrs: bigint[][] = [];
    let at = code;
    for (const z of sizings) {
      const addrs: bigint[] = [];
      for (const len of z.funcLens) {
        addrs.push(at);
        at += BigInt(len);
      }
      progAddrs.push(addrs);
    }
    const arrays = progArrays(store, progs, progAddrs);
    const cbIndex = funcsOf[0].findIndex((fn) => fn.exceptionCb);
    const stub = thrower && throwFrame !== undefined ? throwStub(throwFrame, progAddrs[0][cbIndex]) : undefined;
    stubAt = code + BigInt(imagesLen);
    const ldImm64For = (p: Program) => (insn: Insn): bigint => {
      const map = store.ensure(p.maps[insn.imm] ?? fail(`ld_imm64 names map #${insn.imm}, which does not exist`));
      // An arena's globals: its user address, as the interpreter loads it.
      if ((insn.src === 2 || insn.src === 6) && map.arena) return map.arena.userVmStart + BigInt((insn.next?.imm ?? 0) >>> 0);
      if (insn.src === 2 || insn.src === 6) {
        const slot = map.isArray ? map.lookup(new Uint8Array(4)) : undefined;
        if (!slot || slot.kind !== 'value') throw new Error(`map ${map.def.name} has no direct value address`);
        return space.nativeOf(slot.ref.region, slot.ref.off + (insn.next?.imm ?? 0));
      }
      // The runtime's map handle: its struct bpf_map region, natively addressed.
      return arrays.get(map) ?? space.toNative((BigInt(map.handle.hi) << 32n) | BigInt(map.handle.lo));
    };
    const images = funcsOf.map((f, k) => jitProgram(f, { ...opts, callTarget, funcAddrs: progAddrs[k], ldImm64Value: ldImm64For(progs[k]) }));
    const jitNs = Number(process.hrtime.bigint() - t0);
    const view = new Uint8Array(koffi.view(code, codeLen));
    let off = 0;
    for (const img of images) {
      view.set(img.code, off);
      off += img.code.length;
    }
    if (stub) view.set(stub, off);
    if (c.mprotect(code, codeLen, PROT_RX) !== 0) throw new Error('mprotect failed');
    const img = { code: { length: total } };
    // Arena accesses fault on pages that are not allocated: the JIT's exception table, as
    // the kernel installs it, fixes them up (fault.ts).
    const extable = nativeExtable(images.flatMap((i) => i.funcs), code);

    const bridge = new Bridge(m);
    setActiveBridge(bridge);
    const r1 = space.toNative((BigInt(ctx.r1.hi) << 32n) | BigInt(ctx.r1.lo));
    const t1 = process.hrtime.bigint();
    let r: number | bigint;
    try {
      const nm = m;
      r = withExtable(extable, () => {
        const ret = koffi.call(code, EntryProto, r1) as number | bigint;
        // As the interpreter: timers due now fire after the program returned (runtime/timer.ts).
        if (!bridge.fault) fireDueTimers(nm);
        return ret;
      });
    } finally {
      setActiveBridge(undefined);
      space.dropAliases();
    }
    const runNs = Number(process.hrtime.bigint() - t1);
    const base = { codeSize: img.code.length, jitNs, runNs };
    const snap = env.snapshot ? { maps: snapshotMaps(store), dataOut: ctx.dataOut() } : {};
    if (bridge.fault) return { ok: false, retval: 0n, error: bridge.fault, ...base, ...snap };
    return { ok: true, retval: BigInt.asUintN(64, BigInt(r)), ...base, ...snap };
  } catch (e) {
    return { ok: false, retval: 0n, error: (e as Error).message };
  } finally {
    m?.release();
    if (code) c.munmap(code, codeLen);
    store.space.arena.free();
    store.space.unmapArena();
  }
}

export { MAX_BPF_STACK };
