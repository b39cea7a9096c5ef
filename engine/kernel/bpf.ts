// Low-level bpf(2) commands over plain data. Each function returns the kernel's errno and
// never throws for a kernel error; it throws only when the caller breaks the contract
// (e.g. instructions that are not a whole number of 8-byte slots, or closing a bad fd).
// Every fd returned here belongs to the caller; FdScope makes closing them easy.

import {
  BPF_ATTR_SIZE, BPF_CMD, BTF_LOAD, MAP_CREATE, MAP_ELEM, MAP_INFO, OBJ_INFO, PROG_INFO,
  PROG_INFO_SIZE, PROG_LOAD, TEST_RUN, endOf, getBytes, getName, getS32, getU32, getU64, put,
  putName,
} from './layout.ts';
import { addressOf, pinned, pinnedCopy, sysBpf, sysClose } from './syscall.ts';
import { errnoName, ENOSPC, EBADF } from './errno.ts';

export { errnoName } from './errno.ts';

/** test_loader's verifier log buffer: 2 MiB. */
export const DEFAULT_LOG_SIZE = 2 * 1024 * 1024;
/** The kernel refuses log buffers larger than UINT_MAX >> 2. */
const MAX_LOG_SIZE = 0xffffffff >>> 2;

export interface ProgLoadRequest {
  readonly progType: number;
  /** Raw instructions, 8 bytes per slot. */
  readonly insns: Uint8Array;
  /** Default 'GPL'. */
  readonly license?: string;
  /** 0 loads without a log buffer (libbpf's first attempt). */
  readonly logLevel?: number;
  /** Log buffer size when logLevel > 0; default 2 MiB. */
  readonly logSize?: number;
  /** Reload with a buffer of log_true_size when the log did not fit (ENOSPC). Default true. */
  readonly growLog?: boolean;
  readonly progFlags?: number;
  readonly expectedAttachType?: number;
  readonly attachBtfId?: number;
  /** attach_btf_obj_fd (or attach_prog_fd for EXT/fentry on a BPF program: same slot). */
  readonly attachBtfObjFd?: number;
  readonly progBtfFd?: number;
  readonly funcInfo?: Uint8Array;
  readonly funcInfoRecSize?: number;
  readonly funcInfoCnt?: number;
  readonly lineInfo?: Uint8Array;
  readonly lineInfoRecSize?: number;
  readonly lineInfoCnt?: number;
  /** fd_array: map/BTF fds that BPF_PSEUDO_MAP_IDX(_VALUE) and kfunc calls index into. */
  readonly fdArray?: readonly number[];
  /** 6.18: also pass fd_array_cnt, which binds every map in fd_array to the program. */
  readonly fdArrayCnt?: boolean;
  /** At most 15 characters of [A-Za-z0-9_.]; the kernel rejects others with EINVAL. */
  readonly progName?: string;
  readonly kernVersion?: number;
}

export interface ProgLoadResult {
  /** The program fd, or -1. */
  readonly fd: number;
  readonly errno: number;
  /** The verifier log (empty at log level 0). */
  readonly log: string;
  /** log_true_size as the kernel reported it (0 at log level 0). */
  readonly logTrueSize: number;
  /** The log did not fit the final buffer (the kernel then fails the load with ENOSPC). */
  readonly logTruncated: boolean;
  /** Wall time of the last BPF_PROG_LOAD syscall, in nanoseconds. */
  readonly wallNs: number;
}

