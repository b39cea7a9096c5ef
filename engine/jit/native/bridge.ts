// Helpers and kfuncs for native code: koffi callbacks that run the interpreter's own helper
// functions (engine/runtime/helpers.ts) on a Machine whose memory is native (space.ts).
//
// A call from JIT-compiled code arrives with native argument values; they are translated to
// the interpreter's (hi, lo) addresses, the helper runs exactly as it would in the
// interpreter, and r0 is translated back. A helper that calls a BPF function (bpf_loop,
// bpf_for_each_map_elem) re-enters native code through Machine.callback.
//
// The koffi callbacks are registered once per process and per helper/kfunc id and dispatch
// to the run in progress (`active`), so a run costs no registration.

import koffi from 'koffi';
import { Machine, MAX_CALL_FRAMES, RuntimeFault, type HelperFn, type KfuncFn } from '../../runtime/index.ts';
import { StackArgState } from '../../runtime/stack-args.ts';
import type { Series } from '../../program/types.ts';
import { ctxKind, SK_BUFF, SKB, XDP_MD } from '../../runtime/context.ts';
import type { NativeMapStore, NativeSpace } from './space.ts';
import { REGION_HI_BASE, type Region } from '../../runtime/memory.ts';

/** Helpers: five 64-bit arguments (r1..r5), r0 back. */
export const HelperProto = koffi.proto('uint64_t BpfNativeHelper(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t)');
/** kfuncs: up to 12 arguments, SysV: rdi, rsi, rdx, rcx, r8, r9, then the stack. */
export const KfuncProto = koffi.proto(
  'uint64_t BpfNativeKfunc(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t)',
);

const u64 = (v: unknown): bigint => BigInt.asUintN(64, BigInt(v as number | bigint));

/** The Machine helpers see during a native run: same state and helpers as the interpreter's;
 *  only calling a BPF function goes to native code. */
export class NativeMachine extends Machine {
  declare readonly maps: NativeMapStore;

  get nspace(): NativeSpace {
    return this.maps.space;
  }

  /** The `stack args` of the kfunc being called (args 6..12), for kfunc implementations
   *  that take more than five arguments. */
  kfuncStackArgs: readonly bigint[] = [];

  /** Let the interpreter's kfuncs read arguments 6..12 (runtime/stack-args.ts callArgs):
   *  natively they arrive as SysV arguments, not in the interpreter's slots. */
  useStackArgs(series: Exclude<Series, 'none'>): void {
    const sa = new StackArgState(series, MAX_CALL_FRAMES);
    sa.gather = (_depth: number, nargs: number): bigint[] => this.kfuncStackArgs.slice(0, Math.max(0, nargs - 5));
    this.sa = sa;
  }

  override callback(hi: number, lo: number, args: readonly bigint[]): bigint {
    const sp = this.nspace;
    const fn = sp.toNative((BigInt(hi) << 32n) | BigInt(lo >>> 0));
    const a = [0, 1, 2, 3, 4].map((i) => sp.toNative(args[i] ?? 0n));
    return u64(koffi.call(fn, HelperProto, a[0], a[1], a[2], a[3], a[4]));
  }
}

/** One native run's bridge state. */
export class Bridge {
  /** The first runtime fault a helper raised (the interpreter would stop there). */
  fault?: string;
  private depth = 0;

  constructor(readonly m: NativeMachine) {}

  private enter(args: readonly unknown[]): void {
    const sp = this.m.nspace;
    for (let i = 0; i < 5; i++) this.m.setReg(i + 1, sp.toVirtual(u64(args[i] ?? 0)));
    this.depth++;
  }

  private leave(): bigint {
    this.depth--;
    const sp = this.m.nspace;
    const r0 = sp.toNative(this.m.argU64(0));
    if (this.depth === 0) sp.dropAliases();
    // Only XDP helpers move the packet bounds (bpf_xdp_adjust_head/tail/meta).
    if (this.m.xdp) syncCtxPointers(this.m);
    return r0;
  }

  private run(name: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      if (!(e instanceof RuntimeFault || e instanceof RangeError || e instanceof Error)) throw e;
      this.fault ??= `${name}: ${e.message}`;
      this.m.setR0(0);
    }
  }

  callHelper(id: number, h: HelperFn, args: readonly unknown[]): bigint {
    this.enter(args);
    this.run(`helper #${id}`, () => h(this.m));
    return this.leave();
  }

  callKfunc(id: number, k: KfuncFn, args: readonly unknown[]): bigint {
    this.enter(args);
    this.m.kfuncStackArgs = args.slice(5).map((a) => this.m.nspace.toVirtual(u64(a)));
    this.run(`kfunc ${id}`, () => k(this.m));
    return this.leave();
  }

  /** LD_ABS/LD_IND through the interpreter's packet reader: both paths share one
   *  implementation. */
  ldAbs(off: number, size: number): bigint {
    const v = this.m.ldAbs(off | 0, size);
    return v < 0 ? 0xffffffffffffffffn : BigInt(v);
  }
}

