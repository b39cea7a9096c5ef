// Map key/value types in a spec (`maps.<name>.btf`), as plain data the kernel backend can
// turn into BTF. Only what the kernel's map BTF checks look at is kept: names and sizes of
// structs (bpf_spin_lock, bpf_timer, ... are found by name and size), member offsets, and the
// type tags on pointers (`kptr`, `kptr_untrusted`, `percpu_kptr`).
//
//   int | u32 | unsigned long | ... | void     a scalar by its C spelling
//   "struct task_struct"                       a named struct with no members (a kptr target)
//   {struct: val, size: 8, members: [{name: cnt, type: int, offset: 0}, ...]}   offsets in bytes
//   {union: u, size: 8, members: [...]}
//   {ptr: <type>, tags: [kptr]}
//   {array: <type>, len: 4}

import type { BtfTypeDesc } from '../../engine/program/types.ts';
import type { Parsed } from './values.ts';
import { asList, asNum, asObj, asStr, isObj, type Value } from './schema.ts';

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

/** C scalar spellings: size in bytes and signedness. */
const SCALARS: Readonly<Record<string, readonly [number, boolean]>> = {
  char: [1, true], 'signed char': [1, true], 'unsigned char': [1, false], _Bool: [1, false], bool: [1, false],
  short: [2, true], 'short int': [2, true], 'unsigned short': [2, false], 'short unsigned int': [2, false],
  int: [4, true], 'signed int': [4, true], unsigned: [4, false], 'unsigned int': [4, false],
  long: [8, true], 'long int': [8, true], 'unsigned long': [8, false], 'long unsigned int': [8, false],
  'long long': [8, true], 'long long int': [8, true], 'unsigned long long': [8, false], 'long long unsigned int': [8, false],
  u8: [1, false], u16: [2, false], u32: [4, false], u64: [8, false], s8: [1, true], s16: [2, true], s32: [4, true], s64: [8, true],
  __u8: [1, false], __u16: [2, false], __u32: [4, false], __u64: [8, false], __s8: [1, true], __s16: [2, true], __s32: [4, true], __s64: [8, true],
};

/** The scalar name the kernel would print (BTF INT names are the C spellings). */
function scalar(name: string): BtfTypeDesc | undefined {
  const n = name.trim().replace(/\s+/g, ' ');
  if (n === 'void') return { kind: 'void' };
  const s = SCALARS[n];
  return s ? { kind: 'int', name: n, size: s[0], signed: s[1] } : undefined;
}

export function parseBtfType(v: Value, depth = 0): Parsed<BtfTypeDesc> {
  if (depth > 32) return fail('type nests too deeply');
  if (typeof v === 'string') {
    const st = /^(struct|union)\s+([A-Za-z_]\w*)$/.exec(v.trim());
    if (st) return ok({ kind: st[1] as 'struct' | 'union', name: st[2], size: 0, members: [] });
    const s = scalar(v);
    return s ? ok(s) : fail(`unknown type ${JSON.stringify(v)}: expected a C scalar (int, u32, unsigned long, ...), void, "struct NAME" or a mapping`);
  }
  if (!isObj(v)) return fail('expected a type name or mapping');
  const o = asObj(v);
  const kinds = (['struct', 'union', 'ptr', 'array'] as const).filter((k) => o[k] !== undefined);
  if (kinds.length !== 1) return fail('a type mapping has exactly one of struct, union, ptr, array');
  const kind = kinds[0];
  if (kind === 'ptr' || kind === 'array') {
    const inner = parseBtfType(o[kind]!, depth + 1);
    if (!inner.ok) return inner;
    if (kind === 'ptr') {
      const tags = asList(o.tags).map((t) => t as string);
      return ok({ kind: 'ptr', type: inner.value, ...(tags.length ? { tags } : {}) });
    }
    if (o.len === undefined) return fail('an array needs len');
    return ok({ kind: 'array', type: inner.value, len: asNum(o.len) ?? 0 });
  }
  const size = asNum(o.size) ?? 0;
  const members: { name: string; type: BtfTypeDesc; offset: number }[] = [];
  for (const m of asList(o.members)) {
    const mo = asObj(m);
    const t = parseBtfType(mo.type!, depth + 1);
    if (!t.ok) return fail(`member ${JSON.stringify(asStr(mo.name) ?? '')}: ${t.error}`);
    const offset = asNum(mo.offset) ?? 0;
    if (offset > size) return fail(`member ${JSON.stringify(asStr(mo.name) ?? '')} at offset ${offset} is past the ${kind}'s size ${size}`);
    members.push({ name: asStr(mo.name) ?? '', type: t.value, offset });
  }
  return ok({ kind, name: asStr(o[kind]) ?? '', size, members });
}
