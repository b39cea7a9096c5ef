// From an object's entry program to one loadable instruction stream, the way libbpf lays it
// out: the program's own code first, then each subprogram it calls (or takes the address of)
// appended when first referenced, depth first; relocations applied on the way:
//  - ld_imm64 of a map symbol      -> BPF_PSEUDO_MAP_FD, imm = map index
//  - ld_imm64 of global data       -> BPF_PSEUDO_MAP_VALUE, imm = map index, imm2 = offset
//  - ld_imm64 of a function        -> BPF_PSEUDO_FUNC, imm = pc-relative slot offset
//  - ld_imm64 of a __ksym variable -> BPF_PSEUDO_BTF_ID, imm = kernel BTF id
//  - call of a .text function      -> BPF_PSEUDO_CALL, imm = pc-relative slot offset
//  - call of a __ksym function     -> BPF_PSEUDO_KFUNC_CALL, imm = kernel BTF id
// Maps are named by their index in `obj.maps` (Program.maps order). Each applied relocation
// is also reported symbolically in `refs`, which the porter prints as asm operands.

import { InputError } from '../errors.ts';
import type { Insn, RawSlot } from '../isa/insn.ts';
import {
  BPF_CALL, BPF_JMP, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_BTF_ID, INSN_SIZE, LD_IMM64,
} from '../isa/opcodes.ts';
import type { FuncDef } from '../program/types.ts';
import { funcSignature } from '../btf/resolve.ts';
import type { Btf } from '../btf/types.ts';
import { APPLIED_KINDS, coreValue, patchCore } from './core.ts';
import { R_BPF, SHN_UNDEF, STT, type ElfRel, type ElfSymbol } from './format.ts';
import type { BpfObject, ObjExtern, ObjFunction } from './object.ts';

/** What an applied relocation refers to, by slot index in the linked program. */
export type LinkRef =
  | { readonly kind: 'map'; readonly map: number }
  | { readonly kind: 'data'; readonly map: number; readonly offset: number }
  | { readonly kind: 'call' | 'func'; readonly target: string }
  | { readonly kind: 'kfunc' | 'ksym'; readonly name: string; readonly resolved: boolean };

/** Kernel BTF id of an extern, or undefined when the kernel does not have it. */
export type KsymResolver = (name: string, kind: 'func' | 'var') => number | undefined;

export interface LinkOptions {
  readonly resolveKsym?: KsymResolver;
  /** Apply CO-RE relocations against this BTF (the running kernel's); absent: keep clang's
   *  values. */
  readonly coreTarget?: Btf;
}

export interface LinkedFunc extends FuncDef {
  /** The object function it came from. */
  readonly source: ObjFunction;
}

export interface LinkedObjProgram {
  readonly name: string;
  readonly insns: Insn[];
  /** Every function in the linked stream, main first, in layout order. */
  readonly funcs: readonly LinkedFunc[];
  /** Applied relocations by slot index (ld_imm64 and call instructions only). */
  readonly refs: ReadonlyMap<number, LinkRef>;
  /** Externs the resolver did not find (weak ones are left as libbpf leaves them). */
  readonly unresolved: readonly string[];
  /** CO-RE relocations left with clang's value ("func+slot kind access": why). */
  readonly coreUnapplied: readonly string[];
}

const isCall = (s: RawSlot): boolean => s.code === (BPF_JMP | BPF_CALL);

/** Link one entry program of `obj` (by name). */
export function linkObjectProgram(obj: BpfObject, name: string, opts: LinkOptions = {}): LinkedObjProgram {
  const main = obj.programs.find((p) => p.name === name);
  if (!main) throw new InputError(`no program named ${name}`, { file: obj.file, line: 0, col: 0 });
  return new Linker(obj, opts).link(main);
}

class Linker {
  private readonly out: RawSlot[] = [];
  private readonly funcs: LinkedFunc[] = [];
  /** Start slot of each appended function, keyed by section:offset. */
  private readonly placed = new Map<string, number>();
  private readonly refs = new Map<number, LinkRef>();
  private readonly unresolved = new Set<string>();
  private readonly coreUnapplied: string[] = [];
  private readonly externBySym = new Map<number, ObjExtern>();

  constructor(
    private readonly obj: BpfObject,
    private readonly opts: LinkOptions,
  ) {
    for (const e of obj.externs) this.externBySym.set(e.symbol, e);
  }

  private fail(msg: string): never {
    throw new InputError(msg, { file: this.obj.file, line: 0, col: 0 });
  }

  link(main: ObjFunction): LinkedObjProgram {
    this.place(main);
    return {
      name: main.name,
      insns: foldSlots(this.out),
      funcs: this.funcs,
      refs: this.refs,
      unresolved: [...this.unresolved].sort(),
      coreUnapplied: this.coreUnapplied,
    };
  }

