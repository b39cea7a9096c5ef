// The corpus' xfail inventory (corpus/xfail-6.18.yaml): ported 6.12 selftest runs whose
// expectation the live 6.18 kernel itself does not meet, each with why and the kernel's own
// text as evidence. The porter writes them into the ported suites as `xfail` on both backends
// (our engine follows 6.18, so a 6.12 expectation 6.18 fails must fail on it too), limited to
// the run (priv / unpriv) they concern; a listed run that passes then fails the check.
// `known` lists kernel failures that come from this machine or the harness, not from 6.18
// (no IBT, no struct_ops map, ...): they are not xfails (another machine may pass them), only
// explained in the report.

import { parseDocument, isMap, isSeq, LineCounter, type Node } from 'yaml';
import { InputError } from '../errors.ts';
import type { PortedSuite, PortedTest, Yaml } from './port-object.ts';

export type Mode = 'priv' | 'unpriv';
export type Backend = 'engine' | 'kernel';

export interface XfailEntry {
  readonly suite: string;
  readonly test: string;
  readonly mode: Mode;
  /** Short cause class: log-wording, reg-marks, precision-log, fastcall-xlated, verdict, ... */
  readonly kind: string;
  readonly reason: string;
  /** The 6.12 pattern that is not met (verbatim from the ported test), when one is. */
  readonly expected?: string;
  /** What the live kernel printed or did instead. */
  readonly evidence: string;
  readonly backends: readonly Backend[];
}

export interface KnownFailure {
  readonly suite: string;
  readonly test: string;
  readonly mode: Mode;
  readonly kind: string;
  readonly reason: string;
  readonly evidence: string;
}

export interface Inventory {
  readonly xfail: readonly XfailEntry[];
  readonly known: readonly KnownFailure[];
}

const KINDS_BACKENDS: readonly Backend[] = ['engine', 'kernel'];

/** Parse the inventory text; every problem is an InputError with its line and column. */
export function parseInventory(text: string, file: string): Inventory {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  const at = (node: Node | null | undefined, path: string): InputError['loc'] => {
    const off = node?.range?.[0] ?? 0;
    const p = lc.linePos(off);
    return { file, line: p.line, col: p.col, path };
  };
  if (doc.errors.length) {
    const e = doc.errors[0];
    const p = lc.linePos(e.pos[0]);
    throw new InputError(e.message.split('\n')[0], { file, line: p.line, col: p.col });
  }
  const root = doc.contents;
  if (!isMap(root)) throw new InputError('the inventory must be a mapping with `xfail` and `known` lists', at(root as Node, ''));
  for (const pair of root.items) {
    const k = String((pair.key as { value?: unknown })?.value ?? pair.key);
    if (!['kernel', 'corpus', 'xfail', 'known'].includes(k)) throw new InputError(`unknown key '${k}'`, at(pair.key as Node, k));
  }
  const list = (key: string): { node: Node; obj: Record<string, unknown>; path: string }[] => {
    const n = root.get(key, true) as Node | undefined;
    if (n === undefined || n === null) return [];
    if (!isSeq(n)) throw new InputError(`'${key}' must be a list`, at(n, key));
    return n.items.map((item, i) => {
      const path = `${key}[${i}]`;
      if (!isMap(item)) throw new InputError('an entry must be a mapping', at(item as Node, path));
      return { node: item as Node, obj: (item as { toJSON(): Record<string, unknown> }).toJSON(), path };
    });
  };
  const str = (o: Record<string, unknown>, k: string, node: Node, path: string, required: boolean): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null) {
      if (required) throw new InputError(`missing '${k}'`, at(node, path));
      return undefined;
    }
    if (typeof v !== 'string' || v === '') throw new InputError(`'${k}' must be a non-empty string`, at(node, `${path}.${k}`));
    return v;
  };
  const common = (e: { node: Node; obj: Record<string, unknown>; path: string }, allowed: readonly string[]) => {
    for (const k of Object.keys(e.obj)) if (!allowed.includes(k)) throw new InputError(`unknown key '${k}'`, at(e.node, `${e.path}.${k}`));
    const id = str(e.obj, 'id', e.node, e.path, true)!;
    const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z_][A-Za-z0-9_]*)$/.exec(id);
    if (!m) throw new InputError(`'id' must be suite/test (got '${id}')`, at(e.node, `${e.path}.id`));
    const mode = str(e.obj, 'mode', e.node, e.path, false) ?? 'priv';
    if (mode !== 'priv' && mode !== 'unpriv') throw new InputError(`'mode' must be priv or unpriv (got '${mode}')`, at(e.node, `${e.path}.mode`));
    return {
      suite: m[1],
      test: m[2],
      mode: mode as Mode,
      kind: str(e.obj, 'kind', e.node, e.path, true)!,
      reason: str(e.obj, 'reason', e.node, e.path, true)!,
      evidence: str(e.obj, 'evidence', e.node, e.path, true)!,
    };
  };
  const seen = new Set<string>();
  const once = (c: { suite: string; test: string; mode: Mode }, node: Node, path: string): void => {
    const key = `${c.suite}/${c.test} ${c.mode}`;
    if (seen.has(key)) throw new InputError(`${key} is listed twice`, at(node, path));
    seen.add(key);
  };
  const xfail = list('xfail').map((e): XfailEntry => {
    const c = common(e, ['id', 'mode', 'kind', 'reason', 'expected', 'evidence', 'backends']);
    once(c, e.node, e.path);
    const b = e.obj.backends;
    let backends: Backend[] = [...KINDS_BACKENDS];
    if (b !== undefined && b !== null) {
      if (!Array.isArray(b) || !b.length || b.some((x) => x !== 'engine' && x !== 'kernel')) {
        throw new InputError("'backends' must be a non-empty list of engine / kernel", at(e.node, `${e.path}.backends`));
      }
      backends = b as Backend[];
    }
    const expected = str(e.obj, 'expected', e.node, e.path, false);
    return { ...c, ...(expected ? { expected } : {}), backends };
  });
  const known = list('known').map((e): KnownFailure => {
    const c = common(e, ['id', 'mode', 'kind', 'reason', 'evidence']);
    once(c, e.node, e.path);
    return c;
  });
  return { xfail, known };
}