export function bpfProgLoad(req: ProgLoadRequest): ProgLoadResult {
  if (req.insns.byteLength === 0 || req.insns.byteLength % 8 !== 0) {
    throw new RangeError(`bpfProgLoad: ${req.insns.byteLength} bytes is not a whole number of 8-byte insns`);
  }
  checkRecords('funcInfo', req.funcInfo, req.funcInfoRecSize, req.funcInfoCnt);
  checkRecords('lineInfo', req.lineInfo, req.lineInfoRecSize, req.lineInfoCnt);

  // Buffers referenced from attr; all pinned and kept alive by these locals.
  const insns = pinnedCopy(req.insns);
  const license = cString(req.license ?? 'GPL');
  const funcInfo = req.funcInfo ? pinnedCopy(req.funcInfo) : undefined;
  const lineInfo = req.lineInfo ? pinnedCopy(req.lineInfo) : undefined;
  const fdArray = req.fdArray && req.fdArray.length > 0 ? int32Array(req.fdArray) : undefined;

  const attr = pinned(BPF_ATTR_SIZE);
  put(attr, PROG_LOAD.prog_type, req.progType);
  put(attr, PROG_LOAD.insn_cnt, insns.byteLength / 8);
  put(attr, PROG_LOAD.insns, addressOf(insns));
  put(attr, PROG_LOAD.license, addressOf(license));
  put(attr, PROG_LOAD.kern_version, req.kernVersion ?? 0);
  put(attr, PROG_LOAD.prog_flags, req.progFlags ?? 0);
  if (req.progName) putName(attr, PROG_LOAD.prog_name, req.progName);
  put(attr, PROG_LOAD.expected_attach_type, req.expectedAttachType ?? 0);
  put(attr, PROG_LOAD.prog_btf_fd, req.progBtfFd ?? 0);
  if (funcInfo) {
    put(attr, PROG_LOAD.func_info_rec_size, req.funcInfoRecSize ?? 0);
    put(attr, PROG_LOAD.func_info, addressOf(funcInfo));
    put(attr, PROG_LOAD.func_info_cnt, req.funcInfoCnt ?? 0);
  }
  if (lineInfo) {
    put(attr, PROG_LOAD.line_info_rec_size, req.lineInfoRecSize ?? 0);
    put(attr, PROG_LOAD.line_info, addressOf(lineInfo));
    put(attr, PROG_LOAD.line_info_cnt, req.lineInfoCnt ?? 0);
  }
  put(attr, PROG_LOAD.attach_btf_id, req.attachBtfId ?? 0);
  put(attr, PROG_LOAD.attach_btf_obj_fd, req.attachBtfObjFd ?? 0);
  if (fdArray) {
    put(attr, PROG_LOAD.fd_array, addressOf(fdArray));
    if (req.fdArrayCnt) put(attr, PROG_LOAD.fd_array_cnt, req.fdArray!.length);
  }

  const logLevel = req.logLevel ?? 0;
  let logSize = logLevel > 0 ? clampLogSize(req.logSize ?? DEFAULT_LOG_SIZE) : 0;
  const grow = req.growLog ?? true;
  for (;;) {
    const logBuf = logSize > 0 ? pinned(logSize) : undefined;
    put(attr, PROG_LOAD.log_level, logLevel);
    put(attr, PROG_LOAD.log_size, logSize);
    put(attr, PROG_LOAD.log_buf, addressOf(logBuf));
    put(attr, PROG_LOAD.log_true_size, 0);
    const t0 = process.hrtime.bigint();
    const r = sysBpf(BPF_CMD.PROG_LOAD, attr, endOf(PROG_LOAD.fd_array_cnt));
    const wallNs = Number(process.hrtime.bigint() - t0);
    const logTrueSize = getU32(attr, PROG_LOAD.log_true_size);
    const truncated = logBuf !== undefined && r.errno === ENOSPC && logTrueSize > logSize;
    if (truncated && grow && logTrueSize <= MAX_LOG_SIZE) {
      logSize = logTrueSize;
      continue;
    }
    return { fd: r.ret, errno: r.errno, log: logBuf ? cStringAt(logBuf) : '', logTrueSize, logTruncated: truncated, wallNs };
  }
}

/** close(2) an fd we own. Negative fds (failed creations) are ignored; EBADF is a bug. */
export function closeFd(fd: number): void {
  if (fd < 0) return;
  const e = sysClose(fd);
  if (e === EBADF) throw new Error(`closeFd(${fd}): EBADF (closed twice?)`);
}

/** Collects fds and closes them all at once, in reverse order (maps after the programs). */
export class FdScope {
  private readonly fds: number[] = [];
  /** Other resources tied to the scope (arena mappings), undone before the fds close. */
  private readonly undo: (() => void)[] = [];

  /** Run `fn` when the scope closes, before its fds are closed. */
  defer(fn: () => void): void {
    this.undo.push(fn);
  }

  /** Take ownership of fd (ignored when negative) and return it. */
  own(fd: number): number {
    if (fd >= 0) this.fds.push(fd);
    return fd;
  }

  /** Close one owned fd early. */
  release(fd: number): void {
    const i = this.fds.lastIndexOf(fd);
    if (i >= 0) {
      this.fds.splice(i, 1);
      closeFd(fd);
    }
  }

