// Load a Program into the running kernel the way selftests' test_loader (through libbpf)
// would, and return plain data: verdict, errno, verifier log, xlated/JIT bytes, retval.
//
// What is emulated, and where it comes from:
//  - maps are created first, filled from MapDef.init, and every BPF_PSEUDO_MAP_FD /
//    BPF_PSEUDO_MAP_VALUE ld_imm64 whose imm is a map *index* gets the map's fd;
//    BPF_PSEUDO_MAP_IDX(_VALUE) index into fd_array, which we fill with the same fds;
//  - libbpf's log retry: a level-0 load that fails is repeated at level 1, and the log
//    returned is the retry's. The log buffer is test_loader's fixed 2 MiB: a log that does
//    not fit fails the load with ENOSPC exactly as it would there (growLog changes that);
//  - caps: the priv run of verifier_* tests has no CAP_SYS_ADMIN (prog_tests/verifier.c), the
//    unpriv run also loses NET_ADMIN, PERFMON and BPF for map creation and load; caps are
//    back for prog info and the test run (see caps.ts for how);
//  - unpriv: maps of types an unprivileged user cannot create are not created and their
//    ld_imm64s are poisoned like libbpf does, including libbpf's rewrite of the log message;
//  - the test run: 64 zero bytes in, 256 bytes out, repeat 1; SYSCALL programs get nothing.
// Situations this machine cannot judge come back as `skip` with the reason.

import type { MapDef, Program } from '../program/types.ts';
import { MAP_TYPES, PROG_TYPES } from '../program/types.ts';
import { slotOffsets, type Insn } from '../isa/insn.ts';
import { encode } from '../isa/encode.ts';
import {
  BPF_CALL, BPF_JMP, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
  BPF_PSEUDO_MAP_VALUE, LD_IMM64,
} from '../isa/opcodes.ts';
import {
  DEFAULT_LOG_SIZE, FdScope, bpfBtfLoad, bpfMapCreate, bpfMapFreeze, bpfMapInfo, bpfMapUpdateElem, bpfProgInfo,
  bpfProgLoad, bpfProgTestRun, type ProgLoadResult,
} from './bpf.ts';
import { CAP, UNPRIV_DROP, hasCap, withCapsDropped } from './caps.ts';
import { EPERM, ENOSYS, ENOTSUPP, errnoName } from './errno.ts';
import { MAP_FIXED, MAP_SHARED, PROT_READ, PROT_WRITE, libcAvailable, sysMmap, sysMunmap, writeMapped } from './syscall.ts';

const PAGE_SIZE = 4096;
import { ATTACH_TYPES, BPF_F_ZERO_SEED } from './uapi.ts';
import { findByName } from '../btf/resolve.ts';
import { vmlinuxBtf } from '../btf/vmlinux.ts';
import { funcBtfFor } from './func-btf.ts';
import { mapBtfFor } from './map-btf.ts';
import { readFileSync } from 'node:fs';

export interface LoadOptions {
  /** __log_level; 0 = no log unless the load fails (then level 1, like libbpf). */
  readonly logLevel: number;
  /** Final BPF_F_* prog flags. */
  readonly flags: number;
  readonly unpriv?: boolean;
  /** Run the program once after a successful load (a __retval was given). */
  readonly execute?: boolean;
  readonly wantXlated?: boolean;
  readonly wantJited?: boolean;
  /** Programs loaded alongside (__auxiliary), sharing maps by name. */
  readonly auxiliary?: readonly Program[];
  /** Drop CAP_SYS_ADMIN for the whole run, as prog_tests/verifier.c does. Default true. */
  readonly dropSysAdmin?: boolean;
  /** __caps_unpriv: capabilities the unpriv run keeps. */
  readonly capsUnpriv?: readonly number[];
  /** __linear_size: the test run passes a __sk_buff ctx whose data_end is this. */
  readonly linearSize?: number;
  /** Pass BTF func_info for every program, as libbpf does for a clang -g object. By default
   *  only programs with global subprograms get it (test_verifier-style raw programs). */
  readonly funcInfo?: boolean;
  /** Verifier log buffer size; default test_loader's 2 MiB. */
  readonly logSize?: number;
  /** Reload with a bigger buffer when the log does not fit (libbpf does not with a
   *  caller-provided buffer, so neither do we by default). */
  readonly growLog?: boolean;
}

