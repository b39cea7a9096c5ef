// One BPF object (a compiled selftest) -> one spec suite, as plain data ready for YAML:
// maps, kfunc externs, the .text subprograms the tests call, and one test per program with
// its annotations. Deterministic: everything is ordered by the object (ELF/BTF order).

import { InputError } from '../errors.ts';
import { encodeHex } from '../isa/encode.ts';
import type { Insn } from '../isa/insn.ts';
import { insnSlots } from '../isa/insn.ts';
import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, LD_IMM64 } from '../isa/opcodes.ts';
import { funcSignature, idsByName, skipModifiers } from '../btf/resolve.ts';
import type { BtfTypeDesc } from '../program/types.ts';
import { btfTypeYaml } from './btf-yaml.ts';
import type { Btf } from '../btf/types.ts';
import type { BpfObject, ObjMap } from '../elf/object.ts';
import { linkObjectProgram, type KsymResolver, type LinkedObjProgram } from '../elf/link.ts';
import { functionAsm } from './asm-text.ts';
import { parseAnnotations, type RunAnnotations, type TestAnnotations } from './annotations.ts';
import { detectEncoding, rawTestTags, testTagPayloads, type TagEncoding } from './tags.ts';

/** A YAML-ready value (objects keep insertion order). */
export type Yaml = string | number | boolean | null | Yaml[] | { [k: string]: Yaml };

export interface PortedTest {
  readonly name: string;
  readonly auxiliary: boolean;
  /** The linked program as the object gives it after relocation (for the equality check). */
  readonly insns: readonly Insn[];
  readonly yaml: { [k: string]: Yaml };
  /** Facts the spec format has no field for (kept as comments). */
  readonly notes: readonly string[];
}

export interface PortedSuite {
  readonly suite: string;
  readonly encoding: TagEncoding;
  readonly header: { [k: string]: Yaml };
  readonly tests: readonly PortedTest[];
  /** Programs that could not be ported, with the reason. */
  readonly failures: readonly { readonly name: string; readonly reason: string }[];
  /** Suite-level notes (map initialisers the format cannot hold, ...). */
  readonly notes: readonly string[];
}

export interface PortOptions {
  readonly suite: string;
  /** Suite-level `base_flags` to write (the runner's testing_prog_flags()); omitted = default. */
  readonly baseFlags?: number;
  /** Write `sys_admin: keep` (the runner keeps CAP_SYS_ADMIN, test_progs' RUN_TESTS). */
  readonly keepSysAdmin?: boolean;
  /** Map contents the runner writes before the test runs (prog_tests' pre_execution_cb). */
  readonly mapSeeds?: Readonly<Record<string, readonly { readonly key: string; readonly value: string }[]>>;
  readonly resolveKsym?: KsymResolver;
  /** Test programs to write as raw `insns` instead of asm (set by the round-trip check). */
  readonly rawInsns?: ReadonlySet<string>;
  /** Target BTF for CO-RE relocations (the running kernel's vmlinux). */
  readonly coreTarget?: Btf;
}

