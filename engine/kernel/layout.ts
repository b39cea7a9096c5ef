// Hand-written layouts of the parts of `union bpf_attr` we use and of `struct bpf_prog_info`,
// for 6.18 (the installed uapi headers are 6.1, which lacks e.g. log_true_size, fd_array_cnt
// and the signature fields). Offsets are byte offsets within the command's part of the union;
// test/kernel-layout.test.ts checks every one against the running kernel's BTF.

export interface Field {
  readonly off: number;
  readonly size: number;
}

const f = (off: number, size: number): Field => ({ off, size });

/** enum bpf_cmd values we issue. */
export const BPF_CMD = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  PROG_LOAD: 5,
  PROG_TEST_RUN: 10,
  OBJ_GET_INFO_BY_FD: 15,
  BTF_LOAD: 18,
  MAP_FREEZE: 22,
} as const;

/** sizeof(union bpf_attr) on 6.18. */
export const BPF_ATTR_SIZE = 168;

/** BPF_MAP_CREATE: the first anonymous struct of the union. */
export const MAP_CREATE = {
  map_type: f(0, 4),
  key_size: f(4, 4),
  value_size: f(8, 4),
  max_entries: f(12, 4),
  map_flags: f(16, 4),
  inner_map_fd: f(20, 4),
  numa_node: f(24, 4),
  map_name: f(28, 16),
  map_ifindex: f(44, 4),
  btf_fd: f(48, 4),
  btf_key_type_id: f(52, 4),
  btf_value_type_id: f(56, 4),
  btf_vmlinux_value_type_id: f(60, 4),
  map_extra: f(64, 8),
  value_type_btf_obj_fd: f(72, 4),
  map_token_fd: f(76, 4),
  // 6.18: exclusive maps (bound to one program by hash).
  excl_prog_hash: f(80, 8),
  excl_prog_hash_size: f(88, 4),
} as const;

/** BPF_MAP_*_ELEM: the second anonymous struct (value and next_key share offset 16). */
export const MAP_ELEM = {
  map_fd: f(0, 4),
  key: f(8, 8),
  value: f(16, 8),
  flags: f(24, 8),
} as const;

/** BPF_PROG_LOAD: the fourth anonymous member of the union. */
export const PROG_LOAD = {
  prog_type: f(0, 4),
  insn_cnt: f(4, 4),
  insns: f(8, 8),
  license: f(16, 8),
  log_level: f(24, 4),
  log_size: f(28, 4),
  log_buf: f(32, 8),
  kern_version: f(40, 4),
  prog_flags: f(44, 4),
  prog_name: f(48, 16),
  prog_ifindex: f(64, 4),
  expected_attach_type: f(68, 4),
  prog_btf_fd: f(72, 4),
  func_info_rec_size: f(76, 4),
  func_info: f(80, 8),
  func_info_cnt: f(88, 4),
  line_info_rec_size: f(92, 4),
  line_info: f(96, 8),
  line_info_cnt: f(104, 4),
  attach_btf_id: f(108, 4),
  // attach_prog_fd shares this slot.
  attach_btf_obj_fd: f(112, 4),
  core_relo_cnt: f(116, 4),
  fd_array: f(120, 8),
  core_relos: f(128, 8),
  core_relo_rec_size: f(136, 4),
  // Written back by the kernel (6.4+): the log size the whole log needed.
  log_true_size: f(140, 4),
  prog_token_fd: f(144, 4),
  fd_array_cnt: f(148, 4),
  // 6.18: signed programs.
  signature: f(152, 8),
  signature_size: f(160, 4),
  keyring_id: f(164, 4),
} as const;

/** BPF_PROG_TEST_RUN: the `test` member. */
export const TEST_RUN = {
  prog_fd: f(0, 4),
  retval: f(4, 4),
  data_size_in: f(8, 4),
  data_size_out: f(12, 4),
  data_in: f(16, 8),
  data_out: f(24, 8),
  repeat: f(32, 4),
  duration: f(36, 4),
  ctx_size_in: f(40, 4),
  ctx_size_out: f(44, 4),
  ctx_in: f(48, 8),
  ctx_out: f(56, 8),
  flags: f(64, 4),
  cpu: f(68, 4),
  batch_size: f(72, 4),
} as const;

/** BPF_OBJ_GET_INFO_BY_FD: the `info` member. */
export const OBJ_INFO = {
  bpf_fd: f(0, 4),
  info_len: f(4, 4),
  info: f(8, 8),
} as const;

/** BPF_BTF_LOAD: the anonymous struct that starts with `btf`. */
export const BTF_LOAD = {
  btf: f(0, 8),
  btf_log_buf: f(8, 8),
  btf_size: f(16, 4),
  btf_log_size: f(20, 4),
  btf_log_level: f(24, 4),
  btf_log_true_size: f(28, 4),
  btf_flags: f(32, 4),
  btf_token_fd: f(36, 4),
} as const;

