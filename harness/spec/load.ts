// Loading a spec suite: YAML text -> checked shape (schema.ts, suite-schema.ts) -> SuiteSpec
// with every test's Program built. All errors of a file are collected and thrown together as
// one SpecErrors (an InputError); each names file:line:col and the YAML path.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { InputError } from '../../engine/errors.ts';
import type { Binding } from '../../engine/isa/asm/index.ts';
import { resolveSection } from '../../engine/program/sections.ts';
import type { BtfTypeDesc, MapDef, MapEntry, Program, Series } from '../../engine/program/types.ts';
import { parseBtfType } from './btf-type.ts';
import { resolveModes, type RawExpectation } from './modes.ts';
import { compilePattern, PatternError } from './pattern.ts';
import {
  assembleText,
  decodeInsns,
  linkMain,
  suiteBindings,
  textOrigin,
  type AssembledSubprog,
  type LinkedProgram,
  type TextOrigin,
} from './program.ts';
import { asBool, asList, asNum, asObj, asStr, isObj, pathIndex, pathKey, SpecErrors, Walker, type Obj, type Pos, type Value } from './schema.ts';
import { ARCHES, SUITE_SCHEMA } from './suite-schema.ts';
import type { FlagOp, KfuncSpec, PatternSpec, RetvalSpec, StackArgDepthSpec, SuiteSpec, TestSpec } from './types.ts';
import {
  insnWordValue,
  KF_FLAGS,
  paramSuffix,
  parseBytes,
  parseCap,
  parseFlagOp,
  parseMapFlag,
  parseMapType,
  parseRetval,
  type Parsed,
} from './values.ts';
import { vmlinuxBtf } from '../../engine/btf/vmlinux.ts';
import { findByName } from '../../engine/btf/resolve.ts';