/** Inventory entries for `suite` that name no test of it (a stale inventory is an error). */
export function unknownEntries(suite: PortedSuite, inv: Inventory): (XfailEntry | KnownFailure)[] {
  const names = new Set(suite.tests.map((t) => t.name));
  return [...inv.xfail, ...inv.known].filter((e) => e.suite === suite.suite && !names.has(e.test));
}

/** The suite with `xfail` written into every listed test: one mapping per test, the runs it
 *  covers in `modes`, its reasons joined (priv first) and its backends merged. */
export function applyInventory(suite: PortedSuite, inv: Inventory): PortedSuite {
  const mine = inv.xfail.filter((e) => e.suite === suite.suite);
  if (!mine.length) return suite;
  const tests = suite.tests.map((t): PortedTest => {
    const es = mine.filter((e) => e.test === t.name).sort((a, b) => (a.mode === b.mode ? 0 : a.mode === 'priv' ? -1 : 1));
    if (!es.length) return t;
    const backends = KINDS_BACKENDS.filter((b) => es.some((e) => e.backends.includes(b)));
    const modes = es.map((e) => e.mode);
    const reason = es.map((e) => (es.length > 1 ? `${e.mode}: ` : '') + `6.18: ${e.reason}`).join('; ');
    const xfail: { [k: string]: Yaml } = { reason, backends: [...backends], modes };
    return { ...t, yaml: { ...t.yaml, xfail } };
  });
  return { ...suite, tests };
}

/** The entry for a run, if listed. */
export function knownFailure(inv: Inventory, suite: string, test: string, mode: Mode): KnownFailure | undefined {
  return inv.known.find((k) => k.suite === suite && k.test === test && k.mode === mode);
}

// ---- evidence drafting ------------------------------------------------------------------

/** The pattern's literal text: `{{regex}}` islands become a space. */
function literal(pattern: string): string {
  return pattern.replace(/\{\{.*?\}\}/g, ' ');
}

function words(s: string): Set<string> {
  return new Set(s.split(/[\s;,()=]+/).filter(Boolean));
}

/** The log line that best shows what the kernel printed where `pattern` was expected: a line
 *  of the same instruction (`N: (op)` prefix) when the pattern names one, else the line
 *  sharing the most words with it. Undefined for an empty log. */
export function evidenceLine(log: string, pattern: string): string | undefined {
  const lines = log.split('\n').filter((l) => l.trim() !== '');
  if (!lines.length) return undefined;
  const lit = literal(pattern).trim();
  const insn = /^(\d+: \([0-9a-f]{2}\))/.exec(lit)?.[1] ?? /^(\d+:) /.exec(lit)?.[1];
  const pool = insn ? lines.filter((l) => l.startsWith(insn)) : [];
  const cands = pool.length ? pool : lines;
  const want = words(lit);
  let best = cands[0];
  let score = -1;
  for (const l of cands) {
    const w = words(l);
    let common = 0;
    for (const x of want) if (w.has(x)) common++;
    const s = common / Math.max(1, want.size + w.size - common);
    if (s > score) {
      score = s;
      best = l;
    }
  }
  return best;
}

/** The log's error line: the last line before the stats lines. */
export function errorLine(log: string): string | undefined {
  const lines = log.split('\n').filter((l) => l.trim() !== '' && !/^(processed \d+ insns|verification time|stack depth)/.test(l));
  return lines.at(-1);
}
