// Questions asked of parsed BTF: follow modifiers, sizes, names as the kernel prints them,
// C spellings of types (for spec files), function signatures and decl tags. Every walk is
// depth-limited like the kernel's (MAX_RESOLVE_DEPTH), so a reference cycle in hostile
// input ends in an InputError, not a hang.

import { InputError } from '../errors.ts';
import type { Btf, BtfType, BtfTypeOf, BtfKindName, FuncLinkage } from './types.ts';

/** The kernel's bound on modifier/typedef chains and nesting (btf.c MAX_RESOLVE_DEPTH). */
export const MAX_RESOLVE_DEPTH = 32;

const fail = (msg: string): never => {
  throw new InputError(`bad BTF: ${msg}`);
};

export function typeById(btf: Btf, id: number): BtfType {
  const t = btf.types[id];
  if (!t) fail(`type id ${id} is out of range (${btf.types.length} types)`);
  return t;
}

const MODIFIERS: ReadonlySet<BtfKindName> = new Set(['TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT', 'TYPE_TAG']);

export function isModifier(t: BtfType): t is BtfTypeOf<'TYPEDEF' | 'VOLATILE' | 'CONST' | 'RESTRICT' | 'TYPE_TAG'> {
  return MODIFIERS.has(t.kind);
}

/** Skip typedefs, cv-qualifiers and type tags; returns the id of the underlying type. */
export function skipModifiers(btf: Btf, id: number): number {
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    const t = typeById(btf, id);
    if (!isModifier(t)) return id;
    id = t.type;
  }
  return fail(`type chain from [${id}] is longer than ${MAX_RESOLVE_DEPTH} (a loop?)`);
}

/** Byte size of a type, following modifiers and arrays; undefined for void, functions and
 *  forward declarations (which have no size). */
export function typeSize(btf: Btf, id: number, depth = 0): number | undefined {
  if (depth > MAX_RESOLVE_DEPTH) fail(`type [${id}] nests deeper than ${MAX_RESOLVE_DEPTH} (a loop?)`);
  const t = typeById(btf, skipModifiers(btf, id));
  switch (t.kind) {
    case 'INT':
    case 'STRUCT':
    case 'UNION':
    case 'ENUM':
    case 'ENUM64':
    case 'FLOAT':
    case 'DATASEC':
      return t.size;
    case 'PTR':
      return 8;
    case 'ARRAY': {
      const elem = typeSize(btf, t.type, depth + 1);
      return elem === undefined ? undefined : elem * t.nelems;
    }
    case 'VAR':
      return typeSize(btf, t.type, depth + 1);
    default:
      return undefined;
  }
}

/** `STRUCT prog_test_fail1`: btf_type_str() and the name, the way verifier messages print a
 *  BTF type. */
export function kernelTypeName(btf: Btf, id: number): string {
  const t = typeById(btf, id);
  return `${t.kind} ${t.name}`;
}

/** A C spelling of a type, as written in a spec's `params`/`ret` (`u64`, `struct sock *`,
 *  `const char *`, `int[4]`). Anonymous aggregates print as `struct {...}`. */
export function cTypeName(btf: Btf, id: number, depth = 0): string {
  if (depth > MAX_RESOLVE_DEPTH) fail(`type [${id}] nests deeper than ${MAX_RESOLVE_DEPTH} (a loop?)`);
  const t = typeById(btf, id);
  const next = (ref: number): string => cTypeName(btf, ref, depth + 1);
  switch (t.kind) {
    case 'UNKN':
      return 'void';
    case 'INT':
    case 'FLOAT':
    case 'TYPEDEF':
      return t.name;
    case 'STRUCT':
    case 'UNION':
      return `${t.kind.toLowerCase()} ${t.name || '{...}'}`;
    case 'ENUM':
    case 'ENUM64':
      return `enum ${t.name || '{...}'}`;
    case 'FWD':
      return `${t.union ? 'union' : 'struct'} ${t.name}`;
    case 'PTR': {
      const target = typeById(btf, t.type);
      if (target.kind === 'FUNC_PROTO') return `${next(target.type)} (*)(${protoParams(btf, target, depth + 1)})`;
      const inner = next(t.type);
      return inner.endsWith('*') ? `${inner}*` : `${inner} *`;
    }
    case 'CONST':
    case 'VOLATILE':
    case 'RESTRICT': {
      const q = t.kind.toLowerCase();
      const inner = next(t.type);
      // `const char *` reads better than `char * const` for a pointer's pointee, and the
      // pointer itself being const does not matter for a parameter.
      return inner.endsWith('*') ? `${inner} ${q}` : `${q} ${inner}`;
    }
    case 'TYPE_TAG':
      return `${next(t.type)} __attribute__((btf_type_tag("${t.name}")))`;
    case 'ARRAY':
      return `${next(t.type)}[${t.nelems}]`;
    case 'FUNC_PROTO':
      return `${next(t.type)} (${protoParams(btf, t, depth + 1)})`;
    case 'FUNC':
    case 'VAR':
      return next(t.type);
    case 'DATASEC':
      return `SEC("${t.name}")`;
    case 'DECL_TAG':
      return next(t.type);
  }
}