export interface TestRunOutcome {
  readonly errno: number;
  /** The kernel's 32-bit return value, as a signed int. */
  readonly retval: number;
  /** ns per run as the kernel measured it. */
  readonly duration: number;
}

export interface LoadResult {
  /** Set when this machine cannot judge the case; the other fields then say how far we got. */
  readonly skip?: string;
  readonly loaded: boolean;
  /** 0 on success. */
  readonly errno: number;
  /** The verifier log as test_loader would see it. */
  readonly log: string;
  readonly logTruncated: boolean;
  /** A level-0 load failed and was retried at level 1. */
  readonly retried: boolean;
  /** Kernel map id per Program.maps index; 0 for a map that was not created. */
  readonly mapIds: readonly number[];
  readonly verifiedInsns?: number;
  /** Post-verifier instructions (map ids in place of map pointers). */
  readonly xlated?: Uint8Array;
  /** JIT image, all functions concatenated. */
  readonly jited?: Uint8Array;
  readonly jitedFuncLens?: readonly number[];
  readonly jitedKsyms?: readonly bigint[];
  readonly run?: TestRunOutcome;
  /** Wall time of the final BPF_PROG_LOAD syscall (ns). */
  readonly loadWallNs: number;
}

/** libbpf's poison for an ld_imm64 of a map that was not created: two calls to this + index. */
const POISON_MAP_BASE = 2001000000;
/** Bytes test_loader feeds a test run. */
const TEST_DATA_LEN = 64;
const TEST_DATA_OUT = 256;

/** Map types test_loader lets an unprivileged run create (others are poisoned). */
const UNPRIV_MAP_TYPES = new Set<number>([
  MAP_TYPES.HASH, MAP_TYPES.PERCPU_HASH, MAP_TYPES.HASH_OF_MAPS, MAP_TYPES.ARRAY,
  MAP_TYPES.PERCPU_ARRAY, MAP_TYPES.ARRAY_OF_MAPS, MAP_TYPES.PROG_ARRAY, MAP_TYPES.CGROUP_ARRAY,
  MAP_TYPES.RINGBUF, MAP_TYPES.USER_RINGBUF, MAP_TYPES.CGROUP_STORAGE,
  MAP_TYPES.PERCPU_CGROUP_STORAGE, MAP_TYPES.PERF_EVENT_ARRAY,
]);

const HASH_LIKE = new Set<number>([MAP_TYPES.HASH, MAP_TYPES.PERCPU_HASH, MAP_TYPES.HASH_OF_MAPS]);

/** Why this machine cannot run `opts` at all, or undefined when it can. */
export function environmentSkip(opts: Pick<LoadOptions, 'unpriv'>): string | undefined {
  if (!libcAvailable()) return `no bpf(2) here (${process.platform}/${process.arch})`;
  let capable: boolean;
  try {
    capable = hasCap(CAP.BPF) || hasCap(CAP.SYS_ADMIN);
  } catch (e) {
    return `cannot read capabilities: ${(e as Error).message}`;
  }
  if (!capable) return 'not privileged: the kernel backend needs root (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN)';
  if (opts.unpriv) {
    const disabled = readSysctl('/proc/sys/kernel/unprivileged_bpf_disabled');
    if (disabled !== undefined && disabled !== '0') return `unprivileged BPF is disabled here (kernel.unprivileged_bpf_disabled=${disabled})`;
    const cmdline = readSysctl('/proc/cmdline') ?? '';
    if (/(^|\s)mitigations=off(\s|$)/.test(cmdline)) return 'unpriv runs are skipped with mitigations=off (as test_loader does)';
  }
  return undefined;
}

export function loadProgram(prog: Program, opts: LoadOptions): LoadResult {
  const envSkip = environmentSkip(opts);
  if (envSkip) return skipped(envSkip, prog);
  const privDrop = opts.dropSysAdmin === false ? [] : [CAP.SYS_ADMIN];
  const fds = new FdScope();
  try {
    return withCapsDropped(privDrop, () => run(prog, opts, fds));
  } finally {
    fds.close();
  }
}

