// A BPF ELF object as clang emits it, read into plain data (in the spirit of aya-obj: no
// loading, no kernel). Programs are the functions of executable sections other than .text;
// .text holds subprograms; maps come from BTF `.maps`, the legacy `maps` section and the
// global-data sections; externs (`__ksym`, `__kconfig`) from the BTF DATASECs.

import { InputError } from '../errors.ts';
import { decodeSlot } from '../isa/decode.ts';
import type { RawSlot } from '../isa/insn.ts';
import { INSN_SIZE } from '../isa/opcodes.ts';
import { parseBtf } from '../btf/parse.ts';
import { parseBtfExt, type BtfExt } from '../btf/ext.ts';
import { findByName, typeById } from '../btf/resolve.ts';
import type { Btf } from '../btf/types.ts';
import { parseElf, SHF, SHN_UNDEF, SHN_LORESERVE, SHT, STB, STT, type ElfFile, type ElfRel, type ElfSymbol } from './format.ts';
import { readMaps, type ObjMap } from './maps.ts';

export interface ObjFunction {
  readonly name: string;
  /** ELF section name as written, `?` prefix included. */
  readonly section: string;
  readonly sectionIndex: number;
  /** Byte offset in the section, and byte size. */
  readonly offset: number;
  readonly size: number;
  /** Raw 8-byte slots as in the file (relocations not applied). */
  readonly slots: readonly RawSlot[];
  /** STB_GLOBAL/WEAK (a global function in .text is verified on its own). */
  readonly global: boolean;
  /** BTF FUNC id of the same name, when the object has BTF. */
  readonly btfId?: number;
}

export interface ObjProgram extends ObjFunction {
  /** SEC name without the `?` (which only turns autoload off). */
  readonly secName: string;
  readonly autoload: boolean;
}

export interface ObjExtern {
  readonly name: string;
  readonly kind: 'func' | 'var';
  readonly weak: boolean;
  /** `.ksyms` or `.kconfig`. */
  readonly section: string;
  /** The object's BTF id of the FUNC or VAR. */
  readonly btfId?: number;
  readonly symbol: number;
}

export interface BpfObject {
  readonly file: string;
  readonly elf: ElfFile;
  readonly license: string;
  readonly kernVersion?: number;
  readonly btf?: Btf;
  readonly btfExt?: BtfExt;
  readonly programs: readonly ObjProgram[];
  /** Functions of .text (subprograms), by offset. */
  readonly subprograms: readonly ObjFunction[];
  readonly maps: readonly ObjMap[];
  readonly externs: readonly ObjExtern[];
}

export { type ObjMap };

/** Read a BPF object. Throws InputError (with the file name) on anything malformed. */
export function readBpfObject(bytes: Uint8Array, file = '<object>'): BpfObject {
  const elf = parseElf(bytes, file);
  const fail = (msg: string): never => {
    throw new InputError(msg, { file, line: 0, col: 0 });
  };
  const byName = (n: string) => elf.sections.find((s) => s.name === n);

  const btfSec = byName('.BTF');
  const btf = btfSec ? parseBtf(btfSec.data, { file: `${file}: .BTF` }) : undefined;
  const extSec = byName('.BTF.ext');
  const btfExt = extSec && btf ? parseBtfExt(extSec.data, btf, `${file}: .BTF.ext`) : undefined;

  const licSec = byName('license');
  const license = licSec ? cString(licSec.data) : '';
  const verSec = byName('version');
  const kernVersion = verSec && verSec.size >= 4 ? new DataView(verSec.data.buffer, verSec.data.byteOffset).getUint32(0, true) : undefined;

  const programs: ObjProgram[] = [];
  const subprograms: ObjFunction[] = [];
  for (const sec of elf.sections) {
    if (sec.type !== SHT.PROGBITS || !(sec.flags & SHF.EXECINSTR) || sec.size === 0) continue;
    if (sec.size % INSN_SIZE !== 0) fail(`section ${sec.name} is ${sec.size} bytes, not a whole number of instructions`);
    const funcs = elf.symbols
      .filter((s) => s.shndx === sec.index && s.type === STT.FUNC)
      .sort((a, b) => a.value - b.value || a.index - b.index);
    const isText = sec.name === '.text';
    funcs.forEach((sym, i) => {
      const f = readFunction(sym, sec.index, sec.name, sec.data, funcs[i + 1]?.value ?? sec.size, btf, fail);
      if (isText) {
        subprograms.push(f);
      } else {
        if (sym.bind === STB.LOCAL) fail(`${sec.name}: program ${sym.name} is static, which libbpf does not support`);
        const autoload = !sec.name.startsWith('?');
        programs.push({ ...f, secName: autoload ? sec.name : sec.name.slice(1), autoload });
      }
    });
  }

  const externs = readExterns(elf, btf, fail);
  const maps = readMaps(elf, btf, fail);
  return {
    file,
    elf,
    license,
    ...(kernVersion !== undefined ? { kernVersion } : {}),
    ...(btf ? { btf } : {}),
    ...(btfExt ? { btfExt } : {}),
    programs,
    subprograms,
    maps,
    externs,
  };
}

