// A small declarative schema and a walker that checks a `yaml` Document AST against it.
// The walker turns the AST into plain values (strings, bigints, booleans, arrays, ordered
// records) and remembers where every value came from, so the later semantic checks can
// name file:line:col and the YAML path of whatever they reject. It collects every error
// it finds instead of stopping at the first.

import { isAlias, isMap, isScalar, isSeq, Scalar, type Document, type LineCounter, type Node as YamlNode } from 'yaml';
import { InputError } from '../../engine/errors.ts';

export type Schema =
  | {
      readonly t: 'str';
      readonly enum?: readonly string[];
      readonly re?: RegExp;
      readonly what?: string;
      readonly nonEmpty?: boolean;
      /** Also take an unquoted number as its source text (hex words like 9500000000000000). */
      readonly raw?: boolean;
    }
  | { readonly t: 'int'; readonly min: bigint; readonly max: bigint }
  | { readonly t: 'bool' }
  /** A mapping with fixed keys. */
  | { readonly t: 'obj'; readonly fields: Readonly<Record<string, Field>>; readonly what?: string }
  /** A mapping with free keys (names), in source order. */
  | { readonly t: 'dict'; readonly key: RegExp; readonly keyWhat: string; readonly value: Schema }
  | { readonly t: 'list'; readonly item: Schema }
  /** The first option whose node kind (string, integer, boolean, mapping, sequence) fits. */
  | { readonly t: 'union'; readonly options: readonly Schema[]; readonly what: string };

export interface Field {
  readonly s: Schema;
  readonly required?: boolean;
}

export type Value = string | bigint | boolean | readonly Value[] | { readonly [k: string]: Value };
export type Obj = { readonly [k: string]: Value };

export interface Pos {
  readonly line: number;
  readonly col: number;
  /** Character offset into the source text. */
  readonly offset?: number;
}

/** Positions of values (and of mapping keys, under `path + "#key"`), by YAML path. */
export type PosTable = Map<string, Pos>;

/** Append a key to a YAML path: `a.b`, or `a["func#0"]` for keys that are not identifiers. */
export function pathKey(path: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}
export const pathIndex = (path: string, i: number): string => `${path}[${i}]`;