function run(prog: Program, opts: LoadOptions, fds: FdScope): LoadResult {
  const unprivDrop = opts.unpriv ? UNPRIV_DROP.filter((c) => !opts.capsUnpriv?.includes(c)) : [];
  const aux = opts.auxiliary ?? [];

  // Map creation and the loads happen with the run's reduced caps.
  const staged = withCapsDropped(unprivDrop, () => {
    const maps = createMaps(prog, aux, !!opts.unpriv, fds);
    if ('skip' in maps) return maps;
    const auxFds: number[] = [];
    for (const a of aux) {
      // test_loader sets the test's flags on the tested program only; an auxiliary one keeps
      // libbpf's (its section's: a `tc` helper of an `lsm.s` test is not sleepable).
      const r = loadOne(a, maps, { ...opts, logLevel: 0, flags: a.flags }, fds);
      if (r.res.errno) return { maps, main: r, auxFailed: a.name };
      auxFds.push(r.res.fd);
    }
    const main = loadOne(prog, maps, opts, fds);
    // libbpf fills prog_array slots once every program of the object is loaded.
    if (!main.res.errno) {
      const err = fillProgSlots(prog, maps, [...auxFds, main.res.fd]);
      if (err) return { skip: err as string };
    }
    return { maps, main };
  });
  if ('skip' in staged && staged.skip !== undefined) return skipped(staged.skip, prog);
  if (!('main' in staged)) throw new Error('unreachable: a staged load without a result');

  const { maps, main } = staged;
  if (main.skip) return skipped(main.skip, prog);
  const mapIds = prog.maps.map((m) => maps.ids.get(m.name) ?? 0);
  const base = {
    loaded: main.res.errno === 0 && !('auxFailed' in staged),
    errno: main.res.errno,
    log: main.res.log,
    logTruncated: main.res.logTruncated,
    retried: main.retried,
    mapIds,
    loadWallNs: main.res.wallNs,
  };
  // An auxiliary program failed: libbpf stops before the tested program, whose log stays empty.
  if ('auxFailed' in staged) return { ...base, log: '' };
  if (!base.loaded) {
    if (main.res.errno === ENOSYS) return { ...base, skip: 'bpf(2) is not implemented by this kernel (ENOSYS)' };
    if (main.res.errno === EPERM && main.res.log === '' && !opts.unpriv) {
      return { ...base, skip: `the kernel refused ${prog.progType} programs with EPERM and no log (not loadable on this machine)` };
    }
    return base;
  }

  const fd = main.res.fd;
  let out: LoadResult = base;
  if (opts.wantXlated || opts.wantJited) {
    const info = bpfProgInfo(fd);
    out = {
      ...out,
      verifiedInsns: info.verifiedInsns,
      ...(opts.wantXlated ? { xlated: info.xlated } : {}),
      ...(opts.wantJited ? { jited: info.jited, jitedFuncLens: info.jitedFuncLens, jitedKsyms: info.jitedKsyms } : {}),
    };
  }
  if (opts.execute) {
    const syscallProg = prog.progType === 'SYSCALL';
    const ctxIn = opts.linearSize !== undefined && !syscallProg ? skbCtxWithDataEnd(opts.linearSize) : undefined;
    const r = bpfProgTestRun(fd, syscallProg ? {} : {
      dataIn: new Uint8Array(TEST_DATA_LEN),
      dataSizeOut: TEST_DATA_OUT,
      repeat: 1,
      ...(ctxIn ? { ctxIn } : {}),
    });
    out = { ...out, run: { errno: r.errno, retval: r.retval, duration: r.duration } };
    if (r.errno === ENOTSUPP) {
      out = { ...out, skip: `${prog.progType} programs have no test runner in this kernel (ENOTSUPP)` };
    }
  }
  return out;
}

// ---- maps ----

interface MapTable {
  /** fd by map name, shared between the program and its auxiliaries. */
  readonly fds: Map<string, number>;
  readonly ids: Map<string, number>;
}