  /** Append a function, then relocate its code (appending its callees as met). */
  private place(f: ObjFunction): number {
    const key = `${f.sectionIndex}:${f.offset}`;
    const start = this.out.length;
    this.placed.set(key, start);
    this.out.push(...f.slots);
    this.funcs.push(this.funcDef(f, start));
    this.applyCore(f, start);
    const rels = new Map<number, ElfRel>();
    for (const r of this.obj.elf.rels.get(f.sectionIndex) ?? []) {
      if (r.offset >= f.offset && r.offset < f.offset + f.size) rels.set((r.offset - f.offset) / INSN_SIZE, r);
    }
    for (let i = 0; i < f.slots.length; i++) {
      const s = this.out[start + i];
      const r = rels.get(i);
      const at = start + i;
      if (r && (r.offset - f.offset) % INSN_SIZE !== 0) this.fail(`${f.section}: relocation at byte ${r.offset} is not on an instruction`);
      if (s.code === LD_IMM64) {
        if (i + 1 >= f.slots.length) this.fail(`${f.section}: ${f.name}: ld_imm64 at the end of the function has no second slot`);
        if (r) this.relocLdImm64(f, at, r);
        else if (s.src === BPF_PSEUDO_FUNC) this.relocFuncAddr(f, at, f.sectionIndex, (f.offset / INSN_SIZE + i + s.imm + 1) * INSN_SIZE);
        i++;
      } else if (isCall(s)) {
        if (r) this.relocCall(f, at, r);
        else if (s.src === BPF_PSEUDO_CALL) this.callTo(f, at, f.sectionIndex, f.offset / INSN_SIZE + i + s.imm + 1);
      } else if (r) {
        this.fail(`${f.section}: relocation at byte ${r.offset} is on a non-ld_imm64, non-call instruction (code 0x${s.code.toString(16)})`);
      }
    }
    return start;
  }

  private applyCore(f: ObjFunction, start: number): void {
    const { btf, btfExt } = this.obj;
    const target = this.opts.coreTarget;
    if (!btf || !btfExt || !target) return;
    for (const sec of btfExt.coreRelos) {
      if (sec.section !== f.section) continue;
      for (const r of sec.records) {
        if (r.insnOff < f.offset || r.insnOff >= f.offset + f.size) continue;
        const at = start + (r.insnOff - f.offset) / INSN_SIZE;
        const what = `${f.name}+${(r.insnOff - f.offset) / INSN_SIZE} ${r.kind} ${r.access}`;
        if (!APPLIED_KINDS.has(r.kind)) {
          this.coreUnapplied.push(`${what}: kind kept as compiled`);
          continue;
        }
        const v = coreValue(btf, target, r);
        if (v === undefined) this.coreUnapplied.push(`${what}: no match in the target BTF`);
        else if (!patchCore(this.out, at, v)) this.coreUnapplied.push(`${what}: cannot patch this instruction`);
      }
    }
  }

  private funcDef(f: ObjFunction, start: number): LinkedFunc {
    const btf = this.obj.btf;
    const sig = btf && f.btfId !== undefined ? funcSignature(btf, f.btfId) : undefined;
    const linkage = sig ? (sig.linkage === 'global' ? 'global' : 'static') : f.global ? 'global' : 'static';
    return {
      start,
      name: f.name,
      linkage,
      ...(sig ? { params: sig.params, ret: sig.ret } : {}),
      source: f,
    };
  }

  private symbol(r: ElfRel): ElfSymbol {
    return this.obj.elf.symbols[r.sym];
  }