  close(): void {
    while (this.undo.length > 0) this.undo.pop()!();
    while (this.fds.length > 0) closeFd(this.fds.pop()!);
  }
}

/** Run fn with a fresh FdScope, closing every fd it owns afterwards, even on throw. */
export function withFds<T>(fn: (scope: FdScope) => T): T {
  const scope = new FdScope();
  try {
    return fn(scope);
  } finally {
    scope.close();
  }
}

export interface MapCreateRequest {
  readonly mapType: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags?: number;
  /** ARRAY_OF_MAPS / HASH_OF_MAPS: a map of the inner shape. */
  readonly innerMapFd?: number;
  /** At most 15 characters of [A-Za-z0-9_.]. */
  readonly name?: string;
  readonly btfFd?: number;
  readonly btfKeyTypeId?: number;
  readonly btfValueTypeId?: number;
  readonly btfVmlinuxValueTypeId?: number;
  readonly mapExtra?: bigint;
  readonly numaNode?: number;
}

export function bpfMapCreate(req: MapCreateRequest): { fd: number; errno: number } {
  const attr = pinned(BPF_ATTR_SIZE);
  put(attr, MAP_CREATE.map_type, req.mapType);
  put(attr, MAP_CREATE.key_size, req.keySize);
  put(attr, MAP_CREATE.value_size, req.valueSize);
  put(attr, MAP_CREATE.max_entries, req.maxEntries);
  put(attr, MAP_CREATE.map_flags, req.mapFlags ?? 0);
  put(attr, MAP_CREATE.inner_map_fd, req.innerMapFd ?? 0);
  put(attr, MAP_CREATE.numa_node, req.numaNode ?? 0);
  if (req.name) putName(attr, MAP_CREATE.map_name, req.name);
  put(attr, MAP_CREATE.btf_fd, req.btfFd ?? 0);
  put(attr, MAP_CREATE.btf_key_type_id, req.btfKeyTypeId ?? 0);
  put(attr, MAP_CREATE.btf_value_type_id, req.btfValueTypeId ?? 0);
  put(attr, MAP_CREATE.btf_vmlinux_value_type_id, req.btfVmlinuxValueTypeId ?? 0);
  put(attr, MAP_CREATE.map_extra, req.mapExtra ?? 0n);
  const r = sysBpf(BPF_CMD.MAP_CREATE, attr, endOf(MAP_CREATE.map_token_fd));
  return { fd: r.ret, errno: r.errno };
}

/** BPF_MAP_UPDATE_ELEM; flags BPF_ANY (0), BPF_NOEXIST (1), BPF_EXIST (2). Returns errno. */
export function bpfMapUpdateElem(fd: number, key: Uint8Array, value: Uint8Array, flags = 0): number {
  const k = pinnedCopy(key);
  const v = pinnedCopy(value);
  const attr = pinned(BPF_ATTR_SIZE);
  put(attr, MAP_ELEM.map_fd, fd);
  put(attr, MAP_ELEM.key, addressOf(k));
  put(attr, MAP_ELEM.value, addressOf(v));
  put(attr, MAP_ELEM.flags, flags);
  return sysBpf(BPF_CMD.MAP_UPDATE_ELEM, attr, endOf(MAP_ELEM.flags)).errno;
}

/** BPF_MAP_LOOKUP_ELEM. valueSize is the user-visible size (per-CPU maps: round_up(8) * ncpus). */
export function bpfMapLookupElem(fd: number, key: Uint8Array, valueSize: number): { errno: number; value?: Uint8Array } {
  const k = pinnedCopy(key);
  const v = pinned(valueSize);
  const attr = pinned(BPF_ATTR_SIZE);
  put(attr, MAP_ELEM.map_fd, fd);
  put(attr, MAP_ELEM.key, addressOf(k));
  put(attr, MAP_ELEM.value, addressOf(v));
  const r = sysBpf(BPF_CMD.MAP_LOOKUP_ELEM, attr, endOf(MAP_ELEM.flags));
  return r.errno ? { errno: r.errno } : { errno: 0, value: v.slice() };
}