function createMaps(prog: Program, aux: readonly Program[], unpriv: boolean, fds: FdScope): MapTable | { skip: string } {
  const table: MapTable = { fds: new Map(), ids: new Map() };
  const all = [prog, ...aux];
  for (const p of all) {
    for (const def of p.maps) {
      if (table.fds.has(def.name)) continue;
      const type = MAP_TYPES[def.type];
      if (unpriv && !unprivCreatable(def)) continue; // poisoned at patch time
      const r = createMap(def, fds);
      if (r.errno) {
        if (r.errno === ENOSYS) return { skip: 'bpf(2) is not implemented by this kernel (ENOSYS)' };
        return { skip: `map '${def.name}' (${def.type}, type ${type}) could not be created here: ${errnoName(r.errno)}${r.why ? ` (${r.why})` : ''}` };
      }
      table.fds.set(def.name, r.fd);
      table.ids.set(def.name, bpfMapInfo(r.fd).id);
    }
  }
  // Contents once every map exists (a map-in-map slot names another map); prog_array slots
  // wait for the programs (fillProgSlots). Then .rodata is frozen, as libbpf does.
  for (const p of all) {
    for (const def of p.maps) {
      const fd = table.fds.get(def.name);
      if (fd === undefined || def.type === 'PROG_ARRAY') continue;
      for (const e of def.init ?? []) {
        let value = expandValue(def, e.value);
        if (def.type === 'ARRAY_OF_MAPS' || def.type === 'HASH_OF_MAPS') {
          const target = p.maps[u32le(e.value)];
          const innerFd = target ? table.fds.get(target.name) : undefined;
          if (innerFd === undefined) return { skip: `map '${def.name}': slot names map #${u32le(e.value)}, which was not created` };
          value = u32bytes(innerFd);
        }
        const err = bpfMapUpdateElem(fd, e.key, value);
        if (err) return { skip: `map '${def.name}': initial update failed: ${errnoName(err)}` };
      }
    }
  }
  const frozen = new Set<number>();
  for (const p of all) {
    for (const def of p.maps) {
      const fd = table.fds.get(def.name);
      if (fd === undefined || !def.frozen || frozen.has(fd)) continue;
      const err = bpfMapFreeze(fd);
      if (err) return { skip: `map '${def.name}': BPF_MAP_FREEZE failed: ${errnoName(err)}` };
      frozen.add(fd);
    }
  }
  return table;
}

/** PROG_ARRAY slots: init values index `progFds` (the auxiliaries, then the tested program). */
function fillProgSlots(prog: Program, maps: MapTable, progFds: readonly number[]): string | undefined {
  for (const def of prog.maps) {
    const fd = maps.fds.get(def.name);
    if (def.type !== 'PROG_ARRAY' || fd === undefined) continue;
    for (const e of def.init ?? []) {
      const target = progFds[u32le(e.value)];
      if (target === undefined) continue;
      const err = bpfMapUpdateElem(fd, e.key, u32bytes(target));
      if (err) return `map '${def.name}': setting a prog_array slot failed: ${errnoName(err)}`;
    }
  }
  return undefined;
}

const u32le = (b: Uint8Array): number => (b.length >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : 0);
function u32bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

/** libbpf rounds a ring buffer's size up to a power-of-two multiple of the page size. */
function ringbufEntries(def: MapDef): number {
  if (def.type !== 'RINGBUF' && def.type !== 'USER_RINGBUF') return def.maxEntries;
  let size = PAGE_SIZE;
  while (size < def.maxEntries && size < 2 ** 31) size *= 2;
  return size;
}

function createMap(def: MapDef, fds: FdScope): { fd: number; errno: number; why?: string } {
  let innerMapFd = 0;
  if (def.inner) {
    // The inner map only gives the outer one its shape; the kernel copies what it needs.
    const inner = createMap(def.inner, fds);
    if (inner.errno) return inner;
    innerMapFd = inner.fd;
  }
  let btf = {};
  if (def.btf) {
    const mb = mapBtfFor(def.btf);
    const b = bpfBtfLoad(mb.btf, 1);
    if (b.errno) return { fd: -1, errno: b.errno, why: `its key/value BTF was refused: ${b.log.trim().split('\n').pop()}` };
    fds.own(b.fd);
    btf = { btfFd: b.fd, btfKeyTypeId: mb.keyTypeId, btfValueTypeId: mb.valueTypeId };
  }
  const r = bpfMapCreate({
    mapType: MAP_TYPES[def.type],
    keySize: def.keySize,
    valueSize: def.valueSize,
    maxEntries: ringbufEntries(def),
    mapFlags: def.flags,
    innerMapFd,
    name: objName(def.name),
    ...(def.mapExtra ? { mapExtra: def.mapExtra } : {}),
    ...btf,
  });
  if (def.inner) fds.release(innerMapFd);
  fds.own(r.fd);
  if (r.fd >= 0 && def.type === 'ARENA') {
    // libbpf maps an arena right after creating it (at map_extra when given): the kernel
    // wants the user address fixed before a program that uses the arena is loaded.
    const len = def.maxEntries * PAGE_SIZE;
    const m = sysMmap(def.mapExtra ?? 0n, len, PROT_READ | PROT_WRITE, MAP_SHARED | (def.mapExtra ? MAP_FIXED : 0), r.fd);
    if (m.errno) return { fd: r.fd, errno: m.errno, why: 'mmap of the arena failed' };
    fds.defer(() => sysMunmap(m.addr, len));
    // The program's __arena globals go to the start of the mapping; the writes fault the
    // pages in, so they are taken before the program runs (libbpf of the 6.12 selftests).
    if (def.arenaData) writeMapped(m.addr, def.arenaData);
  }
  return r;
}