  private relocLdImm64(f: ObjFunction, at: number, r: ElfRel): void {
    if (r.type !== R_BPF.R_64_64) this.fail(`${f.section}: ld_imm64 relocation of type ${r.type}, expected R_BPF_64_64`);
    const sym = this.symbol(r);
    const s = this.out[at];
    const hi = this.out[at + 1];
    if (sym.shndx === SHN_UNDEF) {
      const ext = this.externBySym.get(sym.index);
      if (!ext) return this.fail(`${f.section}: ld_imm64 of undefined symbol ${sym.name || `#${sym.index}`}`);
      if (ext.section === '.kconfig') this.fail(`${f.name}: __kconfig extern ${ext.name} is not supported`);
      const id = this.resolve(ext);
      this.out[at] = { ...s, src: BPF_PSEUDO_BTF_ID, imm: id ?? 0 };
      this.out[at + 1] = { ...hi, imm: 0 };
      this.refs.set(at, { kind: 'ksym', name: ext.name, resolved: id !== undefined });
      return;
    }
    const sec = this.obj.elf.sections[sym.shndx];
    if (!sec) return this.fail(`${f.section}: symbol ${sym.name} is in section ${sym.shndx}, which does not exist`);
    if (sec.name === '.text' || (sym.type === STT.FUNC && sec.name !== '.maps')) {
      this.relocFuncAddr(f, at, sym.shndx, sym.value + s.imm);
      return;
    }
    const mapIndex = this.obj.maps.findIndex((m) =>
      m.kind === 'data' ? m.sectionIndex === sym.shndx : m.sectionIndex === sym.shndx && m.offset === sym.value,
    );
    if (mapIndex < 0) this.fail(`${f.section}: ld_imm64 of ${sym.name || sec.name}, which is not a map, global data or function`);
    const map = this.obj.maps[mapIndex];
    if (map.kind === 'data') {
      const offset = sym.value + s.imm;
      this.out[at] = { ...s, src: BPF_PSEUDO_MAP_VALUE, imm: mapIndex };
      this.out[at + 1] = { ...hi, imm: offset };
      this.refs.set(at, { kind: 'data', map: mapIndex, offset });
    } else {
      this.out[at] = { ...s, src: BPF_PSEUDO_MAP_FD, imm: mapIndex };
      this.out[at + 1] = { ...hi, imm: 0 };
      this.refs.set(at, { kind: 'map', map: mapIndex });
    }
  }

  private relocCall(f: ObjFunction, at: number, r: ElfRel): void {
    if (r.type !== R_BPF.R_64_32) this.fail(`${f.section}: call relocation of type ${r.type}, expected R_BPF_64_32`);
    const sym = this.symbol(r);
    const s = this.out[at];
    if (sym.shndx === SHN_UNDEF) {
      const ext = this.externBySym.get(sym.index);
      if (!ext) return this.fail(`${f.section}: call of undefined symbol ${sym.name || `#${sym.index}`}`);
      const id = this.resolve(ext);
      this.out[at] = { ...s, src: BPF_PSEUDO_KFUNC_CALL, imm: id ?? 0, off: 0 };
      this.refs.set(at, { kind: 'kfunc', name: ext.name, resolved: id !== undefined });
      return;
    }
    if (s.src !== BPF_PSEUDO_CALL) this.fail(`${f.section}: relocated call at slot ${at} is not a pseudo call (src ${s.src})`);
    // The target slot in its section: the symbol's slot plus imm + 1 (static calls name the
    // section symbol and carry the offset in imm; global calls name the function, imm = -1).
    this.callTo(f, at, sym.shndx, sym.value / INSN_SIZE + s.imm + 1);
  }

  /** Point a pseudo call at `slot` of section `shndx`. */
  private callTo(f: ObjFunction, at: number, shndx: number, slot: number): void {
    const { start, target } = this.ensurePlaced(f, shndx, slot * INSN_SIZE);
    const dest = start + (slot - target.offset / INSN_SIZE);
    this.out[at] = { ...this.out[at], imm: dest - at - 1 };
    this.refs.set(at, { kind: 'call', target: target.name });
  }

  /** ld_imm64 of a function address (a callback): BPF_PSEUDO_FUNC, pc-relative. */
  private relocFuncAddr(f: ObjFunction, at: number, shndx: number, byteOff: number): void {
    if (byteOff % INSN_SIZE !== 0) this.fail(`${f.section}: function address ${byteOff} is not on an instruction`);
    const { start, target } = this.ensurePlaced(f, shndx, byteOff);
    const dest = start + (byteOff - target.offset) / INSN_SIZE;
    this.out[at] = { ...this.out[at], src: BPF_PSEUDO_FUNC, imm: dest - at - 1 };
    this.out[at + 1] = { ...this.out[at + 1], imm: 0 };
    this.refs.set(at, { kind: 'func', target: target.name });
  }

  private ensurePlaced(from: ObjFunction, shndx: number, byteOff: number): { start: number; target: ObjFunction } {
    const target = this.obj.subprograms.find((g) => g.sectionIndex === shndx && byteOff >= g.offset && byteOff < g.offset + g.size);
    if (!target) {
      const inProg = this.obj.programs.find((g) => g.sectionIndex === shndx && byteOff >= g.offset && byteOff < g.offset + g.size);
      if (inProg) this.fail(`${from.name}: calls into program ${inProg.name}; only .text functions can be called`);
      this.fail(`${from.name}: call target at byte ${byteOff} of section ${shndx} is not inside any .text function`);
    }
    const placed = this.placed.get(`${target.sectionIndex}:${target.offset}`);
    return { start: placed ?? this.place(target), target };
  }

  private resolve(ext: ObjExtern): number | undefined {
    const id = this.opts.resolveKsym?.(ext.name, ext.kind);
    if (id === undefined) this.unresolved.add(ext.name);
    return id;
  }
}

/** Raw slots -> Insn[] with each ld_imm64 folded into one Insn. */
export function foldSlots(slots: readonly RawSlot[]): Insn[] {
  const out: Insn[] = [];
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i];
    if (s.code === LD_IMM64 && i + 1 < slots.length) {
      out.push({ ...s, next: slots[i + 1] });
      i++;
    } else {
      out.push(s);
    }
  }
  return out;
}
