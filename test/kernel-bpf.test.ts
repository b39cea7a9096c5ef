// Low-level bpf(2) round trips against the live kernel, using the programs and outputs of
// the kernel-oracle notes (6.18): load, log, errno, test run, prog info, maps, BTF, caps.

import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_LOG_SIZE, FdScope, bpfBtfLoad, bpfMapCreate, bpfMapDeleteElem, bpfMapInfo,
  bpfMapLookupElem, bpfMapUpdateElem, bpfProgInfo, bpfProgLoad, bpfProgTestRun, closeFd,
  errnoName, withFds,
} from '../engine/kernel/bpf.ts';
import { CAP, UNPRIV_DROP, effectiveCaps, withCapsDropped, withCapsRaised } from '../engine/kernel/caps.ts';
import { environmentSkip } from '../engine/kernel/load.ts';

const skip = environmentSkip({}) ?? false;

const hex = (...words: string[]): Uint8Array =>
  Uint8Array.from(words.join('').replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const u32le = (v: number): string => Array.from({ length: 4 }, (_, i) => ((v >>> (8 * i)) & 0xff).toString(16).padStart(2, '0')).join('');

const RET7 = hex('b700000007000000', '9500000000000000');
const BPF2BPF = hex('b701000005000000', '8510000002000000', '0700000001000000', '9500000000000000',
  'bf10000000000000', '2700000003000000', '9500000000000000');
const UNINIT_R2 = hex('bf20000000000000', '9500000000000000');
const R11_STORE = hex('b701000001000000', '7b1bf8ff00000000', 'b700000000000000', '9500000000000000');
const hashLookup = (mapFd: number): Uint8Array =>
  hex('620afcff00000000', 'bfa2000000000000', '07020000fcffffff', `18110000${u32le(mapFd)}`, '0000000000000000',
    '8500000001000000', '1500010000000000', '7900000000000000', '9500000000000000');
const SOCKET_FILTER = 1;
const PROCESSED = /processed \d+ insns \(limit 1000000\) max_states_per_insn \d+ total_states \d+ peak_states \d+ mark_read \d+\n$/;

const run64 = { dataIn: new Uint8Array(64), dataSizeOut: 256, repeat: 1 };

t.test('errnoName', async (t) => {
  t.equal(errnoName(13), 'EACCES');
  t.equal(errnoName(22), 'EINVAL');
  t.equal(errnoName(28), 'ENOSPC');
  t.equal(errnoName(524), 'ENOTSUPP');
  t.equal(errnoName(0), '');
  t.equal(errnoName(4095), 'E4095');
});

t.test('contract violations throw, kernel errors do not', async (t) => {
  t.throws(() => bpfProgLoad({ progType: SOCKET_FILTER, insns: new Uint8Array(12) }), RangeError);
  t.throws(() => bpfProgLoad({ progType: SOCKET_FILTER, insns: new Uint8Array(0) }), RangeError);
  t.throws(() => bpfProgLoad({ progType: SOCKET_FILTER, insns: RET7, funcInfo: new Uint8Array(8), funcInfoRecSize: 8, funcInfoCnt: 2 }), RangeError);
  closeFd(-1); // a failed creation's fd is ignored
  t.pass('closeFd(-1) is a no-op');
});

t.test('(1) r0 = 7: load, stats log, test run, prog info', { skip }, async (t) => {
  const r = bpfProgLoad({ progType: SOCKET_FILTER, insns: RET7, logLevel: 1 | 4 });
  t.equal(r.errno, 0);
  t.ok(r.fd >= 0);
  t.match(r.log, /^verification time \d+ usec\nstack depth 0\nprocessed 2 insns/);
  t.match(r.log, PROCESSED);
  t.equal(r.logTrueSize, r.log.length + 1, 'log_true_size counts the NUL');
  t.equal(r.logTruncated, false);
  try {
    const run = bpfProgTestRun(r.fd, run64);
    t.equal(run.errno, 0);
    t.equal(run.retval, 7);
    t.same(run.dataOut, new Uint8Array(64), 'data_out is the 64-byte packet');
    const info = bpfProgInfo(r.fd);
    t.equal(info.errno, 0);
    t.equal(info.type, SOCKET_FILTER);
    t.equal(info.tag, '9efe8873120741b3', 'the oracle tag');
    t.same(info.xlated, RET7, 'xlated is the program itself');
    t.equal(info.verifiedInsns, 2);
    t.same(info.jitedFuncLens, [info.jited.length]);
    t.equal(info.jitedKsyms.length, 1);
    t.equal(info.gplCompatible, true);
    t.same(Array.from(info.jited.subarray(0, 5)), [0x0f, 0x1f, 0x44, 0x00, 0x00], 'JIT image starts with the 5-byte nop');
    t.equal(info.runCnt, 0n, 'stats are off: run_cnt stays 0');
  } finally {
    closeFd(r.fd);
  }
});

t.test('(2) bpf2bpf: retval 16, two functions in jited_func_lens', { skip }, async (t) => {
  withFds((fds) => {
    const r = bpfProgLoad({ progType: SOCKET_FILTER, insns: BPF2BPF, progName: 'bpf2bpf' });
    fds.own(r.fd);
    t.equal(r.errno, 0);
    t.equal(r.log, '', 'level 0: no log');
    t.equal(bpfProgTestRun(r.fd, run64).retval, 16);
    const info = bpfProgInfo(r.fd);
    t.equal(info.name, 'bpf2bpf');
    t.equal(info.jitedFuncLens.length, 2);
    t.equal(info.jitedKsyms.length, 2);
    t.equal(info.jitedFuncLens[0] + info.jitedFuncLens[1], info.jited.length, 'lens split the image');
    // After jit_subprogs the call keeps the pc offset in off and the subprog index in imm.
    t.same(Array.from(info.xlated.subarray(8, 16)), [0x85, 0x10, 0x02, 0x00, 0x01, 0, 0, 0]);
  });
});

t.test('(3) uninitialised r2: EACCES with R2 !read_ok', { skip }, async (t) => {
  const r = bpfProgLoad({ progType: SOCKET_FILTER, insns: UNINIT_R2, logLevel: 1 });
  t.equal(r.fd, -1);
  t.equal(r.errno, 13);
  t.equal(errnoName(r.errno), 'EACCES');
  t.equal(r.log, '0: R1=ctx() R10=fp0\n0: (bf) r0 = r2\nR2 !read_ok\n' +
    'processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n');
});

t.test('(4) hash map lookup: 42 from the map, map id in xlated', { skip }, async (t) => {
  withFds((fds) => {
    const m = bpfMapCreate({ mapType: 1, keySize: 4, valueSize: 8, maxEntries: 16, name: 'oracle_map' });
    fds.own(m.fd);
    t.equal(m.errno, 0);
    const key = new Uint8Array(4);
    const value = Uint8Array.from([42, 0, 0, 0, 0, 0, 0, 0]);
    t.equal(bpfMapUpdateElem(m.fd, key, value), 0);
    t.equal(bpfMapUpdateElem(m.fd, key, value, 1 /* BPF_NOEXIST */), 17, 'EEXIST');
    t.same(bpfMapLookupElem(m.fd, key, 8), { errno: 0, value });
    t.same(bpfMapLookupElem(m.fd, Uint8Array.from([1, 0, 0, 0]), 8), { errno: 2 }, 'ENOENT');
    const mi = bpfMapInfo(m.fd);
    t.match(mi, { errno: 0, type: 1, keySize: 4, valueSize: 8, maxEntries: 16, name: 'oracle_map' });

    const r = bpfProgLoad({ progType: SOCKET_FILTER, insns: hashLookup(m.fd), logLevel: 2 });
    fds.own(r.fd);
    t.equal(r.errno, 0);
    t.match(r.log, /R1=map_ptr\(map=oracle_map,ks=4,vs=8\)/);
    t.match(r.log, /from 6 to 8: safe/);
    t.equal(bpfProgTestRun(r.fd, run64).retval, 42);
    const info = bpfProgInfo(r.fd);
    t.same(info.mapIds, [mi.id]);
    // The xlated ld_imm64 at slot 3 carries the map id (bpf_insn_prepare_dump).
    const dv = new DataView(info.xlated.buffer, info.xlated.byteOffset);
    t.equal(dv.getInt32(3 * 8 + 4, true), mi.id);
    t.ok(info.xlated.length > hashLookup(0).length, 'the kernel inlined the hash lookup');

    t.equal(bpfMapDeleteElem(m.fd, key), 0);
    t.equal(bpfProgTestRun(r.fd, run64).retval, 0, 'after delete: NULL path');
  });
});

t.test('(5) r11 store: EINVAL with R11 is invalid', { skip }, async (t) => {
  const r = bpfProgLoad({ progType: SOCKET_FILTER, insns: R11_STORE, logLevel: 1 });
  t.equal(r.errno, 22);
  t.match(r.log, /\n1: \(7b\) \*\(u64 \*\)\(r11 -8\) = r1\nR11 is invalid\n/);
});

t.test('log buffer too small: ENOSPC, then growth to log_true_size', { skip }, async (t) => {
  const full = bpfProgLoad({ progType: SOCKET_FILTER, insns: UNINIT_R2, logLevel: 1 });
  const small = bpfProgLoad({ progType: SOCKET_FILTER, insns: UNINIT_R2, logLevel: 1, logSize: 32, growLog: false });
  t.equal(small.errno, 28, 'ENOSPC instead of EACCES');
  t.equal(small.logTruncated, true);
  t.equal(small.logTrueSize, full.logTrueSize, 'log_true_size is the size the full log needs');
  t.equal(small.log.length, 31, 'the buffer holds 31 chars + NUL');
  t.ok(full.log.endsWith(small.log), 'level 1 rotates: the tail is kept');

  const grown = bpfProgLoad({ progType: SOCKET_FILTER, insns: UNINIT_R2, logLevel: 1, logSize: 32 });
  t.equal(grown.errno, 13, 'after growing, the real verdict');
  t.equal(grown.log, full.log);
  t.equal(grown.logTruncated, false);

  // A successful load whose log does not fit fails too (the kernel's rule since 6.4).
  const ok = bpfProgLoad({ progType: SOCKET_FILTER, insns: RET7, logLevel: 2, logSize: 16, growLog: false });
  t.equal(ok.errno, 28);
  t.equal(ok.fd, -1);
  t.equal(DEFAULT_LOG_SIZE, 2 << 20);
});

/** A BTF blob with one type: [1] INT 'int' size 4, signed, 32 bits (bits may be made bad). */
function intBtf(bits = 32): Uint8Array {
  const strs = new TextEncoder().encode('\0int\0');
  const blob = new Uint8Array(24 + 16 + strs.length);
  const dv = new DataView(blob.buffer);
  dv.setUint16(0, 0xeb9f, true);
  dv.setUint8(2, 1);
  dv.setUint32(4, 24, true);
  dv.setUint32(8, 0, true);
  dv.setUint32(12, 16, true);
  dv.setUint32(16, 16, true);
  dv.setUint32(20, strs.length, true);
  dv.setUint32(24, 1, true); // name "int"
  dv.setUint32(28, 1 << 24, true); // kind INT
  dv.setUint32(32, 4, true);
  dv.setUint32(36, (1 << 24) | bits, true); // BTF_INT_SIGNED, bits
  blob.set(strs, 40);
  return blob;
}

t.test('BTF load: good blob gives an fd, bad one an error log', { skip }, async (t) => {
  const good = bpfBtfLoad(intBtf());
  t.equal(good.errno, 0);
  t.ok(good.fd >= 0);
  closeFd(good.fd);
  const bad = bpfBtfLoad(intBtf(64), 1);
  t.equal(bad.fd, -1);
  t.equal(bad.errno, 22);
  t.match(bad.log, /\[1\] INT int size=4 bits_offset=0 nr_bits=64 encoding=SIGNED nr_bits exceeds type_size\n/);
});

const capEff = (): string => /CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/thread-self/status', 'utf8'))![1];

t.test('caps: dropping CAP_BPF and friends on this thread makes bpf() refuse', { skip }, async (t) => {
  const before = effectiveCaps();
  const inside = withCapsDropped(UNPRIV_DROP, () => {
    const eff = BigInt(`0x${capEff()}`);
    const r = bpfProgLoad({ progType: SOCKET_FILTER, insns: RET7 });
    closeFd(r.fd);
    const raised = withCapsRaised([CAP.BPF, CAP.PERFMON], () => {
      const r2 = bpfProgLoad({ progType: SOCKET_FILTER, insns: RET7 });
      closeFd(r2.fd);
      return r2.errno;
    });
    return { eff, errno: r.errno, raised, after: effectiveCaps() };
  });
  for (const c of UNPRIV_DROP) t.equal((inside.eff >> BigInt(c)) & 1n, 0n, `cap ${c} is off in /proc/thread-self/status`);
  // unprivileged_bpf_disabled != 0 here gives EPERM; with it 0, a socket filter would load.
  const disabled = readFileSync('/proc/sys/kernel/unprivileged_bpf_disabled', 'utf8').trim();
  if (disabled !== '0') t.equal(inside.errno, 1, 'EPERM without CAP_BPF');
  t.equal(inside.raised, 0, 'CAP_BPF raised again inside: loads');
  t.equal(inside.after & (1n << BigInt(CAP.BPF)), 0n, 'raise is undone');
  t.equal(effectiveCaps(), before, 'all caps restored');
  t.throws(() => withCapsDropped([CAP.BPF], () => { throw new Error('boom'); }), /boom/);
  t.equal(effectiveCaps(), before, 'restored after a throw too');
});

t.test('FdScope closes what it owns, in reverse, also on throw', { skip }, async (t) => {
  let fdsSeen: number[] = [];
  t.throws(() => withFds((fds) => {
    for (let i = 0; i < 3; i++) fdsSeen.push(fds.own(bpfMapCreate({ mapType: 2, keySize: 4, valueSize: 4, maxEntries: 1 }).fd));
    throw new Error('x');
  }), /x/);
  t.equal(fdsSeen.length, 3);
  for (const fd of fdsSeen) t.throws(() => closeFd(fd), /EBADF/, `fd ${fd} was closed`);
  const scope = new FdScope();
  const fd = scope.own(bpfMapCreate({ mapType: 2, keySize: 4, valueSize: 4, maxEntries: 1 }).fd);
  scope.release(fd);
  t.throws(() => closeFd(fd), /EBADF/, 'release closes early');
  scope.close();
  fdsSeen = [];
});
