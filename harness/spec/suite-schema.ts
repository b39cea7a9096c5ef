// The shape of a spec suite file (docs/spec-format.md is the prose version; the field table
// there maps every key to its bpf_misc.h annotation). Only shape is checked here; names
// (flags, sections, map types, caps) and cross references are checked by the loader.

import type { Field, Schema } from './schema.ts';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const U32_MAX = 0xffff_ffffn;

const str = (extra: Partial<Extract<Schema, { t: 'str' }>> = {}): Schema => ({ t: 'str', ...extra });
const int = (min: bigint, max: bigint): Schema => ({ t: 'int', min, max });
const bool: Schema = { t: 'bool' };
const list = (item: Schema): Schema => ({ t: 'list', item });
const obj = (fields: Record<string, Field | Schema>, what?: string): Schema => ({
  t: 'obj',
  fields: Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, 't' in f ? { s: f } : f])),
  ...(what ? { what } : {}),
});
const req = (s: Schema): Field => ({ s, required: true });
const union = (what: string, ...options: Schema[]): Schema => ({ t: 'union', options, what });
const dict = (keyWhat: string, value: Schema, key = IDENT): Schema => ({ t: 'dict', key, keyWhat, value });

const u32 = int(0n, U32_MAX);
const ident = str({ re: IDENT, what: 'a C identifier' });

/** __msg / __not_msg entries, in one ordered list. */
const msgItem = union('a pattern string or {not: pattern}', str(), obj({ not: req(str()) }, 'a mapping {not: pattern}'));

/** __xlated / __jited entries; "..." lets the next entry skip lines. */
const lineList = list(str());

export const ARCHES = ['x86_64', 'arm64', 'riscv64', 's390x', 'loongarch'] as const;

const expectation = obj({
  result: str({ enum: ['success', 'failure'] }),
  msgs: list(msgItem),
  xlated: lineList,
  jited: obj(Object.fromEntries(ARCHES.map((a) => [a, lineList])), 'a mapping arch -> list'),
  // A number (taken as the kernel's 32-bit int), or "0x..", "_INT_MIN", "INT_MIN", "POINTER_VALUE".
  retval: union('an integer or one of "0x...", "_INT_MIN", "INT_MIN", "POINTER_VALUE"', int(-(2n ** 31n), U32_MAX), str()),
  stack_arg_depth: dict('"func#N" or a subprogram name', obj({ incoming: req(u32), outgoing: req(u32) }), /^\S+$/),
  stderr: lineList,
  stdout: lineList,
});

/** Map init bytes: hex in memory order ("01000000", spaces allowed), or an integer that is
 *  stored little-endian in key_size / value_size bytes. */
const bytes = union('hex bytes in memory order or an integer', str(), int(-(2n ** 63n), 2n ** 64n - 1n));
// (An unquoted all-digit value is an integer here; quote hex bytes.)

/** A prog_array / map-in-map slot: the program or map it holds, by name. */
const slotRef = obj({ prog: ident, map: ident }, 'a mapping {prog: name} or {map: name}');
const initValue = union('hex bytes, an integer, or {prog: name} / {map: name}', str(), int(-(2n ** 63n), 2n ** 64n - 1n), slotRef);

/** A C type for map BTF: a scalar or `struct NAME` string, or {struct|union: NAME, size,
 *  members: [{name, type, offset}]}, {ptr: type, tags: [...]}, {array: type, len}. */
const btfTypeOptions: Schema[] = [];
const btfType: Schema = { t: 'union', options: btfTypeOptions, what: 'a C type: a name, or a {struct|union|ptr|array: ...} mapping' };
const btfMember = obj({ name: str(), type: req(btfType), offset: req(u32) }, 'a member {name, type, offset}');
btfTypeOptions.push(
  str({ nonEmpty: true }),
  obj({ struct: str(), union: str(), size: u32, members: list(btfMember), ptr: btfType, tags: list(str({ nonEmpty: true })), array: btfType, len: u32 }, 'a {struct|union|ptr|array: ...} mapping'),
);