export function portObject(obj: BpfObject, opts: PortOptions): PortedSuite {
  const btf = obj.btf;
  if (!btf) throw new InputError('object has no .BTF section: test annotations live there (compile with -g)', { file: obj.file, line: 0, col: 0 });
  const allTags = obj.programs.flatMap((p) => (p.btfId !== undefined ? rawTestTags(btf, p.btfId) : []));
  const encoding = detectEncoding(allTags);
  const mapNames = uniqueMapNames(obj.maps);

  const failures: { name: string; reason: string }[] = [];
  const linked: { prog: (typeof obj.programs)[number]; l: LinkedObjProgram; ann: TestAnnotations }[] = [];
  for (const prog of obj.programs) {
    try {
      const l = linkObjectProgram(obj, prog.name, {
        ...(opts.resolveKsym ? { resolveKsym: opts.resolveKsym } : {}),
        ...(opts.coreTarget ? { coreTarget: opts.coreTarget } : {}),
      });
      const payloads = prog.btfId !== undefined ? testTagPayloads(rawTestTags(btf, prog.btfId), encoding) : [];
      linked.push({ prog, l, ann: parseAnnotations(payloads) });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      failures.push({ name: prog.name, reason: e.message });
    }
  }

  // Subprograms: every .text function a ported program links in, in object order.
  const used = new Set<string>();
  for (const { l } of linked) for (const f of l.funcs.slice(1)) used.add(f.name);
  const subprogs: { [k: string]: Yaml } = {};
  const suiteNotes: string[] = [];
  for (const f of obj.subprograms) {
    if (!used.has(f.name)) continue;
    const owner = linked.find(({ l }) => l.funcs.some((g) => g.name === f.name))!;
    const lf = owner.l.funcs.find((g) => g.name === f.name)!;
    const entry: { [k: string]: Yaml } = {};
    if (lf.linkage === 'global') entry.global = true;
    const params = lf.params ?? [];
    if (params.length && params.every((p) => p.name !== '')) entry.params = params.map((p) => ({ [p.name]: p.type }));
    else if (params.length) suiteNotes.push(`subprog ${f.name}: BTF has unnamed parameters (${params.map((p) => p.type).join(', ')})`);
    if (lf.ret && (lf.params !== undefined)) entry.ret = lf.ret;
    entry.asm = functionAsm(funcInsns(owner.l, lf.start), lf.start, owner.l.refs, { mapName: (i) => mapNames[i] });
    const tags = argTags(btf, f.btfId);
    const named = params.length > 0 && params.every((p) => p.name !== '');
    if (tags.length && named) {
      const byParam: { [k: string]: Yaml } = {};
      for (const t of tags) ((byParam[params[t.idx]?.name ?? `arg${t.idx}`] ??= []) as Yaml[]).push(t.tag);
      entry.param_tags = byParam;
    } else if (tags.length) {
      suiteNotes.push(`subprog ${f.name}: parameter decl tags ${tags.map((t) => `arg${t.idx}: ${t.tag}`).join(', ')} on unnamed parameters`);
    }
    subprogs[f.name] = entry;
  }

  const kfuncs = kfuncEntries(obj, btf, linked.map((x) => x.l), opts.resolveKsym);
  const maps: { [k: string]: Yaml } = {};
  const progNames = new Set(obj.programs.map((p) => p.name));
  obj.maps.forEach((m, i) => {
    const entry = mapEntry(m);
    const slots: Yaml[] = [];
    for (const sl of m.slots ?? []) {
      // Program slots name a program of the object; map slots name one of its maps.
      const mapIdx = obj.maps.findIndex((x) => x.name === sl.target);
      if (m.type === 'PROG_ARRAY' && progNames.has(sl.target)) slots.push({ key: sl.index, value: { prog: sl.target } });
      else if ((m.type === 'ARRAY_OF_MAPS' || m.type === 'HASH_OF_MAPS') && mapIdx >= 0) slots.push({ key: sl.index, value: { map: mapNames[mapIdx] } });
      else suiteNotes.push(`map ${mapNames[i]}: initial value [${sl.index}] = ${sl.target} is not a program or map of this object`);
    }
    const seeds = (opts.mapSeeds?.[m.name] ?? []).map((e) => ({ key: e.key, value: e.value }));
    if (slots.length || seeds.length) entry.init = [...((entry.init as Yaml[] | undefined) ?? []), ...slots, ...seeds];
    const needsBtf = STORAGE_MAPS.has(m.type) || (m.valueType !== undefined && needsValueBtf(btf, m.valueType));
    if (needsBtf && (m.keyType !== undefined || m.valueType !== undefined)) {
      const kv: { [k: string]: Yaml } = {};
      if (m.keyType !== undefined) kv.key = btfTypeYaml(typeDesc(btf, m.keyType));
      if (m.valueType !== undefined) kv.value = btfTypeYaml(typeDesc(btf, m.valueType));
      entry.btf = kv;
    }
    if (m.kind === 'data' && (m.section === '.rodata' || m.section.startsWith('.rodata.'))) entry.frozen = true;
    maps[mapNames[i]] = entry;
  });

  const tests: PortedTest[] = linked.map(({ prog, l, ann }) => {
    const y: { [k: string]: Yaml } = { name: prog.name };
    if (ann.description !== undefined && ann.description !== prog.name) y.description = ann.description;
    y.section = prog.section;
    if (ann.logLevel) y.log_level = ann.logLevel;
    if (ann.flags.length) y.flags = ann.flags;
    if (ann.arch.length) y.arch = ann.arch;
    if (ann.auxiliary) y.auxiliary = true;
    if (ann.auxiliaryUnpriv) y.auxiliary_unpriv = true;
    if (ann.capsUnpriv.length) y.caps_unpriv = ann.capsUnpriv;
    if (ann.btfPath !== undefined) y.btf_path = ann.btfPath;
    if (ann.linearSize !== undefined) y.linear_size = ann.linearSize;
    const rawFds = rawMapFdSlots(l);
    if (rawFds.length) y.raw_map_fds = rawFds;
    if (opts.rawInsns?.has(prog.name)) y.insns = encodeHex(l.insns);
    else y.asm = functionAsm(funcInsns(l, 0), 0, l.refs, { mapName: (i) => mapNames[i] });
    const priv = runYaml(ann.priv);
    const unpriv = runYaml(ann.unpriv);
    if (priv) y.expect = priv;
    if (unpriv) y.unpriv = unpriv;
    const notes = [...ann.problems];
    if (ann.btfFuncPath !== undefined) notes.push(`__btf_func_path(${JSON.stringify(ann.btfFuncPath)})`);
    if (ann.loadMode !== undefined) notes.push(`load_mode=${ann.loadMode}`);
    if (ann.skip !== undefined) notes.push(`__skip(${JSON.stringify(ann.skip)})`);
    if (l.coreUnapplied.length) notes.push(`CO-RE relocations not applied: ${l.coreUnapplied.length} (first: ${l.coreUnapplied[0]})`);
    if (l.unresolved.length) notes.push(`externs not in the running kernel's BTF: ${l.unresolved.join(', ')}`);
    return { name: prog.name, auxiliary: ann.auxiliary || ann.auxiliaryUnpriv, insns: l.insns, yaml: y, notes };
  });

  const header: { [k: string]: Yaml } = { suite: opts.suite };
  if (obj.license) header.license = obj.license;
  if (opts.baseFlags !== undefined) header.base_flags = opts.baseFlags;
  if (opts.keepSysAdmin) header.sys_admin = 'keep';
  // clang -g objects: libbpf loads every program with BTF func_info.
  header.func_info = true;
  if (Object.keys(maps).length) header.maps = maps;
  if (Object.keys(kfuncs).length) header.kfuncs = kfuncs;
  if (Object.keys(subprogs).length) header.subprogs = subprogs;
  return { suite: opts.suite, encoding, header, tests, failures, notes: suiteNotes };
}