/** Several InputErrors from one file. Its own location is the first one's. */
export class SpecErrors extends InputError {
  constructor(readonly errors: readonly InputError[]) {
    const [first] = errors;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more error${errors.length > 2 ? 's' : ''})` : '';
    super(`${first.message}${more}`, first.loc);
    this.name = 'InputError';
  }

  /** Every error, one `file:line:col: message (at path)` per line. */
  override format(): string {
    return this.errors.map((e) => e.format()).join('\n');
  }
}

/** Bound on the nodes visited, so alias fan-out ("billion laughs") cannot hang the loader. */
const MAX_NODES = 200_000;
const MAX_DEPTH = 64;

const describe = (n: YamlNode | null | undefined): string => {
  if (n === null || n === undefined) return 'nothing';
  if (isMap(n)) return 'a mapping';
  if (isSeq(n)) return 'a sequence';
  if (isScalar(n)) {
    const v = n.value;
    if (v === null) return 'null';
    if (typeof v === 'bigint' || typeof v === 'number') return `the number ${String(v)}`;
    if (typeof v === 'boolean') return `the boolean ${String(v)}`;
    return `the string ${JSON.stringify(v)}`;
  }
  return 'an unsupported node';
};

type Kind = 'str' | 'int' | 'bool' | 'map' | 'seq' | 'other';
function kindOf(n: YamlNode): Kind {
  if (isMap(n)) return 'map';
  if (isSeq(n)) return 'seq';
  if (isScalar(n)) {
    const v = n.value;
    if (typeof v === 'string') return 'str';
    if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) return 'int';
    if (typeof v === 'boolean') return 'bool';
  }
  return 'other';
}
function schemaKind(s: Schema): Kind {
  switch (s.t) {
    case 'str':
      return 'str';
    case 'int':
      return 'int';
    case 'bool':
      return 'bool';
    case 'obj':
    case 'dict':
      return 'map';
    case 'list':
      return 'seq';
    case 'union':
      return 'other';
  }
}
function schemaWhat(s: Schema): string {
  switch (s.t) {
    case 'str':
      return s.what ?? 'a string';
    case 'int':
      return 'an integer';
    case 'bool':
      return 'true or false';
    case 'obj':
      return s.what ?? 'a mapping';
    case 'dict':
      return 'a mapping';
    case 'list':
      return 'a sequence';
    case 'union':
      return s.what;
  }
}

export class Walker {
  readonly errors: InputError[] = [];
  readonly pos: PosTable = new Map();
  private visited = 0;

  constructor(
    private readonly doc: Document,
    private readonly lc: LineCounter,
    readonly file: string,
    private readonly source: string,
  ) {}

  locate(offset: number | undefined): Pos {
    if (offset === undefined) return { line: 0, col: 0 };
    const { line, col } = this.lc.linePos(offset);
    return { line, col, offset };
  }

  error(message: string, path: string, at: Pos | undefined): void {
    const p = at ?? this.pos.get(path) ?? this.nearest(path);
    this.errors.push(new InputError(message, { file: this.file, line: p.line, col: p.col, path }));
  }

  /** The position of the closest recorded ancestor of `path` (for values that were absent). */
  nearest(path: string): Pos {
    let p = path;
    while (p) {
      const hit = this.pos.get(p);
      if (hit) return hit;
      const parent = p.replace(/(\.[^.[\]]*|\[[^\]]*\])$/, '');
      if (parent === p) break;
      p = parent;
    }
    return { line: 1, col: 1 };
  }

  /** Walk `node` against `schema`; undefined when it does not fit (an error was recorded). */
  walk(node: YamlNode | null | undefined, schema: Schema, path: string, depth = 0): Value | undefined {
    if (++this.visited > MAX_NODES) {
      if (this.visited === MAX_NODES + 1) this.error(`document too large (more than ${MAX_NODES} nodes after alias expansion)`, path, undefined);
      return undefined;
    }
    if (depth > MAX_DEPTH) {
      this.error(`nesting deeper than ${MAX_DEPTH} levels (a recursive alias?)`, path, undefined);
      return undefined;
    }
    if (node && isAlias(node)) {
      const target = node.resolve(this.doc);
      if (!target) {
        this.error(`unresolved alias *${node.source}`, path, this.locate(node.range?.[0]));
        return undefined;
      }
      this.pos.set(path, this.locate(node.range?.[0]));
      return this.walk(target as YamlNode, schema, path, depth + 1);
    }
    const at = node?.range ? this.locate(node.range[0]) : this.nearest(path);
    if (!this.pos.has(path)) this.pos.set(path, at);
    if (!node) {
      this.error(`expected ${schemaWhat(schema)}, found nothing`, path, at);
      return undefined;
    }
    const kind = kindOf(node);
    if (schema.t === 'union') {
      const opt = schema.options.find((o) => schemaKind(o) === kind);
      if (!opt) {
        this.error(`expected ${schema.what}, found ${describe(node)}`, path, at);
        return undefined;
      }
      return this.walk(node, opt, path, depth);
    }
    if (schema.t === 'str' && schema.raw && isScalar(node) && kind !== 'str' && node.range && typeof node.value !== 'boolean' && node.value !== null) {
      const src = this.source.slice(node.range[0], node.range[1]);
      return this.walk(new Scalar(src) as YamlNode, { ...schema, raw: false }, path, depth);
    }
    if (schemaKind(schema) !== kind) {
      this.error(`expected ${schemaWhat(schema)}, found ${describe(node)}`, path, at);
      return undefined;
    }
    switch (schema.t) {
      case 'str': {
        const v = (node as { value: string }).value;
        if (schema.nonEmpty && v === '') {
          this.error(`expected ${schemaWhat(schema)}, found an empty string`, path, at);
          return undefined;
        }
        if (schema.enum && !schema.enum.includes(v)) {
          this.error(`bad value ${JSON.stringify(v)}: expected one of ${schema.enum.join(', ')}`, path, at);
          return undefined;
        }
        if (schema.re && !schema.re.test(v)) {
          this.error(`bad value ${JSON.stringify(v)}: expected ${schemaWhat(schema)}`, path, at);
          return undefined;
        }
        return v;
      }
      case 'int': {
        const raw = (node as { value: bigint | number }).value;
        const v = typeof raw === 'bigint' ? raw : BigInt(raw);
        if (v < schema.min || v > schema.max) {
          this.error(`${v} is out of range [${schema.min}, ${schema.max}]`, path, at);
          return undefined;
        }
        return v;
      }
      case 'bool':
        return (node as { value: boolean }).value;
      case 'list': {
        if (!isSeq(node)) return undefined;
        // Bad items are left out (their errors are recorded); indices of the rest shift, so
        // callers skip any subtree that has errors (hasErrorsUnder) instead of using it.
        const out: Value[] = [];
        node.items.forEach((item, i) => {
          const v = this.walk(item as YamlNode, schema.item, pathIndex(path, i), depth + 1);
          out.push(v === undefined ? PLACEHOLDER : v);
        });
        return out;
      }
      case 'obj':
      case 'dict':
        return this.walkMap(node, schema, path, depth);
    }
  }

  private walkMap(node: YamlNode, schema: Extract<Schema, { t: 'obj' | 'dict' }>, path: string, depth: number): Value | undefined {
    if (!isMap(node)) return undefined;
    const out: Record<string, Value> = Object.create(null) as Record<string, Value>;
    const seen = new Set<string>();
    const empty = new Set<string>();
    for (const pair of node.items) {
      let keyNode = pair.key as YamlNode | null;
      if (keyNode && isAlias(keyNode)) keyNode = (keyNode.resolve(this.doc) as YamlNode | undefined) ?? null;
      const keyAt = this.locate((pair.key as YamlNode | null)?.range?.[0] ?? (pair.value as YamlNode | null)?.range?.[0]);
      if (!keyNode || !isScalar(keyNode) || typeof keyNode.value !== 'string') {
        this.error(`mapping keys must be plain strings, found ${describe(keyNode)}`, path, keyAt);
        continue;
      }
      const key = keyNode.value;
      const sub = pathKey(path, key);
      this.pos.set(`${sub}#key`, keyAt);
      if (seen.has(key)) {
        this.error(`duplicate key ${JSON.stringify(key)}`, sub, keyAt);
        continue;
      }
      seen.add(key);
      let valueSchema: Schema;
      if (schema.t === 'obj') {
        const f = schema.fields[key];
        if (!f) {
          this.error(`unknown key ${JSON.stringify(key)}; expected one of ${Object.keys(schema.fields).join(', ')}`, sub, keyAt);
          continue;
        }
        valueSchema = f.s;
      } else {
        if (!schema.key.test(key)) {
          this.error(`bad name ${JSON.stringify(key)}: expected ${schema.keyWhat}`, sub, keyAt);
          continue;
        }
        valueSchema = schema.value;
      }
      const valueNode = pair.value as YamlNode | null;
      // An empty value (`key:` or `key: null`) counts as absent for optional fields.
      if (schema.t === 'obj' && (valueNode === null || (isScalar(valueNode) && valueNode.value === null))) {
        this.pos.set(sub, valueNode?.range ? this.locate(valueNode.range[0]) : keyAt);
        empty.add(key);
        continue;
      }
      if (!valueNode) this.pos.set(sub, keyAt);
      const v = this.walk(valueNode, valueSchema, sub, depth + 1);
      if (v !== undefined) out[key] = v;
    }
    if (schema.t === 'obj') {
      for (const [name, f] of Object.entries(schema.fields)) {
        if (f.required && !seen.has(name)) {
          this.error(`missing required key ${JSON.stringify(name)}`, path, this.locate(node.range?.[0]));
        } else if (f.required && empty.has(name)) {
          this.error(`${JSON.stringify(name)} must not be empty`, pathKey(path, name), undefined);
        }
      }
    }
    // Partial on errors (bad keys left out); callers check hasErrorsUnder before using it.
    return out;
  }

  /** Did any error land at `path` or below it? */
  hasErrorsUnder(path: string): boolean {
    return this.errors.some((e) => {
      const p = e.loc.path ?? '';
      return p === path || p.startsWith(`${path}.`) || p.startsWith(`${path}[`);
    });
  }
}

/** Stands in for a list item that failed its schema (keeps the other items' indices). */
const PLACEHOLDER: Value = Object.freeze(Object.create(null) as Record<string, Value>);

// ---- typed access to walked values ----

export const isObj = (v: Value | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const asObj = (v: Value | undefined): Obj => (isObj(v) ? v : {});
export const asList = (v: Value | undefined): readonly Value[] => (Array.isArray(v) ? (v as readonly Value[]) : []);
export const asStr = (v: Value | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
export const asBig = (v: Value | undefined): bigint | undefined => (typeof v === 'bigint' ? v : undefined);
export const asNum = (v: Value | undefined): number | undefined => (typeof v === 'bigint' ? Number(v) : undefined);
export const asBool = (v: Value | undefined): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