const mapFields = {
  type: req(str({ nonEmpty: true })),
  key_size: u32,
  value_size: u32,
  max_entries: req(u32),
  flags: union('an integer or a list of BPF_F_* names', u32, list(union('a flag name or number', str(), u32))),
  init: list(obj({ key: req(bytes), value: req(initValue) })),
  btf: obj({ key: btfType, value: btfType }, 'a mapping {key: type, value: type}'),
  frozen: bool,
  map_extra: union('an integer or "0x..." (u64)', int(0n, 2n ** 64n - 1n), str({ re: /^0x[0-9a-fA-F]{1,16}$/, what: '"0x" and up to 16 hex digits' })),
  arena_data: str({ re: /^(?:[0-9a-fA-F]{2})*$/, what: 'hex bytes' }),
};
const innerMap = obj(mapFields, 'a map definition');
const mapDef = obj({ ...mapFields, inner: innerMap }, 'a map definition');

/** One parameter: a single-key mapping `{name: type}` (flow style: `[a: u64, b: u64]`). */
const params = list(dict('a parameter name', str({ nonEmpty: true })));

const kfunc = obj({
  params,
  ret: str({ nonEmpty: true }),
  flags: list(str({ re: /^KF_[A-Z0-9_]+$/, what: 'a KF_* flag name' })),
  btf_id: u32,
});

/** __imm_const / __imm_insn bindings: a number, or a raw instruction {insn: "<16 hex>"}. */
const immValue = union(
  'an integer or {insn: "<16 hex digits>"}',
  int(-(2n ** 63n), 2n ** 64n - 1n),
  obj({ insn: req(str({ raw: true, re: /^[0-9a-fA-F]{16}$/, what: '16 hex digits (one instruction in memory order)' })) }, 'a mapping {insn: hex}'),
);
const imm = dict('a C identifier', immValue);

const subprog = obj({
  asm: req(str()),
  global: bool,
  params,
  // Decl tags on parameters (`__arg_ctx` -> "arg:ctx"), by parameter name.
  param_tags: dict('a parameter name', list(str({ nonEmpty: true }))),
  ret: str({ nonEmpty: true }),
  imm,
});

const flagItem = union('a BPF_F_* name, "!NAME", or a number', str({ nonEmpty: true }), u32);

const test = obj({
  name: req(ident),
  description: str(),
  section: req(str({ nonEmpty: true })),
  asm: str(),
  insns: list(str({ raw: true })),
  from: str({ re: /^progs\/[^:\s]+\.c:[A-Za-z_][A-Za-z0-9_]*$/, what: 'progs/<file>.c:<function>' }),
  imm,
  log_level: int(0n, 15n),
  flags: list(flagItem),
  series: str({ enum: ['none', 'v4', 'merged'] }),
  arch: list(str({ enum: ARCHES })),
  auxiliary: bool,
  auxiliary_unpriv: bool,
  caps_unpriv: list(union('a CAP_* name or number', str({ nonEmpty: true }), int(0n, 63n))),
  btf_path: str({ nonEmpty: true }),
  raw_map_fds: list(u32),
  linear_size: u32,
  // BTF decl tags on the main function (bpf_misc.h __exception_cb: "exception_callback:cb").
  func_tags: list(str({ nonEmpty: true })),
  expect: expectation,
  unpriv: expectation,
  xfail: obj(
    { reason: req(str({ nonEmpty: true })), backends: list(str({ enum: ['engine', 'kernel'] })), modes: list(str({ enum: ['priv', 'unpriv'] })) },
    'a mapping {reason: text, backends: [engine|kernel], modes: [priv|unpriv]}',
  ),
});

export const SUITE_SCHEMA: Schema = obj(
  {
    suite: req(str({ re: /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, what: 'a suite name ([A-Za-z0-9_.-])' })),
    series: str({ enum: ['none', 'v4', 'merged'] }),
    license: str({ nonEmpty: true }),
    base_flags: union('an integer or a list of BPF_F_* names', u32, list(union('a flag name or number', str({ nonEmpty: true }), u32))),
    sys_admin: str({ enum: ['keep', 'drop'] }),
    func_info: bool,
    maps: dict('a C identifier', mapDef),
    kfuncs: dict('a C identifier', kfunc),
    subprogs: dict('a C identifier', subprog),
    tests: req(list(test)),
  },
  'a suite mapping',
);