export function bpfMapDeleteElem(fd: number, key: Uint8Array): number {
  const k = pinnedCopy(key);
  const attr = pinned(BPF_ATTR_SIZE);
  put(attr, MAP_ELEM.map_fd, fd);
  put(attr, MAP_ELEM.key, addressOf(k));
  return sysBpf(BPF_CMD.MAP_DELETE_ELEM, attr, endOf(MAP_ELEM.flags)).errno;
}

/** BPF_MAP_FREEZE: no more writes from user space (libbpf does it to .rodata after filling
 *  it). Returns errno. */
export function bpfMapFreeze(fd: number): number {
  const attr = pinned(BPF_ATTR_SIZE);
  put(attr, MAP_ELEM.map_fd, fd);
  return sysBpf(BPF_CMD.MAP_FREEZE, attr, endOf(MAP_ELEM.map_fd)).errno;
}

/** BPF_BTF_LOAD. With logLevel > 0 the log goes into a logSize buffer (default 2 MiB),
 *  grown once to btf_log_true_size if it did not fit. */
export function bpfBtfLoad(btf: Uint8Array, logLevel = 0, logSize = DEFAULT_LOG_SIZE): { fd: number; errno: number; log: string } {
  const data = pinnedCopy(btf);
  const attr = pinned(BPF_ATTR_SIZE);
  put(attr, BTF_LOAD.btf, addressOf(data));
  put(attr, BTF_LOAD.btf_size, data.byteLength);
  let size = logLevel > 0 ? clampLogSize(logSize) : 0;
  for (;;) {
    const logBuf = size > 0 ? pinned(size) : undefined;
    put(attr, BTF_LOAD.btf_log_buf, addressOf(logBuf));
    put(attr, BTF_LOAD.btf_log_size, size);
    put(attr, BTF_LOAD.btf_log_level, logLevel);
    put(attr, BTF_LOAD.btf_log_true_size, 0);
    const r = sysBpf(BPF_CMD.BTF_LOAD, attr, endOf(BTF_LOAD.btf_token_fd));
    const trueSize = getU32(attr, BTF_LOAD.btf_log_true_size);
    if (logBuf && r.errno === ENOSPC && trueSize > size && trueSize <= MAX_LOG_SIZE) {
      size = trueSize;
      continue;
    }
    return { fd: r.ret, errno: r.errno, log: logBuf ? cStringAt(logBuf) : '' };
  }
}

export interface TestRunRequest {
  readonly dataIn?: Uint8Array;
  /** Size of the data_out buffer (0 or absent: no data_out). */
  readonly dataSizeOut?: number;
  readonly ctxIn?: Uint8Array;
  readonly ctxSizeOut?: number;
  /** 0 and 1 both mean one run; other runners (tracing, syscall) reject a non-zero repeat. */
  readonly repeat?: number;
  readonly flags?: number;
  readonly cpu?: number;
  readonly batchSize?: number;
}

export interface TestRunResult {
  readonly errno: number;
  /** The program's return value as the kernel's 32-bit int (what test_loader compares). */
  readonly retval: number;
  /** Bytes the kernel wrote back (data_size_out long), when a data_out buffer was given. */
  readonly dataOut?: Uint8Array;
  readonly ctxOut?: Uint8Array;
  /** Average run time per repetition, ns. */
  readonly duration: number;
}

export function bpfProgTestRun(fd: number, req: TestRunRequest = {}): TestRunResult {
  const dataIn = req.dataIn && req.dataIn.byteLength > 0 ? pinnedCopy(req.dataIn) : undefined;
  const ctxIn = req.ctxIn && req.ctxIn.byteLength > 0 ? pinnedCopy(req.ctxIn) : undefined;
  const dataOut = req.dataSizeOut ? pinned(req.dataSizeOut) : undefined;
  const ctxOut = req.ctxSizeOut ? pinned(req.ctxSizeOut) : undefined;
  const attr = pinned(BPF_ATTR_SIZE);
  put(attr, TEST_RUN.prog_fd, fd);
  put(attr, TEST_RUN.data_size_in, dataIn?.byteLength ?? 0);
  put(attr, TEST_RUN.data_in, addressOf(dataIn));
  put(attr, TEST_RUN.data_size_out, dataOut?.byteLength ?? 0);
  put(attr, TEST_RUN.data_out, addressOf(dataOut));
  put(attr, TEST_RUN.repeat, req.repeat ?? 0);
  put(attr, TEST_RUN.ctx_size_in, ctxIn?.byteLength ?? 0);
  put(attr, TEST_RUN.ctx_in, addressOf(ctxIn));
  put(attr, TEST_RUN.ctx_size_out, ctxOut?.byteLength ?? 0);
  put(attr, TEST_RUN.ctx_out, addressOf(ctxOut));
  put(attr, TEST_RUN.flags, req.flags ?? 0);
  put(attr, TEST_RUN.cpu, req.cpu ?? 0);
  put(attr, TEST_RUN.batch_size, req.batchSize ?? 0);
  const r = sysBpf(BPF_CMD.PROG_TEST_RUN, attr, endOf(TEST_RUN.batch_size));
  const out: { -readonly [K in keyof TestRunResult]: TestRunResult[K] } = {
    errno: r.errno,
    retval: getS32(attr, TEST_RUN.retval),
    duration: getU32(attr, TEST_RUN.duration),
  };
  if (dataOut) out.dataOut = dataOut.slice(0, Math.min(dataOut.byteLength, getU32(attr, TEST_RUN.data_size_out)));
  if (ctxOut) out.ctxOut = ctxOut.slice(0, Math.min(ctxOut.byteLength, getU32(attr, TEST_RUN.ctx_size_out)));
  return out;
}