/** The instructions of the function starting at `start` (up to the next function). */
function funcInsns(l: LinkedObjProgram, start: number): Insn[] {
  const starts = l.funcs.map((f) => f.start).sort((a, b) => a - b);
  const end = starts.find((s) => s > start) ?? Infinity;
  const out: Insn[] = [];
  let slot = 0;
  for (const insn of l.insns) {
    if (slot >= start && slot < end) out.push(insn);
    slot += insnSlots(insn);
  }
  return out;
}

function runYaml(r: RunAnnotations): { [k: string]: Yaml } | undefined {
  const y: { [k: string]: Yaml } = {};
  if (r.result) y.result = r.result;
  if (r.msgs.length) y.msgs = r.msgs.map((m) => (m.negative ? { not: m.text } : m.text));
  if (r.xlated.length) y.xlated = r.xlated;
  const arches = Object.keys(r.jited);
  if (arches.length) y.jited = Object.fromEntries(arches.map((a) => [a, r.jited[a]]));
  if (r.retval !== undefined) y.retval = r.retval;
  if (r.stderr.length) y.stderr = r.stderr;
  if (r.stdout.length) y.stdout = r.stdout;
  return Object.keys(y).length ? y : undefined;
}

/** Spec map keys: identifiers, unique (global data sections may clash after escaping). */
function uniqueMapNames(maps: readonly ObjMap[]): string[] {
  const seen = new Set<string>();
  return maps.map((m) => {
    let n = /^[A-Za-z_][A-Za-z0-9_]*$/.test(m.name) ? m.name : `_${m.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    while (seen.has(n)) n = `${n}_`;
    seen.add(n);
    return n;
  });
}

function mapEntry(m: ObjMap): { [k: string]: Yaml } {
  const y: { [k: string]: Yaml } = { type: m.type.toLowerCase() };
  if (m.keySize || m.type !== 'RINGBUF') y.key_size = m.keySize;
  if (m.valueSize || m.type !== 'RINGBUF') y.value_size = m.valueSize;
  y.max_entries = m.maxEntries;
  if (m.flags) y.flags = m.flags;
  if (m.mapExtra) y.map_extra = m.mapExtra <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(m.mapExtra) : `0x${m.mapExtra.toString(16)}`;
  if (m.inner) y.inner = mapEntry(m.inner);
  // An arena's data is its __arena globals: their pages are taken even when all zero.
  if (m.type === 'ARENA' && m.data) y.arena_data = Buffer.from(m.data).toString('hex');
  else if (m.data && m.data.some((b) => b !== 0)) y.init = [{ key: '00000000', value: Buffer.from(m.data).toString('hex') }];
  return y;
}

/** Whether a map value type holds fields the verifier finds through BTF (spin locks,
 *  timers, kptrs, graph roots). */
function needsValueBtf(btf: Btf, id: number): boolean {
  const special = /^bpf_(spin_lock|timer|wq|list_head|rb_root|refcount|res_spin_lock|task_work)$/;
  const seen = new Set<number>();
  const walk = (tid: number, depth: number): boolean => {
    if (depth > 8 || seen.has(tid)) return false;
    seen.add(tid);
    const t = btf.types[tid];
    if (!t) return false;
    if ((t.kind === 'STRUCT' || t.kind === 'UNION') && special.test(t.name)) return true;
    if (t.kind === 'TYPE_TAG' && /^kptr/.test(t.name)) return true;
    if (t.kind === 'STRUCT' || t.kind === 'UNION') return t.members.some((m) => walk(m.type, depth + 1));
    if ('type' in t && t.kind !== 'FUNC_PROTO' && t.kind !== 'PTR') return walk(t.type, depth + 1);
    if (t.kind === 'PTR') return walk(t.type, depth + 1);
    return false;
  };
  return walk(id, 0);
}

/** `arg:ctx`-style decl tags on a function's parameters, in BTF order. */
function argTags(btf: Btf, funcId: number | undefined): { idx: number; tag: string }[] {
  if (funcId === undefined) return [];
  const out: { idx: number; tag: string }[] = [];
  for (const t of btf.types) {
    if (t.kind === 'DECL_TAG' && t.type === funcId && t.componentIdx >= 0) out.push({ idx: t.componentIdx, tag: t.name });
  }
  return out;
}

/** ld_imm64s that load a map by fd without a relocation (a raw `.8byte` pair): their imm is a
 *  literal fd the kernel is meant to reject, not one of the object's maps. */
function rawMapFdSlots(l: LinkedObjProgram): number[] {
  const out: number[] = [];
  let slot = 0;
  for (const insn of l.insns) {
    if (insn.code === LD_IMM64 && (insn.src === BPF_PSEUDO_MAP_FD || insn.src === BPF_PSEUDO_MAP_VALUE) && !l.refs.has(slot)) out.push(slot);
    slot += insnSlots(insn);
  }
  return out;
}

/** Local storage maps: the kernel creates them only with key/value BTF. */
const STORAGE_MAPS = new Set(['SK_STORAGE', 'INODE_STORAGE', 'TASK_STORAGE', 'CGRP_STORAGE']);

/** An object BTF type as a spec type description (map-btf): modifiers and typedefs dropped,
 *  enums as ints, pointees by name only (kptr targets are found in vmlinux by name). */
export function typeDesc(btf: Btf, id: number, depth = 0): BtfTypeDesc {
  const t = btf.types[skipModifiers(btf, id)];
  if (!t || t.id === 0 || depth > 16) return { kind: 'void' };
  switch (t.kind) {
    case 'INT':
      return { kind: 'int', name: t.name, size: t.size, signed: (t.encoding & 1) !== 0 };
    case 'ENUM':
    case 'ENUM64':
      return { kind: 'int', name: t.size === 8 ? 'long' : 'int', size: t.size, signed: true };
    case 'PTR': {
      const tags: string[] = [];
      let cur = btf.types[t.type];
      while (cur && (cur.kind === 'TYPE_TAG' || cur.kind === 'CONST' || cur.kind === 'VOLATILE' || cur.kind === 'RESTRICT' || cur.kind === 'TYPEDEF')) {
        if (cur.kind === 'TYPE_TAG') tags.push(cur.name);
        cur = btf.types[cur.type];
      }
      const pointee: BtfTypeDesc = !cur || cur.id === 0 ? { kind: 'void' }
        : cur.kind === 'STRUCT' || cur.kind === 'UNION' ? { kind: cur.kind === 'STRUCT' ? 'struct' : 'union', name: cur.name, size: 0, members: [] }
          : cur.kind === 'FWD' ? { kind: cur.union ? 'union' : 'struct', name: cur.name, size: 0, members: [] }
            : typeDesc(btf, cur.id, depth + 1);
      return { kind: 'ptr', type: pointee, ...(tags.length ? { tags } : {}) };
    }
    case 'ARRAY':
      return { kind: 'array', type: typeDesc(btf, t.type, depth + 1), len: t.nelems };
    case 'STRUCT':
    case 'UNION':
      return {
        kind: t.kind === 'STRUCT' ? 'struct' : 'union',
        name: t.name,
        size: t.size,
        // Bitfield members keep the byte their storage starts in.
        members: t.members.map((m) => ({ name: m.name, type: typeDesc(btf, m.type, depth + 1), offset: Math.floor(m.bitOffset / 8) })),
      };
    case 'FWD':
      return { kind: t.union ? 'union' : 'struct', name: t.name, size: 0, members: [] };
    default:
      return { kind: 'int', name: 'long', size: 8, signed: true };
  }
}

function kfuncEntries(obj: BpfObject, btf: Btf, progs: readonly LinkedObjProgram[], resolve: KsymResolver | undefined): { [k: string]: Yaml } {
  const used = new Set<string>();
  for (const l of progs) for (const r of l.refs.values()) if (r.kind === 'kfunc' || r.kind === 'ksym') used.add(r.name);
  const out: { [k: string]: Yaml } = {};
  for (const e of obj.externs) {
    if (!used.has(e.name)) continue;
    const y: { [k: string]: Yaml } = {};
    const funcId = e.kind === 'func' ? (e.btfId ?? idsByName(btf, e.name).find((id) => btf.types[id].kind === 'FUNC')) : undefined;
    if (funcId !== undefined) {
      const sig = funcSignature(btf, funcId);
      y.params = sig.params.map((p, i) => ({ [p.name || `arg${i}`]: p.type }));
      y.ret = sig.ret;
    } else {
      y.params = [];
      y.ret = 'void';
    }
    y.flags = [];
    const id = resolve?.(e.name, e.kind);
    if (id !== undefined) y.btf_id = id;
    out[e.name] = y;
  }
  return out;
}