function unprivCreatable(def: MapDef): boolean {
  const type = MAP_TYPES[def.type];
  if (!UNPRIV_MAP_TYPES.has(type)) return false;
  return !(HASH_LIKE.has(type) && (def.flags & BPF_F_ZERO_SEED) !== 0);
}

/** Per-CPU maps take one 8-byte-aligned value per possible CPU; init gives one value. */
function expandValue(def: MapDef, value: Uint8Array): Uint8Array {
  const percpu = def.type === 'PERCPU_ARRAY' || def.type === 'PERCPU_HASH' || def.type === 'LRU_PERCPU_HASH' ||
    def.type === 'PERCPU_CGROUP_STORAGE';
  if (!percpu) return value;
  const stride = (def.valueSize + 7) & ~7;
  const n = possibleCpus();
  const out = new Uint8Array(stride * n);
  for (let i = 0; i < n; i++) out.set(value.subarray(0, def.valueSize), i * stride);
  return out;
}

let cpuCount: number | undefined;
function possibleCpus(): number {
  if (cpuCount === undefined) {
    // "0-3" or "0,2-5": count every listed CPU.
    const text = readSysctl('/sys/devices/system/cpu/possible') ?? '0';
    cpuCount = 0;
    for (const part of text.split(',')) {
      const [a, b] = part.split('-').map(Number);
      cpuCount += (b ?? a) - a + 1;
    }
  }
  return cpuCount;
}

// ---- one program ----

interface LoadedOne {
  readonly res: ProgLoadResult;
  readonly retried: boolean;
  /** Set when our own synthetic BTF was refused: not a verdict on the program. */
  readonly skip?: string;
}

function loadOne(prog: Program, maps: MapTable, opts: LoadOptions, fds: FdScope): LoadedOne {
  const indexFds = prog.maps.map((m) => maps.fds.get(m.name) ?? -1);
  const patched = patchMapRefs(prog.insns, indexFds, prog.rawMapFds);
  const needsFdArray = prog.insns.some((i) => i.code === LD_IMM64 && (i.src === BPF_PSEUDO_MAP_IDX || i.src === BPF_PSEUDO_MAP_IDX_VALUE));
  const attach = attachTarget(prog);
  const fb = funcBtfFor(prog, opts.funcInfo ?? false);
  let btfInfo = {};
  if (fb) {
    const b = bpfBtfLoad(fb.btf, 1);
    fds.own(b.fd);
    if (b.errno) {
      const res = { fd: -1, errno: b.errno, log: '', logTrueSize: 0, logTruncated: false, wallNs: 0 };
      return { res, retried: false, skip: `synthetic func BTF refused (${errnoName(b.errno)}): ${b.log.trim().split('\n').pop()}` };
    }
    btfInfo = { progBtfFd: b.fd, funcInfo: fb.funcInfo, funcInfoRecSize: fb.funcInfoRecSize, funcInfoCnt: fb.funcInfoCnt };
  }
  const req = {
    ...btfInfo,
    progType: PROG_TYPES[prog.progType],
    insns: encode(patched),
    license: prog.license,
    progFlags: opts.flags,
    expectedAttachType: prog.expectedAttachType ? ATTACH_TYPES[prog.expectedAttachType] ?? 0 : 0,
    attachBtfId: attach,
    progName: objName(prog.name),
    ...(needsFdArray ? { fdArray: indexFds.map((fd) => Math.max(fd, 0)) } : {}),
    logSize: opts.logSize ?? DEFAULT_LOG_SIZE,
    growLog: opts.growLog ?? false,
  };
  let res = bpfProgLoad({ ...req, logLevel: opts.logLevel });
  let retried = false;
  if (res.errno && opts.logLevel === 0) {
    res = bpfProgLoad({ ...req, logLevel: 1 });
    retried = true;
  }
  fds.own(res.fd);
  if (res.errno && opts.unpriv) res = { ...res, log: explainPoison(res.log, prog) };
  return { res, retried };
}