function protoParams(btf: Btf, p: BtfTypeOf<'FUNC_PROTO'>, depth: number): string {
  if (p.params.length === 0) return 'void';
  return p.params.map((a) => (a.type === 0 && a.name === '' ? '...' : cTypeName(btf, a.type, depth))).join(', ');
}

export interface FuncSignature {
  readonly name: string;
  readonly linkage: FuncLinkage | 'unknown';
  readonly params: readonly { readonly name: string; readonly type: string }[];
  readonly ret: string;
  /** The FUNC_PROTO's id. */
  readonly protoId: number;
}

/** Name, linkage, parameters (names and C types) and return type of a FUNC. */
export function funcSignature(btf: Btf, funcId: number): FuncSignature {
  const f = typeById(btf, funcId);
  if (f.kind !== 'FUNC') return fail(`[${funcId}] is a ${f.kind}, not a FUNC`);
  const proto = typeById(btf, f.type);
  if (proto.kind !== 'FUNC_PROTO') return fail(`FUNC ${f.name} [${funcId}] points at a ${proto.kind}, not a FUNC_PROTO`);
  return {
    name: f.name,
    linkage: f.linkage,
    params: proto.params.map((a) => ({ name: a.name, type: a.type === 0 && a.name === '' ? '...' : cTypeName(btf, a.type) })),
    ret: cTypeName(btf, proto.type),
    protoId: f.type,
  };
}

/** Name lookups, built once per Btf. */
const indexes = new WeakMap<Btf, Map<string, number[]>>();

/** All ids with this name (any kind), in id order. */
export function idsByName(btf: Btf, name: string): readonly number[] {
  let index = indexes.get(btf);
  if (!index) {
    index = new Map();
    for (const t of btf.types) {
      if (!t.name) continue;
      const list = index.get(t.name);
      if (list) list.push(t.id);
      else index.set(t.name, [t.id]);
    }
    indexes.set(btf, index);
  }
  return index.get(name) ?? [];
}

/** The first type of this kind and name (btf_find_by_name_kind). */
export function findByName<K extends BtfKindName>(btf: Btf, name: string, kind: K): BtfTypeOf<K> | undefined {
  for (const id of idsByName(btf, name)) {
    const t = btf.types[id];
    if (t.kind === kind) return t as BtfTypeOf<K>;
  }
  return undefined;
}

/** DECL_TAG strings attached to `target` (component -1 = the declaration itself), in BTF
 *  order. */
export function declTags(btf: Btf, target: number, componentIdx = -1): string[] {
  let byTarget = tagIndexes.get(btf);
  if (!byTarget) {
    byTarget = new Map();
    for (const t of btf.types) {
      if (t.kind !== 'DECL_TAG') continue;
      const key = `${t.type}:${t.componentIdx}`;
      const list = byTarget.get(key);
      if (list) list.push(t.name);
      else byTarget.set(key, [t.name]);
    }
    tagIndexes.set(btf, byTarget);
  }
  return [...(byTarget.get(`${target}:${componentIdx}`) ?? [])];
}
const tagIndexes = new WeakMap<Btf, Map<string, string[]>>();

/** Members of a struct/union through modifiers; undefined for other kinds. */
export function membersOf(btf: Btf, id: number): BtfTypeOf<'STRUCT'>['members'] | undefined {
  const t = typeById(btf, skipModifiers(btf, id));
  return t.kind === 'STRUCT' || t.kind === 'UNION' ? t.members : undefined;
}