export interface ProgInfo {
  readonly errno: number;
  readonly type: number;
  readonly id: number;
  /** 16 hex digits, as bpftool prints it. */
  readonly tag: string;
  readonly name: string;
  /** Post-verifier instructions, map pointers replaced by map ids (empty without caps). */
  readonly xlated: Uint8Array;
  /** The JIT image: all functions concatenated (empty when not JITed or without caps). */
  readonly jited: Uint8Array;
  readonly jitedFuncLens: number[];
  readonly jitedKsyms: bigint[];
  readonly mapIds: number[];
  readonly verifiedInsns: number;
  readonly gplCompatible: boolean;
  readonly btfId: number;
  readonly nrFuncInfo: number;
  readonly nrLineInfo: number;
  /** ns since boot. */
  readonly loadTime: bigint;
  readonly runCnt: bigint;
  readonly runTimeNs: bigint;
}

/** BPF_OBJ_GET_INFO_BY_FD for a program: one call for the counts, a second for the arrays. */
export function bpfProgInfo(fd: number): ProgInfo {
  const first = objInfo(fd, pinned(PROG_INFO_SIZE));
  if (first.errno) return emptyProgInfo(first.errno);
  const counts = first.info;
  const xlatedLen = getU32(counts, PROG_INFO.xlated_prog_len);
  const jitedLen = getU32(counts, PROG_INFO.jited_prog_len);
  const nKsyms = getU32(counts, PROG_INFO.nr_jited_ksyms);
  const nLens = getU32(counts, PROG_INFO.nr_jited_func_lens);
  const nMaps = getU32(counts, PROG_INFO.nr_map_ids);

  const xlated = pinned(xlatedLen);
  const jited = pinned(jitedLen);
  const ksyms = pinned(nKsyms * 8);
  const lens = pinned(nLens * 4);
  const maps = pinned(nMaps * 4);
  const req = pinned(PROG_INFO_SIZE);
  put(req, PROG_INFO.xlated_prog_len, xlatedLen);
  put(req, PROG_INFO.xlated_prog_insns, addressOf(xlated));
  put(req, PROG_INFO.jited_prog_len, jitedLen);
  put(req, PROG_INFO.jited_prog_insns, addressOf(jited));
  put(req, PROG_INFO.nr_jited_ksyms, nKsyms);
  put(req, PROG_INFO.jited_ksyms, addressOf(ksyms));
  put(req, PROG_INFO.nr_jited_func_lens, nLens);
  put(req, PROG_INFO.jited_func_lens, addressOf(lens));
  put(req, PROG_INFO.nr_map_ids, nMaps);
  put(req, PROG_INFO.map_ids, addressOf(maps));
  const second = objInfo(fd, req);
  if (second.errno) return emptyProgInfo(second.errno);
  const info = second.info;
  // The kernel reports the real counts again; trust the smaller of asked and reported.
  const n = (field: typeof PROG_INFO.nr_map_ids, asked: number): number => Math.min(asked, getU32(info, field));
  const lensView = new DataView(lens.buffer);
  const ksymsView = new DataView(ksyms.buffer);
  const mapsView = new DataView(maps.buffer);
  return {
    errno: 0,
    type: getU32(info, PROG_INFO.type),
    id: getU32(info, PROG_INFO.id),
    tag: hex(getBytes(info, PROG_INFO.tag)),
    name: getName(info, PROG_INFO.name),
    xlated: xlated.slice(0, n(PROG_INFO.xlated_prog_len, xlatedLen)),
    jited: jited.slice(0, n(PROG_INFO.jited_prog_len, jitedLen)),
    jitedFuncLens: Array.from({ length: n(PROG_INFO.nr_jited_func_lens, nLens) }, (_, i) => lensView.getUint32(i * 4, true)),
    jitedKsyms: Array.from({ length: n(PROG_INFO.nr_jited_ksyms, nKsyms) }, (_, i) => ksymsView.getBigUint64(i * 8, true)),
    mapIds: Array.from({ length: n(PROG_INFO.nr_map_ids, nMaps) }, (_, i) => mapsView.getUint32(i * 4, true)),
    verifiedInsns: getU32(info, PROG_INFO.verified_insns),
    gplCompatible: (getU32(info, PROG_INFO.gpl_compatible) & 1) !== 0,
    btfId: getU32(info, PROG_INFO.btf_id),
    nrFuncInfo: getU32(info, PROG_INFO.nr_func_info),
    nrLineInfo: getU32(info, PROG_INFO.nr_line_info),
    loadTime: getU64(info, PROG_INFO.load_time),
    runCnt: getU64(info, PROG_INFO.run_cnt),
    runTimeNs: getU64(info, PROG_INFO.run_time_ns),
  };
}

