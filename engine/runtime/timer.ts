// bpf_timer helpers in the interpreter (6.18 kernel/bpf/helpers.c semantics, the parts a
// test run can see):
//
//   bpf_timer_init(timer, map, flags)  -EINVAL for a clock other than MONOTONIC / REALTIME /
//                                      BOOTTIME (or flags >= 16), -EBUSY when already set up
//   bpf_timer_set_callback(timer, cb)  -EINVAL before init
//   bpf_timer_start(timer, ns, flags)  -EINVAL for flags beyond ABS | CPU_PIN, before init
//                                      or without a callback; arms the timer
//   bpf_timer_cancel(timer)            -EINVAL before init, -EDEADLK from the timer's own
//                                      callback; else drops the callback and returns 1 if
//                                      the timer was armed, 0 if not
//
// What a test run observes: BPF_PROG_TEST_RUN returns the program's r0; the kernel runs a
// timer's callback later, from softirq context, so the retval never includes its effects.
// The interpreter has no clock. After the program returns, runProgram fires the timers
// that are due at once (armed with 0 ns, relative): their callbacks run then, so a later run
// on the same MapStore sees what they did, as a later kernel run most likely would. Timers
// armed for later (ns > 0, or absolute) stay armed and never fire.
//
// A timer is known by its address; its state lives with the MapStore (as the kernel's lives
// with the map). Not modelled: freeing a timer when its map element is deleted or updated,
// the map's user reference count (-EPERM), NMI context.

import type { HelperFn, Machine } from './machine.ts';
import { MapStore, RtMap } from './maps.ts';
import { regionLo } from './memory.ts';
import { fieldOf } from '../verifier/checks/map-fields.ts';

const EINVAL = 22;
const EBUSY = 16;
const EDEADLK = 35;

const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
const CLOCK_BOOTTIME = 7;
const MAX_CLOCKS = 16n;
const BPF_F_TIMER_ABS = 1n;
const BPF_F_TIMER_CPU_PIN = 2n;

interface TimerState {
  readonly map: RtMap;
  /** Address of the map value holding the timer. */
  readonly value: { hi: number; lo: number };
  /** The callback's address (native in a native run). */
  callback: bigint | undefined;
  armed: boolean;
  /** Armed with 0 ns, relative: fires as soon as the program returns. */
  due: boolean;
}

const timersOf = new WeakMap<MapStore, Map<string, TimerState>>();
/** The timer whose callback a machine is running (bpf_timer_cancel's deadlock check). */
const running = new WeakMap<Machine, TimerState>();

function table(m: Machine): Map<string, TimerState> {
  let t = timersOf.get(m.maps);
  if (!t) timersOf.set(m.maps, (t = new Map()));
  return t;
}

const keyOf = (m: Machine, reg: number): string => `${m.hi[reg]}:${m.lo[reg] >>> 0}`;

/** A native run's address space (jit/native/space.ts): code addresses reach helpers as
 *  aliases that last one helper call, so a callback kept for later is kept natively. */