/** Read and load one suite file. */
export function loadSuiteFile(path: string): SuiteSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read spec file: ${(e as Error).message}`, { file: path, line: 0, col: 0 });
  }
  return loadSuiteText(text, path);
}

/** Spec files under `paths`: files as given, directories searched recursively for `*.yaml`;
 *  the result is sorted and free of duplicates. */
export function findSpecFiles(paths: string[]): string[] {
  const out = new Set<string>();
  const visit = (p: string, top: boolean): void => {
    let st;
    try {
      st = statSync(p);
    } catch {
      if (top) throw new InputError('no such file or directory', { file: p, line: 0, col: 0 });
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p)) visit(join(p, name), false);
    } else if (top || p.endsWith('.yaml')) {
      out.add(p);
    }
  };
  for (const p of paths) visit(p, true);
  return [...out].sort();
}

/** Parse and validate suite text; `file` is used in error locations. */
export function loadSuiteText(text: string, file: string): SuiteSpec {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, intAsBigInt: true, prettyErrors: false, uniqueKeys: true, strict: true });
  const syntax = doc.errors.map((e) => {
    const { line, col } = lc.linePos(e.pos[0]);
    return new InputError(`YAML: ${e.message.split('\n')[0]}`, { file, line, col });
  });
  if (syntax.length) throw new SpecErrors(syntax);

  const w = new Walker(doc, lc, file, text);
  const root = w.walk(doc.contents as Parameters<Walker['walk']>[0], SUITE_SCHEMA, '');
  if (!isObj(root)) {
    if (!w.errors.length) w.error('expected a suite mapping', '', { line: 1, col: 1 });
    throw new SpecErrors(sortByPosition(w.errors));
  }
  // Shape errors do not stop the semantic checks: parts with errors are skipped, the rest is
  // still checked, so one run reports as much as possible.
  const suite = new SuiteBuilder(w, text, file).build(root);
  if (w.errors.length) throw new SpecErrors(sortByPosition(w.errors));
  return suite;
}

/** Errors in file order (stable for equal positions). */
function sortByPosition(errors: readonly InputError[]): InputError[] {
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.loc.line - b.e.loc.line || a.e.loc.col - b.e.loc.col || a.i - b.i)
    .map(({ e }) => e);
}

const get = <T>(w: Walker, p: Parsed<T>, path: string): T | undefined => {
  if (p.ok) return p.value;
  w.error(p.error, path, undefined);
  return undefined;
};

class SuiteBuilder {
  private maps: MapDef[] = [];
  private mapNames: string[] = [];
  private mapOrder: string[] = [];
  private kfuncs: KfuncSpec[] = [];
  private subprogs = new Map<string, AssembledSubprog>();
  private subprogsOk = true;
  private bindings: Record<string, Binding> = {};
  private license = 'GPL';
  private series: Series | undefined;

  constructor(
    private readonly w: Walker,
    private readonly source: string,
    private readonly file: string,
  ) {}

  private at(path: string): Pos {
    return this.w.pos.get(path) ?? this.w.nearest(path);
  }

  private sourcePos(path: string): { file: string; line: number; col: number } {
    const p = this.at(path);
    return { file: this.file, line: p.line, col: p.col };
  }

  private origin(path: string): TextOrigin {
    const p = this.at(path);
    return textOrigin(this.source, this.file, p.offset, p.line, p.col);
  }

  /** Run `fn`, turning an InputError it throws into a collected error. */
  private guard<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      if (e instanceof SpecErrors) this.w.errors.push(...e.errors);
      else if (e instanceof InputError) this.w.errors.push(e);
      else throw e;
      return undefined;
    }
  }

  build(root: Obj): SuiteSpec {
    this.series = asStr(root.series) as Series | undefined;
    this.license = asStr(root.license) ?? 'GPL';
    const baseFlags = root.base_flags === undefined ? undefined : this.progFlags(root.base_flags, 'base_flags');
    this.buildMaps(asObj(root.maps));
    this.buildKfuncs(asObj(root.kfuncs));
    this.checkNameClashes(root);
    const subprogNames = Object.keys(asObj(root.subprogs));
    this.bindings = suiteBindings(this.mapNames, this.kfuncs, subprogNames);
    this.buildSubprogs(asObj(root.subprogs), subprogNames);

    const tests: TestSpec[] = [];
    const names = new Map<string, string>();
    asList(root.tests).forEach((t, i) => {
      const path = pathIndex('tests', i);
      const name = asStr(asObj(t).name) ?? '';
      const dup = names.get(name);
      if (dup !== undefined) {
        this.w.error(`duplicate test name ${JSON.stringify(name)} (first used at ${dup})`, pathKey(path, 'name'), undefined);
        return;
      }
      const p = this.at(pathKey(path, 'name'));
      if (name) names.set(name, `line ${p.line}`);
      if (this.w.hasErrorsUnder(path)) return;
      const built = this.guard(() => this.buildTest(asObj(t), path));
      if (built) tests.push(built);
    });
    return {
      file: this.file,
      suite: asStr(root.suite) ?? '',
      ...(this.series ? { series: this.series } : {}),
      maps: this.maps,
      tests,
      kfuncs: this.kfuncs,
      ...(baseFlags !== undefined ? { baseFlags } : {}),
      ...(asStr(root.sys_admin) === 'keep' ? { keepSysAdmin: true } : {}),
      ...(asBool(root.func_info) ? { funcInfo: true } : {}),
    };
  }

  /** A number, or a list of BPF_F_* prog flag names / numbers ORed together. */
  private progFlags(v: Value, path: string): number {
    if (typeof v === 'bigint') return Number(v);
    let flags = 0;
    asList(v).forEach((f, i) => {
      const op = get(this.w, parseFlagOp(f as string | bigint), pathIndex(path, i));
      if (op && op.op === 'clear') this.w.error('base_flags lists flags to set; "!" is for a test\'s flags', pathIndex(path, i), undefined);
      else if (op) flags = (flags | op.flag) >>> 0;
    });
    return flags;
  }

  // ---- maps ----

  private buildMaps(maps: Obj): void {
    this.mapOrder = Object.keys(maps);
    for (const [name, def] of Object.entries(maps)) {
      const path = pathKey('maps', name);
      const m = this.w.hasErrorsUnder(path) ? undefined : this.buildMap(name, asObj(def), path, true);
      if (m) {
        this.maps.push(m);
        this.mapNames.push(name);
      } else {
        // Keep indices stable for the bindings even when a map is bad.
        this.mapNames.push(name);
        this.maps.push({ name, type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1, flags: 0 });
      }
    }
  }

  private buildMap(name: string, d: Obj, path: string, outer: boolean): MapDef | undefined {
    const w = this.w;
    const type = get(w, parseMapType(asStr(d.type) ?? ''), pathKey(path, 'type'));
    if (!type) return undefined;
    const sizeless = type === 'RINGBUF' || type === 'USER_RINGBUF';
    for (const k of ['key_size', 'value_size'] as const) {
      if (d[k] === undefined && !sizeless) w.error(`missing required key ${JSON.stringify(k)} (only ringbuf maps may omit it)`, path, undefined);
    }
    const keySize = asNum(d.key_size) ?? 0;
    const valueSize = asNum(d.value_size) ?? 0;
    let flags = 0;
    const fv = d.flags;
    if (typeof fv === 'bigint') flags = Number(fv);
    else
      asList(fv).forEach((f, i) => {
        const bit = get(w, parseMapFlag(f as string | bigint), pathIndex(pathKey(path, 'flags'), i));
        if (bit !== undefined) flags = (flags | bit) >>> 0;
      });
    const isMapInMap = type === 'ARRAY_OF_MAPS' || type === 'HASH_OF_MAPS';
    let inner: MapDef | undefined;
    if (d.inner !== undefined) {
      if (!outer || !isMapInMap) w.error(`"inner" is only allowed on array_of_maps / hash_of_maps`, pathKey(path, 'inner'), undefined);
      else inner = this.buildMap(`${name}.inner`, asObj(d.inner), pathKey(path, 'inner'), false);
    } else if (isMapInMap) {
      w.error(`a ${type.toLowerCase()} map needs "inner" (the inner map's definition)`, path, undefined);
    }
    const init: MapEntry[] = [];
    asList(d.init).forEach((e, i) => {
      const ep = pathIndex(pathKey(path, 'init'), i);
      const o = asObj(e);
      const key = get(w, parseBytes(o.key as string | bigint, keySize), pathKey(ep, 'key'));
      if (isObj(o.value)) {
        const ref = this.slotRef(type, asObj(o.value), pathKey(ep, 'value'));
        if (key && ref) init.push({ key, ...ref });
        return;
      }
      const value = get(w, parseBytes(o.value as string | bigint, valueSize), pathKey(ep, 'value'));
      if (key && value) init.push({ key, value });
    });
    let btf: { key?: BtfTypeDesc; value?: BtfTypeDesc } | undefined;
    if (d.btf !== undefined) {
      const b = asObj(d.btf);
      btf = {};
      for (const k of ['key', 'value'] as const) {
        if (b[k] === undefined) continue;
        const t = get(w, parseBtfType(b[k]), pathKey(pathKey(path, 'btf'), k));
        if (t) btf[k] = t;
      }
    }
    return {
      name,
      type,
      keySize,
      valueSize,
      maxEntries: asNum(d.max_entries) ?? 0,
      flags,
      ...(inner ? { inner } : {}),
      ...(init.length ? { init } : {}),
      ...(btf ? { btf } : {}),
      ...(asBool(d.frozen) ? { frozen: true } : {}),
      ...(d.map_extra !== undefined && BigInt(d.map_extra as string | bigint) !== 0n ? { mapExtra: BigInt(d.map_extra as string | bigint) } : {}),
      ...(asStr(d.arena_data) !== undefined ? { arenaData: Uint8Array.from(Buffer.from(asStr(d.arena_data)!, 'hex')) } : {}),
    };
  }

  /** `{prog: name}` in a prog_array (resolved per run by the plan), `{map: name}` in a
   *  map-in-map (the map's index, known now). */
  private slotRef(type: string, o: Obj, path: string): { value: Uint8Array; progRef?: string } | undefined {
    const prog = asStr(o.prog);
    const map = asStr(o.map);
    if ((prog === undefined) === (map === undefined)) {
      this.w.error('a slot names one program ({prog: name}) or one map ({map: name})', path, undefined);
      return undefined;
    }
    if (prog !== undefined) {
      if (type !== 'PROG_ARRAY') this.w.error('{prog: name} slots are for prog_array maps', path, undefined);
      return { value: new Uint8Array(4), progRef: prog };
    }
    if (type !== 'ARRAY_OF_MAPS' && type !== 'HASH_OF_MAPS') this.w.error('{map: name} slots are for array_of_maps / hash_of_maps', path, undefined);
    // Maps are declared before use is not required: the index is the declaration order.
    const idx = this.mapOrder.indexOf(map!);
    if (idx < 0) {
      this.w.error(`no map named ${JSON.stringify(map)} in this suite`, pathKey(path, 'map'), undefined);
      return undefined;
    }
    const value = new Uint8Array(4);
    new DataView(value.buffer).setUint32(0, idx, true);
    return { value };
  }

  // ---- kfuncs ----

  private params(list: Value | undefined, path: string): { name: string; type: string }[] {
    const out: { name: string; type: string }[] = [];
    const seen = new Set<string>();
    asList(list).forEach((p, i) => {
      const entries = Object.entries(asObj(p));
      const pp = pathIndex(path, i);
      if (entries.length !== 1) {
        this.w.error(`a parameter is one "name: type" pair, found ${entries.length}`, pp, undefined);
        return;
      }
      const [name, type] = entries[0];
      if (seen.has(name)) this.w.error(`duplicate parameter ${JSON.stringify(name)}`, pathKey(pp, name), undefined);
      seen.add(name);
      out.push({ name, type: asStr(type) ?? '' });
    });
    return out;
  }

  private buildKfuncs(kfuncs: Obj): void {
    for (const [name, def] of Object.entries(kfuncs)) {
      const path = pathKey('kfuncs', name);
      if (this.w.hasErrorsUnder(path)) continue;
      const d = asObj(def);
      const flags = asList(d.flags).map((f) => f as string);
      let flagBits = 0;
      flags.forEach((f, i) => {
        if (!Object.hasOwn(KF_FLAGS, f)) this.w.error(`unknown kfunc flag ${JSON.stringify(f)}: expected one of ${Object.keys(KF_FLAGS).join(', ')}`, pathIndex(pathKey(path, 'flags'), i), undefined);
        else flagBits |= KF_FLAGS[f];
      });
      const params = this.params(d.params, pathKey(path, 'params')).map((p) => {
        const suffix = paramSuffix(p.name);
        return { ...p, ...(suffix ? { suffix } : {}) };
      });
      const btfId = asNum(d.btf_id) ?? vmlinuxFuncId(name) ?? 0;
      this.kfuncs.push({ name, params, ret: asStr(d.ret) ?? 'void', flags, flagBits, btfId, pos: this.sourcePos(path) });
    }
  }

  /** Maps, kfuncs and subprograms share the `%[name]` namespace. */
  private checkNameClashes(root: Obj): void {
    const owner = new Map<string, string>();
    for (const section of ['maps', 'kfuncs', 'subprogs'] as const) {
      for (const name of Object.keys(asObj(root[section]))) {
        const first = owner.get(name);
        if (first) this.w.error(`${JSON.stringify(name)} is already defined in ${first}`, pathKey(section, name), this.at(`${pathKey(section, name)}#key`));
        else owner.set(name, section);
      }
    }
  }

  // ---- subprograms ----

  private immBindings(imm: Value | undefined, path: string): Record<string, Binding> {
    const out: Record<string, Binding> = Object.create(null) as Record<string, Binding>;
    for (const [name, v] of Object.entries(asObj(imm))) {
      if (this.bindings[name] && this.bindings[name].kind !== 'helper') {
        this.w.error(`imm ${JSON.stringify(name)} clashes with the ${this.bindings[name].kind} of that name`, pathKey(path, name), this.at(`${pathKey(path, name)}#key`));
        continue;
      }
      out[name] = { kind: 'const', value: typeof v === 'bigint' ? v : insnWordValue(asStr(asObj(v).insn) ?? '') };
    }
    return out;
  }

  /** The suite bindings plus `imm`; copying the ~220 entries only when there is an imm. */
  private withImm(imm: Record<string, Binding>): Record<string, Binding> {
    return Object.keys(imm).length === 0 ? this.bindings : { ...this.bindings, ...imm };
  }

  private buildSubprogs(subprogs: Obj, names: readonly string[]): void {
    for (const [name, def] of Object.entries(subprogs)) {
      const path = pathKey('subprogs', name);
      if (this.w.hasErrorsUnder(path)) {
        this.subprogsOk = false;
        continue;
      }
      const d = asObj(def);
      const bindings = this.withImm(this.immBindings(d.imm, pathKey(path, 'imm')));
      const plain = d.params === undefined ? undefined : this.params(d.params, pathKey(path, 'params'));
      const tagged = asObj(d.param_tags);
      for (const p of Object.keys(tagged)) {
        if (!plain?.some((q) => q.name === p)) this.w.error(`param_tags: no parameter named ${JSON.stringify(p)} in params`, pathKey(pathKey(path, 'param_tags'), p), undefined);
      }
      const params = plain?.map((p) => (tagged[p.name] !== undefined ? { ...p, tags: asList(tagged[p.name]).map((x) => x as string) } : p));
      const fn = this.guard(() =>
        assembleText(name, asStr(d.asm) ?? '', this.origin(pathKey(path, 'asm')), pathKey(path, 'asm'), bindings, names.filter((n) => n !== name)),
      );
      if (fn === undefined) {
        this.subprogsOk = false;
        continue;
      }
      this.subprogs.set(name, {
        name,
        fn,
        linkage: asBool(d.global) ? 'global' : 'static',
        ...(params ? { params } : {}),
        ...(asStr(d.ret) ? { ret: asStr(d.ret) } : {}),
      });
    }
  }

  // ---- tests ----

  private patterns(list: Value | undefined, path: string, lines: boolean): PatternSpec[] {
    const out: PatternSpec[] = [];
    let anyLine = false;
    asList(list).forEach((item, i) => {
      const ip = pathIndex(path, i);
      const negative = isObj(item);
      const text = negative ? (asStr(item.not) ?? '') : (item as string);
      const tp = negative ? pathKey(ip, 'not') : ip;
      if (lines && text === '...') {
        anyLine = true;
        return;
      }
      try {
        compilePattern(text);
      } catch (e) {
        if (!(e instanceof PatternError)) throw e;
        this.w.error(`bad pattern: ${e.message}`, tp, undefined);
        return;
      }
      const p = this.at(tp);
      out.push({ text, negative, anyLine, pos: { file: this.file, line: p.line, col: p.col } });
      anyLine = false;
    });
    return out;
  }

  private expectation(e: Value | undefined, path: string): RawExpectation | undefined {
    if (e === undefined) return undefined;
    const o = asObj(e);
    const result = asStr(o.result) as 'success' | 'failure' | undefined;
    let retval: RetvalSpec | undefined;
    if (o.retval !== undefined) retval = get(this.w, parseRetval(o.retval as string | bigint), pathKey(path, 'retval'));
    let depth: Record<string, StackArgDepthSpec> | undefined;
    if (o.stack_arg_depth !== undefined) {
      depth = {};
      for (const [k, v] of Object.entries(asObj(o.stack_arg_depth))) {
        const d = asObj(v);
        depth[k] = { incoming: asNum(d.incoming) ?? 0, outgoing: asNum(d.outgoing) ?? 0 };
      }
    }
    const jited = asObj(o.jited);
    return {
      ...(result ? { result } : {}),
      ...(o.msgs !== undefined ? { msgs: this.patterns(o.msgs, pathKey(path, 'msgs'), false) } : {}),
      ...(o.xlated !== undefined ? { xlated: this.patterns(o.xlated, pathKey(path, 'xlated'), true) } : {}),
      // Only the host arch's list is collected, as test_loader does.
      ...(jited.x86_64 !== undefined ? { jited: this.patterns(jited.x86_64, pathKey(pathKey(path, 'jited'), 'x86_64'), true) } : {}),
      ...(retval ? { retval } : {}),
      ...(depth ? { stackArgDepth: depth } : {}),
      ...(o.stderr !== undefined ? { stderr: this.patterns(o.stderr, pathKey(path, 'stderr'), true) } : {}),
      ...(o.stdout !== undefined ? { stdout: this.patterns(o.stdout, pathKey(path, 'stdout'), true) } : {}),
    };
  }

  private buildProgram(t: Obj, path: string, name: string): LinkedProgram | undefined {
    const hasAsm = t.asm !== undefined;
    const hasInsns = t.insns !== undefined;
    if (hasAsm && hasInsns) {
      this.w.error('give one program source: "asm" or "insns" (with or without "from"), not both', path, this.at(`${pathKey(path, 'insns')}#key`));
      return undefined;
    }
    if (!hasAsm && !hasInsns) {
      const msg = t.from !== undefined ? '"from" needs "insns" (filled in by the clang step, make progs)' : 'missing program source: give "asm" or "insns"';
      this.w.error(msg, path, undefined);
      return undefined;
    }
    if (hasInsns) {
      if (t.imm !== undefined) {
        this.w.error('"imm" binds %[name] operands of asm text; this test has insns', pathKey(path, 'imm'), this.at(`${pathKey(path, 'imm')}#key`));
        return undefined;
      }
      const ip = pathKey(path, 'insns');
      const words = asList(t.insns) as string[];
      return this.guard(() => decodeInsns(words, name, this.file, ip, (i) => this.at(pathIndex(ip, i))));
    }
    const ap = pathKey(path, 'asm');
    const imm = this.immBindings(t.imm, pathKey(path, 'imm'));
    const origin = this.origin(ap);
    const main = this.guard(() => assembleText(name, asStr(t.asm) ?? '', origin, ap, this.withImm(imm), [...this.subprogs.keys()]));
    if (main === undefined || !this.subprogsOk) return undefined;
    const funcTags = t.func_tags !== undefined ? (asList(t.func_tags) as string[]) : [];
    return this.guard(() => linkMain(name, main, this.subprogs, origin, ap, funcTags));
  }

  private buildTest(t: Obj, path: string): TestSpec | undefined {
    const w = this.w;
    const name = asStr(t.name) ?? '';
    const errorsBefore = w.errors.length;
    const secPath = pathKey(path, 'section');
    const section = asStr(t.section) ?? '';
    const sec = resolveSection(section);
    if (!sec) w.error(`unknown section ${JSON.stringify(section)} (not in libbpf's SEC() table)`, secPath, undefined);

    const flagOps: FlagOp[] = [];
    asList(t.flags).forEach((f, i) => {
      const op = get(w, parseFlagOp(f as string | bigint), pathIndex(pathKey(path, 'flags'), i));
      if (op) flagOps.push(op);
    });
    let caps: number[] | undefined;
    if (t.caps_unpriv !== undefined) {
      caps = [];
      asList(t.caps_unpriv).forEach((c, i) => {
        const n = get(w, parseCap(c as string | bigint), pathIndex(pathKey(path, 'caps_unpriv'), i));
        if (n !== undefined && !caps!.includes(n)) caps!.push(n);
      });
    }
    const expect = this.expectation(t.expect, pathKey(path, 'expect'));
    const unprivRaw = this.expectation(t.unpriv, pathKey(path, 'unpriv'));
    const modes = resolveModes({
      ...(expect ? { expect } : {}),
      ...(unprivRaw ? { unpriv: unprivRaw } : {}),
      auxiliary: asBool(t.auxiliary) === true,
      auxiliaryUnpriv: asBool(t.auxiliary_unpriv) === true,
      capsUnpriv: caps !== undefined && caps.length > 0,
    });

    // __arch_* tags, plus the arches __jited lists are written for.
    const arches = new Set<string>(asList(t.arch).map((a) => a as string));
    for (const e of [t.expect, t.unpriv]) for (const a of Object.keys(asObj(asObj(e).jited))) arches.add(a);

    const linked = this.buildProgram(t, path, name);
    if (!sec || !linked || w.errors.length > errorsBefore) return undefined;

    const program: Program = {
      name,
      progType: sec.progType,
      ...(sec.expectedAttachType ? { expectedAttachType: sec.expectedAttachType } : {}),
      ...(sec.attachTo ? { attachTo: sec.attachTo } : {}),
      insns: linked.insns,
      maps: this.maps,
      funcs: linked.funcs,
      license: this.license,
      flags: sec.flags,
      ...(t.raw_map_fds !== undefined ? { rawMapFds: asList(t.raw_map_fds).map((v) => Number(v as bigint)) } : {}),
    };
    const series = (asStr(t.series) as Series | undefined) ?? this.series;
    const xfail = t.xfail !== undefined ? xfailOf(asObj(t.xfail)) : undefined;
    return {
      name,
      description: asStr(t.description) ?? name,
      section,
      program,
      logLevel: asNum(t.log_level) ?? 0,
      flagOps,
      ...(series ? { series } : {}),
      auxiliary: asBool(t.auxiliary) === true || asBool(t.auxiliary_unpriv) === true,
      ...modes,
      ...(xfail ? { xfail } : {}),
      pos: this.sourcePos(path),
      ...(arches.size ? { arch: ARCHES.filter((a) => arches.has(a)) } : {}),
      ...(caps ? { capsUnpriv: caps } : {}),
      ...(asStr(t.from) ? { from: asStr(t.from) } : {}),
      ...(asStr(t.btf_path) ? { btfPath: asStr(t.btf_path) } : {}),
      ...(t.linear_size !== undefined ? { linearSize: asNum(t.linear_size) ?? 0 } : {}),
    };
  }
}


/** `xfail: {reason, backends, modes}`; without `backends` it applies to the engine only,
 *  without `modes` to every run of the test. */
function xfailOf(o: Obj): { reason: string; backends: ('engine' | 'kernel')[]; modes?: ('priv' | 'unpriv')[] } {
  const listed = asList(o.backends).map((b) => asStr(b)).filter((b): b is 'engine' | 'kernel' => b === 'engine' || b === 'kernel');
  const modes = asList(o.modes).map((m) => asStr(m)).filter((m): m is 'priv' | 'unpriv' => m === 'priv' || m === 'unpriv');
  return { reason: asStr(o.reason) ?? '', backends: listed.length > 0 ? listed : ['engine'], ...(modes.length > 0 ? { modes } : {}) };
}

/** A kernel kfunc declared without `btf_id`: its FUNC id in the running kernel's vmlinux BTF
 *  (what libbpf resolves a __ksym extern to), so a spec stays valid across kernel builds. */
function vmlinuxFuncId(name: string): number | undefined {
  const btf = vmlinuxBtf();
  return btf ? findByName(btf, name, 'FUNC')?.id : undefined;
}