export interface MapInfo {
  readonly errno: number;
  readonly type: number;
  readonly id: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly mapFlags: number;
  readonly name: string;
}

export function bpfMapInfo(fd: number): MapInfo {
  const r = objInfo(fd, pinned(endOf(MAP_INFO.name)));
  const i = r.info;
  return {
    errno: r.errno,
    type: getU32(i, MAP_INFO.type),
    id: getU32(i, MAP_INFO.id),
    keySize: getU32(i, MAP_INFO.key_size),
    valueSize: getU32(i, MAP_INFO.value_size),
    maxEntries: getU32(i, MAP_INFO.max_entries),
    mapFlags: getU32(i, MAP_INFO.map_flags),
    name: getName(i, MAP_INFO.name),
  };
}

// ---- helpers ----

function objInfo(fd: number, info: Uint8Array): { errno: number; info: Uint8Array } {
  const attr = pinned(BPF_ATTR_SIZE);
  put(attr, OBJ_INFO.bpf_fd, fd);
  put(attr, OBJ_INFO.info_len, info.byteLength);
  put(attr, OBJ_INFO.info, addressOf(info));
  return { errno: sysBpf(BPF_CMD.OBJ_GET_INFO_BY_FD, attr, endOf(OBJ_INFO.info)).errno, info };
}

function emptyProgInfo(errno: number): ProgInfo {
  return {
    errno, type: 0, id: 0, tag: '', name: '', xlated: new Uint8Array(0), jited: new Uint8Array(0),
    jitedFuncLens: [], jitedKsyms: [], mapIds: [], verifiedInsns: 0, gplCompatible: false, btfId: 0,
    nrFuncInfo: 0, nrLineInfo: 0, loadTime: 0n, runCnt: 0n, runTimeNs: 0n,
  };
}

function checkRecords(what: string, data: Uint8Array | undefined, recSize: number | undefined, cnt: number | undefined): void {
  if (!data) return;
  if (!recSize || cnt === undefined || recSize * cnt !== data.byteLength) {
    throw new RangeError(`bpfProgLoad: ${what} is ${data.byteLength} bytes, not ${cnt} records of ${recSize}`);
  }
}

function clampLogSize(size: number): number {
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`log size ${size}`);
  return Math.min(size, MAX_LOG_SIZE);
}

function cString(s: string): Uint8Array {
  const bytes = new TextEncoder().encode(s);
  const out = pinned(bytes.byteLength + 1);
  out.set(bytes);
  return out;
}

function cStringAt(buf: Uint8Array): string {
  const nul = buf.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? buf : buf.subarray(0, nul));
}

function int32Array(values: readonly number[]): Uint8Array {
  const out = pinned(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setInt32(i * 4, v, true));
  return out;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