/** struct bpf_prog_info (232 bytes on 6.18). gpl_compatible is bit 0 of the u32 at 84. */
export const PROG_INFO = {
  type: f(0, 4),
  id: f(4, 4),
  tag: f(8, 8),
  jited_prog_len: f(16, 4),
  xlated_prog_len: f(20, 4),
  jited_prog_insns: f(24, 8),
  xlated_prog_insns: f(32, 8),
  load_time: f(40, 8),
  created_by_uid: f(48, 4),
  nr_map_ids: f(52, 4),
  map_ids: f(56, 8),
  name: f(64, 16),
  ifindex: f(80, 4),
  gpl_compatible: f(84, 4),
  netns_dev: f(88, 8),
  netns_ino: f(96, 8),
  nr_jited_ksyms: f(104, 4),
  nr_jited_func_lens: f(108, 4),
  jited_ksyms: f(112, 8),
  jited_func_lens: f(120, 8),
  btf_id: f(128, 4),
  func_info_rec_size: f(132, 4),
  func_info: f(136, 8),
  nr_func_info: f(144, 4),
  nr_line_info: f(148, 4),
  line_info: f(152, 8),
  jited_line_info: f(160, 8),
  nr_jited_line_info: f(168, 4),
  line_info_rec_size: f(172, 4),
  jited_line_info_rec_size: f(176, 4),
  nr_prog_tags: f(180, 4),
  prog_tags: f(184, 8),
  run_time_ns: f(192, 8),
  run_cnt: f(200, 8),
  recursion_misses: f(208, 8),
  verified_insns: f(216, 4),
  attach_btf_obj_id: f(220, 4),
  attach_btf_id: f(224, 4),
} as const;

export const PROG_INFO_SIZE = 232;

/** struct bpf_map_info: only the leading fields we read. */
export const MAP_INFO = {
  type: f(0, 4),
  id: f(4, 4),
  key_size: f(8, 4),
  value_size: f(12, 4),
  max_entries: f(16, 4),
  map_flags: f(20, 4),
  name: f(24, 16),
} as const;

export type Layout = Readonly<Record<string, Field>>;

/** Where each layout lives in the kernel's BTF, for the layout test: the struct name, or for
 *  a bpf_attr part the union member's name ('' for an anonymous one). */
export const BTF_HOMES: Readonly<Record<string, { readonly layout: Layout; readonly struct?: string; readonly attrMember?: string }>> = {
  MAP_CREATE: { layout: MAP_CREATE, attrMember: '' },
  MAP_ELEM: { layout: MAP_ELEM, attrMember: '' },
  PROG_LOAD: { layout: PROG_LOAD, attrMember: '' },
  TEST_RUN: { layout: TEST_RUN, attrMember: 'test' },
  OBJ_INFO: { layout: OBJ_INFO, attrMember: 'info' },
  BTF_LOAD: { layout: BTF_LOAD, attrMember: '' },
  PROG_INFO: { layout: PROG_INFO, struct: 'bpf_prog_info' },
  MAP_INFO: { layout: MAP_INFO, struct: 'bpf_map_info' },
};

/** offsetofend(): how many attr bytes a command needs to pass, libbpf-style. */
export const endOf = (field: Field): number => field.off + field.size;

// Little-endian accessors over a plain byte buffer (x86-64 only; see syscall.ts).

const view = (buf: Uint8Array): DataView => new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

export function put(buf: Uint8Array, field: Field, value: number | bigint): void {
  const dv = view(buf);
  switch (field.size) {
    case 4:
      dv.setUint32(field.off, Number(BigInt.asUintN(32, BigInt(value))), true);
      return;
    case 8:
      dv.setBigUint64(field.off, BigInt.asUintN(64, BigInt(value)), true);
      return;
    default:
      throw new RangeError(`put: field of size ${field.size}`);
  }
}

/** Write a NUL-padded name into a char[N] field (truncated to N-1 bytes, as the kernel wants). */
export function putName(buf: Uint8Array, field: Field, name: string): void {
  const bytes = new TextEncoder().encode(name).subarray(0, field.size - 1);
  buf.fill(0, field.off, field.off + field.size);
  buf.set(bytes, field.off);
}

export function getU32(buf: Uint8Array, field: Field): number {
  return view(buf).getUint32(field.off, true);
}

export function getS32(buf: Uint8Array, field: Field): number {
  return view(buf).getInt32(field.off, true);
}

export function getU64(buf: Uint8Array, field: Field): bigint {
  return view(buf).getBigUint64(field.off, true);
}

export function getName(buf: Uint8Array, field: Field): string {
  const raw = buf.subarray(field.off, field.off + field.size);
  const nul = raw.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? raw : raw.subarray(0, nul));
}

export function getBytes(buf: Uint8Array, field: Field): Uint8Array {
  return buf.slice(field.off, field.off + field.size);
}