function cString(data: Uint8Array): string {
  const end = data.indexOf(0);
  return new TextDecoder().decode(end < 0 ? data : data.subarray(0, end));
}

function readFunction(
  sym: ElfSymbol,
  sectionIndex: number,
  section: string,
  data: Uint8Array,
  nextStart: number,
  btf: Btf | undefined,
  fail: (m: string) => never,
): ObjFunction {
  const size = sym.size || Math.max(0, nextStart - sym.value);
  if (sym.value % INSN_SIZE !== 0 || size % INSN_SIZE !== 0) fail(`${section}: function ${sym.name} is not aligned to instructions`);
  if (sym.value + size > data.byteLength) fail(`${section}: function ${sym.name} (offset ${sym.value}, ${size} bytes) runs past the section`);
  const slots: RawSlot[] = [];
  for (let at = sym.value; at < sym.value + size; at += INSN_SIZE) slots.push(decodeSlot(data, at));
  const bf = btf ? findByName(btf, sym.name, 'FUNC') : undefined;
  return {
    name: sym.name,
    section,
    sectionIndex,
    offset: sym.value,
    size,
    slots,
    global: sym.bind === STB.GLOBAL || sym.bind === STB.WEAK,
    ...(bf ? { btfId: bf.id } : {}),
  };
}

/** Externs: undefined symbols, classified by the BTF DATASEC (.ksyms / .kconfig) that lists
 *  them, or by their use when the object has no BTF for them. */
function readExterns(elf: ElfFile, btf: Btf | undefined, fail: (m: string) => never): ObjExtern[] {
  const where = new Map<string, { section: string; btfId: number; kind: 'func' | 'var' }>();
  if (btf) {
    for (const t of btf.types) {
      if (t.kind !== 'DATASEC' || (t.name !== '.ksyms' && t.name !== '.kconfig')) continue;
      for (const v of t.vars) {
        const vt = typeById(btf, v.type);
        if (vt.kind === 'FUNC') where.set(vt.name, { section: t.name, btfId: vt.id, kind: 'func' });
        else if (vt.kind === 'VAR') where.set(vt.name, { section: t.name, btfId: vt.id, kind: 'var' });
      }
    }
  }
  const out: ObjExtern[] = [];
  for (const s of elf.symbols) {
    if (s.shndx !== SHN_UNDEF || s.index === 0 || !s.name) continue;
    if (s.bind !== STB.GLOBAL && s.bind !== STB.WEAK) continue;
    const w = where.get(s.name);
    const kind = w?.kind ?? (s.type === STT.FUNC ? 'func' : 'var');
    out.push({
      name: s.name,
      kind,
      weak: s.bind === STB.WEAK,
      section: w?.section ?? '.ksyms',
      ...(w ? { btfId: w.btfId } : {}),
      symbol: s.index,
    });
  }
  if (out.length > 4096) fail(`${out.length} extern symbols is more than supported`);
  return out;
}

/** Relocations of a section, sorted by offset. */
export function relocsOf(obj: BpfObject, sectionIndex: number): readonly ElfRel[] {
  return obj.elf.rels.get(sectionIndex) ?? [];
}

/** Is this a special (reserved) section index, e.g. SHN_ABS? */
export const isReservedIndex = (shndx: number): boolean => shndx >= SHN_LORESERVE;