interface NativeAddrs {
  toNative(v: bigint): bigint;
  toVirtual(v: bigint): bigint;
}
function nativeAddrs(m: Machine): NativeAddrs | undefined {
  const s = m.space as unknown as Partial<NativeAddrs>;
  return typeof s.toNative === 'function' && typeof s.toVirtual === 'function' ? (s as NativeAddrs) : undefined;
}
const addrOf = (hi: number, lo: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

const timerInit: HelperFn = (m) => {
  const flags = m.argU64(3);
  const clock = Number(flags & (MAX_CLOCKS - 1n));
  if (flags >= MAX_CLOCKS || (clock !== CLOCK_MONOTONIC && clock !== CLOCK_REALTIME && clock !== CLOCK_BOOTTIME)) {
    m.setR0(-EINVAL);
    return;
  }
  const t = table(m);
  const k = keyOf(m, 1);
  if (t.has(k)) { m.setR0(-EBUSY); return; }
  const map = m.argMap(2);
  // The verifier saw to it that r1 points at the value's bpf_timer.
  const off = fieldOf(map.def, 'bpf_timer')?.off ?? 0;
  t.set(k, { map, value: { hi: m.hi[1], lo: ((m.lo[1] >>> 0) - off) >>> 0 }, callback: undefined, armed: false, due: false });
  m.setR0(0);
};

const timerSetCallback: HelperFn = (m) => {
  const s = table(m).get(keyOf(m, 1));
  if (!s) { m.setR0(-EINVAL); return; }
  const fn = addrOf(m.hi[2], m.lo[2]);
  s.callback = nativeAddrs(m)?.toNative(fn) ?? fn;
  m.setR0(0);
};

const timerStart: HelperFn = (m) => {
  const ns = m.argU64(2);
  const flags = m.argU64(3);
  if (flags & ~(BPF_F_TIMER_ABS | BPF_F_TIMER_CPU_PIN)) { m.setR0(-EINVAL); return; }
  const s = table(m).get(keyOf(m, 1));
  if (!s || !s.callback) { m.setR0(-EINVAL); return; }
  s.armed = true;
  s.due = ns === 0n && !(flags & BPF_F_TIMER_ABS);
  m.setR0(0);
};

const timerCancel: HelperFn = (m) => {
  const s = table(m).get(keyOf(m, 1));
  if (!s) { m.setR0(-EINVAL); return; }
  if (running.get(m) === s) { m.setR0(-EDEADLK); return; }
  // Cancelling drops the program's callback: a later start needs a new set_callback.
  s.callback = undefined;
  const was = s.armed;
  s.armed = false;
  s.due = false;
  m.setR0(was ? 1 : 0);
};

/** The timer helpers, by name, for the default helper table. */
export const TIMER_HELPERS: Readonly<Record<string, HelperFn>> = {
  bpf_timer_init: timerInit,
  bpf_timer_set_callback: timerSetCallback,
  bpf_timer_start: timerStart,
  bpf_timer_cancel: timerCancel,
};

/** The key of the element whose value starts at `value`, or undefined (deleted). */
function keyAt(map: RtMap, value: { hi: number; lo: number }): Uint8Array | undefined {
  for (const key of map.keys()) {
    const slot = map.lookup(key);
    if (!slot || slot.kind !== 'value') continue;
    const a = RtMap.slotAddress(slot);
    if (a.hi === value.hi && a.lo >>> 0 === value.lo >>> 0) return key;
  }
  return undefined;
}

/** After the program returned: run the callbacks of the timers due now, each once (an
 *  hrtimer is one-shot unless its callback starts it again), as callback(map, key, value).
 *  Returns how many ran. A callback that re-arms its timer for 0 ns is not run again here. */
export function fireDueTimers(m: Machine): number {
  const t = timersOf.get(m.maps);
  if (!t) return 0;
  const due = [...t.values()].filter((s) => s.armed && s.due && s.callback);
  for (const s of due) {
    s.armed = false;
    s.due = false;
    const key = keyAt(s.map, s.value);
    if (!key) continue;
    const cb = nativeAddrs(m)?.toVirtual(s.callback!) ?? s.callback!;
    const keyRegion = m.space.add(`key of ${s.map.def.name}`, Uint8Array.from(key), false);
    const mapAddr = (BigInt(s.map.handle.hi) << 32n) | BigInt(s.map.handleLo);
    const keyAddr = (BigInt(keyRegion.hi) << 32n) | BigInt(regionLo(0));
    const valAddr = (BigInt(s.value.hi) << 32n) | BigInt(s.value.lo >>> 0);
    running.set(m, s);
    try {
      m.callback(Number(cb >> 32n), Number(cb & 0xffffffffn), [mapAddr, keyAddr, valAddr]);
    } finally {
      running.delete(m);
      m.space.release(keyRegion);
    }
  }
  return due.length;
}