let active: Bridge | undefined;

/** Make `b` the bridge the process's callbacks dispatch to (undefined when no run). */
export function setActiveBridge(b: Bridge | undefined): void {
  active = b;
}

const helperAddrs = new Map<number, bigint>();
const LdAbsProto = koffi.proto('uint64_t BpfNativeLdAbs(int32_t off, uint32_t size)');
let ldAbsAddr: bigint | undefined;

/** Native address of the LD_ABS/LD_IND trampoline. */
export function ldAbsTrampoline(): bigint {
  ldAbsAddr ??= koffi.register((off: number, size: number) => active?.ldAbs(off, size) ?? 0xffffffffffffffffn, koffi.pointer(LdAbsProto));
  return ldAbsAddr;
}
const kfuncAddrs = new Map<number, bigint>();

/** Native address of the trampoline for helper `id` (registered on first use). */
export function helperTrampoline(id: number): bigint {
  let a = helperAddrs.get(id);
  if (a === undefined) {
    a = koffi.register((...args: unknown[]) => {
      const b = active;
      const h = b?.m.helpers.get(id);
      if (!b || !h) {
        if (b) b.fault ??= `helper #${id} is not available`;
        return 0n;
      }
      return b.callHelper(id, h, args);
    }, koffi.pointer(HelperProto));
    helperAddrs.set(id, a);
  }
  return a;
}

/** Native address of the trampoline for the kfunc with BTF id `id`. */
export function kfuncTrampoline(id: number): bigint {
  let a = kfuncAddrs.get(id);
  if (a === undefined) {
    a = koffi.register((...args: unknown[]) => {
      const b = active;
      const k = b?.m.kfuncs.get(id);
      if (!b || !k) {
        if (b) b.fault ??= `kfunc ${id} is not available`;
        return 0n;
      }
      return b.callKfunc(id, k, args);
    }, koffi.pointer(KfuncProto));
    kfuncAddrs.set(id, a);
  }
  return a;
}

/**
 * Write native packet pointers into the ctx pointer fields. The interpreter resolves these
 * loads itself (a region's `special` hook); native code reads the bytes, and since the arena
 * sits below 2 GB a 32-bit field holds the whole pointer. Re-done after every helper, which
 * may move the packet bounds (bpf_xdp_adjust_head/tail).
 */
export function syncCtxPointers(m: NativeMachine): void {
  const ctx = m.ctxRegion;
  if (!ctx) return;
  const sp = m.nspace;
  const put = (off: number, v: bigint): void => ctx.view.setUint32(off, Number(v), true);
  if (ctxKind(m.progType as Parameters<typeof ctxKind>[0]) === 'skb' && m.skb) {
    const pkt = m.skb.region;
    const data = sp.nativeOf(pkt, m.skb.dataOff);
    put(SKB.data, data);
    put(SKB.data_meta, data);
    put(SKB.data_end, sp.nativeOf(pkt, m.skb.dataOff + m.skb.len));
  } else if (ctxKind(m.progType as Parameters<typeof ctxKind>[0]) === 'netfilter') {
    // struct bpf_nf_ctx holds real pointers (state, skb), and so do skb->head and skb->data:
    // BTF-typed loads follow them. Native values are left alone, so this may run again.
    const native = (r: Region, off: number): bigint => {
      const v = sp.toNative(r.view.getBigUint64(off, true));
      r.view.setBigUint64(off, v, true);
      return v;
    };
    native(ctx, 0);
    const skb = sp.toVirtual(native(ctx, 8));
    const skbRegion = sp.regions[Number(skb >> 32n) - REGION_HI_BASE];
    if (skbRegion) for (const off of [SK_BUFF.head, SK_BUFF.data]) native(skbRegion, off);
  } else if (m.xdp) {
    const x = m.xdp;
    put(XDP_MD.data, sp.nativeOf(x.region, x.data));
    put(XDP_MD.data_end, sp.nativeOf(x.region, x.dataEnd));
    put(XDP_MD.data_meta, sp.nativeOf(x.region, x.dataMeta));
  }
}
