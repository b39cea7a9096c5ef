// BPF helpers the interpreter implements, by helper id. Each reads r1..r5 and sets r0; a
// callback helper re-enters the interpreter through Machine.callback. Return values and
// error codes follow the 6.18 helpers (net/core/filter.c, kernel/bpf/helpers.c, ...).

import { helperId } from '../isa/helpers.ts';
import { type HelperFn, type Machine, BPF_MAX_LOOPS } from './machine.ts';
import { RtMap, E2BIG, EFAULT, EINVAL } from './maps.ts';
import { regionLo, RuntimeFault } from './memory.ts';
import { SKB_HELPERS } from './skb-helpers.ts';
import { TIMER_HELPERS } from './timer.ts';

const id = (name: string): number => {
  const n = helperId(name);
  if (n === undefined) throw new Error(`no helper named ${name}`);
  return n;
};

/** mulberry32: small, seedable, good enough for bpf_get_prandom_u32 in tests. */
export function nextRandom(m: Machine): number {
  let t = (m.rngState = (m.rngState + 0x6d2b79f5) >>> 0);
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

function mapLookup(m: Machine): void {
  const map = m.argMap(1);
  const key = m.argMem(2, map.def.keySize);
  const slot = map.def.type === 'PROG_ARRAY' ? undefined : map.lookup(key);
  if (!slot) { m.setR0(0); return; }
  const a = RtMap.slotAddress(slot);
  m.lo[0] = a.lo; m.hi[0] = a.hi;
}

function mapUpdate(m: Machine): void {
  const map = m.argMap(1);
  const key = m.argMem(2, map.def.keySize);
  const value = m.argMem(3, map.def.valueSize);
  m.setR0(map.update(key, value, Number(m.argU64(4) & 0xffffffffn)));
}

function mapDelete(m: Machine): void {
  const map = m.argMap(1);
  m.setR0(map.delete(m.argMem(2, map.def.keySize)));
}

/** fib_lookup(ctx, params, plen, flags): only the argument errors are modelled (a too short
 *  params buffer, an address family that is neither AF_INET nor AF_INET6). */
function fibLookup(m: Machine): void {
  const plen = m.argU32(3);
  if (plen < 64) { m.setR0(-EINVAL); return; }
  const family = m.argMem(2, 1)[0];
  if (family !== 2 && family !== 10) { m.setR0(-97); return; } // -EAFNOSUPPORT
  throw new RuntimeFault('bpf_fib_lookup of a real route is not modelled');
}

/** probe_read_kernel(dst, size, src): copy, or zero dst and return -EFAULT. */
function probeRead(m: Machine): void {
  const size = m.argU32(2);
  const dst = m.argMem(1, size, true);
  const r = m.space.tryResolve(m.hi[3], m.lo[3], size, false);
  if (!r) { dst.fill(0); m.setR0(-EFAULT); return; }
  dst.set(r.bytes.subarray(m.space.off, m.space.off + size));
  m.setR0(0);
}

/** probe_read_kernel_str(dst, size, src): copy up to a NUL, return the length with it. */
function probeReadStr(m: Machine): void {
  const size = m.argU32(2);
  const dst = m.argMem(1, size, true);
  if (size === 0) { m.setR0(0); return; }
  const r = m.space.tryResolve(m.hi[3], m.lo[3], 1, false);
  if (!r) { dst.fill(0); m.setR0(-EFAULT); return; }
  const src = r.bytes.subarray(m.space.off);
  let n = 0;
  while (n < size - 1 && n < src.length && src[n] !== 0) { dst[n] = src[n]; n++; }
  if (n < size - 1 && n >= src.length) { dst.fill(0); m.setR0(-EFAULT); return; }
  dst[n] = 0;
  m.setR0(n + 1);
}

function ktime(m: Machine): void {
  m.clockNs += 1000n;
  m.setR0(m.clockNs);
}

function cString(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length && bytes[i] !== 0; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** A small printf for bpf_trace_printk and friends: %d %i %u %x %X %c %s %p with l/ll. */
export function formatPrintk(m: Machine, fmt: string, args: readonly bigint[]): string {
  let ai = 0;
  return fmt.replace(/%([-0 +#]*)(\d*)(ll|l|h|hh)?([diuxXcsp%])/g, (all, flags: string, width: string, len: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    const raw = args[ai++] ?? 0n;
    const wide = len === 'll' || len === 'l';
    let out: string;
    switch (conv) {
      case 'd': case 'i': out = (wide ? BigInt.asIntN(64, raw) : BigInt.asIntN(32, raw)).toString(); break;
      case 'u': out = (wide ? BigInt.asUintN(64, raw) : BigInt.asUintN(32, raw)).toString(); break;
      case 'x': out = (wide ? BigInt.asUintN(64, raw) : BigInt.asUintN(32, raw)).toString(16); break;
      case 'X': out = (wide ? BigInt.asUintN(64, raw) : BigInt.asUintN(32, raw)).toString(16).toUpperCase(); break;
      case 'c': out = String.fromCharCode(Number(raw & 0xffn)); break;
      case 'p': out = '0x' + BigInt.asUintN(64, raw).toString(16); break;
      case 's': {
        const hi = Number(BigInt.asUintN(64, raw) >> 32n), lo = Number(raw & 0xffffffffn);
        const r = m.space.tryResolve(hi, lo, 1, false);
        out = r ? cString(r.bytes.subarray(m.space.off)) : '(efault)';
        break;
      }
      default: out = all;
    }
    const w = Number(width || 0);
    if (out.length < w) out = flags.includes('-') ? out.padEnd(w) : out.padStart(w, flags.includes('0') ? '0' : ' ');
    return out;
  });
}

function tracePrintk(m: Machine): void {
  const size = m.argU32(2);
  const fmt = cString(m.argMem(1, size));
  const text = formatPrintk(m, fmt, [m.argU64(3), m.argU64(4), m.argU64(5)]);
  m.trace.push(text);
  m.setR0(text.length);
}

/** bpf_skb_load_bytes(skb, off, to, len): copy from skb->data + off, or zero and -EFAULT. */
function skbLoadBytes(m: Machine): void {
  const len = m.argU32(4);
  const to = m.argMem(3, len, true);
  const off = m.argU32(2);
  const skb = m.skb;
  if (!skb || off > 0xffff || off + len > skb.len) { to.fill(0); m.setR0(-EFAULT); return; }
  to.set(skb.region.bytes.subarray(skb.dataOff + off, skb.dataOff + off + len));
  m.setR0(0);
}

function skbStoreBytes(m: Machine): void {
  const len = m.argU32(4);
  const from = m.argMem(3, len);
  const off = m.argU32(2);
  const flags = m.argU64(5);
  const skb = m.skb;
  if (!skb || off > 0xffff || (flags & ~3n) !== 0n) { m.setR0(-EINVAL); return; }
  if (off + len > skb.len) { m.setR0(-EFAULT); return; }
  skb.region.bytes.set(from, skb.dataOff + off);
  m.setR0(0);
}

/** Ones'-complement 32-bit accumulate, as csum_partial's result is used by csum_diff. */
function csumAdd(sum: number, w: number): number {
  const s = sum + w;
  return (s > 0xffffffff ? s - 0xffffffff : s) >>> 0;
}

function csumDiff(m: Machine): void {
  const fromSize = m.argU32(2), toSize = m.argU32(4);
  if ((fromSize | toSize) % 4 !== 0 || fromSize + toSize > 512) { m.setR0(-EINVAL); return; }
  let sum = m.argU32(5);
  if (fromSize) {
    const b = m.argMem(1, fromSize), v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < fromSize; i += 4) sum = csumAdd(sum, ~v.getUint32(i, true) >>> 0);
  }
  if (toSize) {
    const b = m.argMem(3, toSize), v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < toSize; i += 4) sum = csumAdd(sum, v.getUint32(i, true));
  }
  m.setR0(sum);
}

function loop(m: Machine): void {
  const nr = m.argU32(1);
  const fnHi = m.hi[2], fnLo = m.lo[2];
  const ctx = m.argU64(3);
  if (m.argU64(4) !== 0n) { m.setR0(-EINVAL); return; }
  if (nr > BPF_MAX_LOOPS) { m.setR0(-E2BIG); return; }
  let i = 0;
  for (; i < nr; i++) {
    if (m.callback(fnHi, fnLo, [BigInt(i), ctx]) !== 0n) { m.setR0(i + 1); return; }
  }
  m.setR0(i);
}

function forEachMapElem(m: Machine): void {
  const map = m.argMap(1);
  const fnHi = m.hi[2], fnLo = m.lo[2];
  const ctx = m.argU64(3);
  if (m.argU64(4) !== 0n) { m.setR0(-EINVAL); return; }
  const mapAddr = (BigInt(map.handle.hi) << 32n) | BigInt(map.handleLo);
  let n = 0;
  for (const key of map.keys()) {
    const slot = map.lookup(key);
    if (!slot || slot.kind !== 'value') continue;
    // The callback gets a pointer to a copy of the key, as the kernel passes its own.
    const keyRegion = m.space.add(`key of ${map.def.name}`, Uint8Array.from(key), false);
    const keyAddr = (BigInt(keyRegion.hi) << 32n) | BigInt(regionLo(0));
    const a = RtMap.slotAddress(slot);
    const valAddr = (BigInt(a.hi) << 32n) | BigInt(a.lo);
    n++;
    const ret = m.callback(fnHi, fnLo, [mapAddr, keyAddr, valAddr, ctx]);
    m.space.release(keyRegion);
    if (ret !== 0n) break;
  }
  m.setR0(n);
}

function strncmp(m: Machine): void {
  const sz = m.argU32(2);
  const a = m.argMem(1, sz);
  const r = m.space.tryResolve(m.hi[3], m.lo[3], 1, false);
  if (!r) { m.setR0(-EFAULT); return; }
  const b = r.bytes.subarray(m.space.off);
  for (let i = 0; i < sz; i++) {
    const x = a[i], y = i < b.length ? b[i] : 0;
    if (x !== y) { m.setR0(x < y ? -1 : 1); return; }
    if (x === 0) break;
  }
  m.setR0(0);
}

/** bpf_strtol/strtoul(buf, buf_len, flags, res): parse an integer; bytes consumed or -EINVAL. */
function strto(signed: boolean): HelperFn {
  return (m) => {
    const len = m.argU32(2);
    const buf = m.argMem(1, len);
    const flags = m.argU64(3);
    const res = m.argMem(4, 8, true);
    let base = Number(flags & 0x1fn);
    if ((flags & ~0x1fn) !== 0n || ![0, 8, 10, 16].includes(base) || len === 0) { m.setR0(-EINVAL); return; }
    let i = 0;
    while (i < len && buf[i] !== 0 && /\s/.test(String.fromCharCode(buf[i]))) i++;
    let neg = false;
    if (signed && i < len && buf[i] === 0x2d) { neg = true; i++; }
    if (base === 0 || base === 16) {
      if (i + 1 < len && buf[i] === 0x30 && (buf[i + 1] | 0x20) === 0x78) { base = 16; i += 2; }
      else if (base === 0) base = i < len && buf[i] === 0x30 ? 8 : 10;
    }
    const start = i;
    let v = 0n;
    for (; i < len; i++) {
      const ch = String.fromCharCode(buf[i]).toLowerCase();
      const dgt = parseInt(ch, 36);
      if (Number.isNaN(dgt) || dgt >= base) break;
      v = v * BigInt(base) + BigInt(dgt);
      if (v > 0xffffffffffffffffn) { m.setR0(-34); return; } // -ERANGE
    }
    if (i === start) { m.setR0(-EINVAL); return; }
    if (signed && v > (neg ? 1n << 63n : (1n << 63n) - 1n)) { m.setR0(-34); return; }
    if (!signed && buf[0] === 0x2d) { m.setR0(-EINVAL); return; }
    new DataView(res.buffer, res.byteOffset, 8).setBigUint64(0, BigInt.asUintN(64, neg ? -v : v), true);
    m.setR0(i);
  };
}

function redirect(m: Machine): void {
  const flags = m.argU64(2);
  const xdp = m.progType === 'XDP';
  // BPF_F_INGRESS (1) is the only flag; anything else: TC_ACT_SHOT / XDP_ABORTED.
  if ((flags & ~1n) !== 0n) { m.setR0(xdp ? 0 : 2); return; }
  m.setR0(xdp ? 4 : 7); // XDP_REDIRECT / TC_ACT_REDIRECT
}

/** sizeof(struct xdp_frame), which sits at the front of the headroom. */
const XDP_FRAME_SIZE = 40;
const ETH_HLEN = 14;

function xdpAdjustHead(m: Machine): void {
  const x = m.xdp;
  const delta = m.argI32(2);
  if (!x) { m.setR0(-EINVAL); return; }
  const data = x.data + delta;
  const metalen = x.data - x.dataMeta;
  if (data - metalen < XDP_FRAME_SIZE || data > x.dataEnd - ETH_HLEN) { m.setR0(-EINVAL); return; }
  x.data = data;
  x.dataMeta = data - metalen;
  m.setR0(0);
}

function xdpAdjustTail(m: Machine): void {
  const x = m.xdp;
  const delta = m.argI32(2);
  if (!x) { m.setR0(-EINVAL); return; }
  const end = x.dataEnd + delta;
  if (end > x.region.size || end - x.data < ETH_HLEN) { m.setR0(-EINVAL); return; }
  if (delta > 0) x.region.bytes.fill(0, x.dataEnd, end);
  x.dataEnd = end;
  m.setR0(0);
}

function ringbufReserve(m: Machine): void {
  const map = m.argMap(1);
  const size = Number(m.argU64(2));
  if (m.argU64(3) !== 0n || size > map.def.maxEntries) { m.setR0(0); return; }
  const r = m.space.add(`ringbuf ${map.def.name} record`, new Uint8Array(size));
  m.lo[0] = regionLo(0); m.hi[0] = r.hi;
}

function percpuLookup(m: Machine): void {
  if (m.argU32(3) !== 0) { m.setR0(0); return; }
  mapLookup(m);
}

const constant = (v: number | bigint): HelperFn => (m) => m.setR0(v);

/** The default helper table. */
export function defaultHelpers(): Map<number, HelperFn> {
  const t = new Map<number, HelperFn>();
  const add = (name: string, f: HelperFn): void => void t.set(id(name), f);
  add('bpf_map_lookup_elem', mapLookup);
  add('bpf_map_update_elem', mapUpdate);
  add('bpf_map_delete_elem', mapDelete);
  add('bpf_map_lookup_percpu_elem', percpuLookup);
  add('bpf_probe_read', probeRead);
  add('bpf_probe_read_kernel', probeRead);
  add('bpf_probe_read_str', probeReadStr);
  add('bpf_probe_read_kernel_str', probeReadStr);
  add('bpf_ktime_get_ns', ktime);
  add('bpf_ktime_get_boot_ns', ktime);
  add('bpf_ktime_get_coarse_ns', ktime);
  add('bpf_ktime_get_tai_ns', ktime);
  add('bpf_jiffies64', constant(4294967296n));
  add('bpf_trace_printk', tracePrintk);
  add('bpf_get_prandom_u32', (m) => m.setR0(nextRandom(m)));
  add('bpf_get_smp_processor_id', constant(0));
  add('bpf_get_numa_node_id', constant(0));
  add('bpf_skb_load_bytes', skbLoadBytes);
  add('bpf_skb_store_bytes', skbStoreBytes);
  add('bpf_csum_diff', csumDiff);
  add('bpf_loop', loop);
  add('bpf_for_each_map_elem', forEachMapElem);
  add('bpf_strncmp', strncmp);
  add('bpf_strtol', strto(true));
  add('bpf_strtoul', strto(false));
  add('bpf_redirect', redirect);
  add('bpf_xdp_adjust_head', xdpAdjustHead);
  add('bpf_xdp_adjust_tail', xdpAdjustTail);
  add('bpf_xdp_get_buff_len', (m) => m.setR0(m.xdp ? m.xdp.dataEnd - m.xdp.data : 0));
  add('bpf_spin_lock', constant(0));
  add('bpf_spin_unlock', constant(0));
  add('bpf_ringbuf_reserve', ringbufReserve);
  add('bpf_ringbuf_submit', constant(0));
  add('bpf_ringbuf_discard', constant(0));
  add('bpf_ringbuf_output', constant(0));
  add('bpf_get_attach_cookie', constant(0));
  // A test run's packet belongs to no socket: lookups find nothing (NULL), so a release
  // never sees a real one either.
  add('bpf_sk_lookup_tcp', constant(0));
  add('bpf_sk_lookup_udp', constant(0));
  add('bpf_skc_lookup_tcp', constant(0));
  add('bpf_sk_release', constant(0));
  add('bpf_sk_fullsock', constant(0));
  add('bpf_tcp_sock', constant(0));
  add('bpf_get_listener_sock', constant(0));
  add('bpf_sk_storage_get', constant(0));
  add('bpf_fib_lookup', fibLookup);
  for (const [name, f] of Object.entries(SKB_HELPERS)) add(name, f);
  for (const [name, f] of Object.entries(TIMER_HELPERS)) add(name, f);
  return t;
}