/** Swap map indices for fds; an index with no fd (not created) gets libbpf's poison. Slots
 *  listed in `rawFds` hold literal fds and stay as they are. */
export function patchMapRefs(insns: readonly Insn[], fdByIndex: readonly number[], rawFds: readonly number[] = []): Insn[] {
  const at = rawFds.length ? slotOffsets(insns) : [];
  return insns.map((insn, i) => {
    if (insn.code !== LD_IMM64 || (insn.src !== BPF_PSEUDO_MAP_FD && insn.src !== BPF_PSEUDO_MAP_VALUE)) return insn;
    if (rawFds.length && rawFds.includes(at[i])) return insn;
    const fd = fdByIndex[insn.imm];
    if (fd === undefined) return insn; // not a valid index: let the kernel judge the raw value
    if (fd >= 0) return { ...insn, imm: fd };
    const call = { code: BPF_JMP | BPF_CALL, dst: 0, src: 0, off: 0, imm: POISON_MAP_BASE + insn.imm };
    return { ...call, next: call };
  });
}

/** libbpf turns "N: (85) call unknown#2001000xyz / invalid func unknown#2001000xyz" near the
 *  end of a failed load's log into a message naming the map that was not created. */
export function explainPoison(log: string, prog: Program): string {
  const lines = log.split('\n');
  const last = Math.max(0, lines.length - 11);
  for (let i = lines.length - 1; i > last; i--) {
    const m = /^invalid func unknown#(2001\d{6})$/.exec(lines[i]);
    if (!m) continue;
    const head = /^(\d+): \(\d+\) call unknown#(\d+)$/.exec(lines[i - 1] ?? '');
    const idx = Number(m[1]) - POISON_MAP_BASE;
    const def = prog.maps[idx];
    if (!head || !def) return log;
    lines.splice(i - 1, 2, `${head[1]}: <invalid BPF map reference>`, `BPF map '${def.name}' is referenced but wasn't created`);
    return lines.join('\n');
  }
  return log;
}

/** attach_btf_id for programs that name a vmlinux BTF target, with libbpf's prefixes. */
function attachTarget(prog: Program): number {
  if (!prog.attachTo) return 0;
  const btf = vmlinuxBtf();
  if (!btf) return 0;
  const [prefix, kind] =
    prog.expectedAttachType === 'TRACE_RAW_TP' ? ['btf_trace_', 'TYPEDEF' as const]
      : prog.expectedAttachType === 'LSM_MAC' || prog.expectedAttachType === 'LSM_CGROUP' ? ['bpf_lsm_', 'FUNC' as const]
        : prog.expectedAttachType === 'TRACE_ITER' ? ['bpf_iter_', 'FUNC' as const]
          : ['', 'FUNC' as const];
  return findByName(btf, prefix + prog.attachTo, kind)?.id ?? 0;
}

/** test_loader's ctx for __linear_size: a zeroed struct __sk_buff with only data_end set
 *  (size and offset from the running kernel's BTF). */
function skbCtxWithDataEnd(linearSize: number): Uint8Array | undefined {
  const btf = vmlinuxBtf();
  const skb = btf ? findByName(btf, '__sk_buff', 'STRUCT') : undefined;
  const m = skb?.members.find((x) => x.name === 'data_end');
  if (!skb || !m) return undefined;
  const ctx = new Uint8Array(skb.size);
  new DataView(ctx.buffer).setUint32(m.bitOffset / 8, linearSize, true);
  return ctx;
}

/** Object names are at most 15 characters of [A-Za-z0-9_.]. */
function objName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, 15);
}

function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function skipped(reason: string, prog: Program): LoadResult {
  return {
    skip: reason, loaded: false, errno: 0, log: '', logTruncated: false, retried: false,
    mapIds: prog.maps.map(() => 0), loadWallNs: 0,
  };
}
