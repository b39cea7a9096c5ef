// ELF64 little-endian, just the parts a BPF object uses: section headers and names, the
// symbol table and REL relocation sections. Every offset and count is checked against the
// file size, so a truncated or corrupted file raises InputError.

import { InputError } from '../errors.ts';
import { Cursor, stringTable } from '../btf/parse.ts';

export const EM_BPF = 247;

export const SHT = { NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, NOBITS: 8, REL: 9 } as const;
export const SHF = { WRITE: 1, ALLOC: 2, EXECINSTR: 4 } as const;
export const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4 } as const;
export const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;

/** BPF relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def). */
export const R_BPF = { NONE: 0, R_64_64: 1, ABS64: 2, ABS32: 3, NODYLD32: 4, R_64_32: 10 } as const;

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly entsize: number;
  /** File bytes (empty for NOBITS). */
  readonly data: Uint8Array;
}

export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  readonly bind: number;
  readonly type: number;
  readonly visibility: number;
  readonly shndx: number;
  readonly value: number;
  readonly size: number;
}

export interface ElfRel {
  readonly offset: number;
  readonly type: number;
  readonly sym: number;
}

export interface ElfFile {
  readonly file: string;
  readonly sections: readonly ElfSection[];
  readonly symbols: readonly ElfSymbol[];
  /** REL sections by the index of the section they apply to. */
  readonly rels: ReadonlyMap<number, readonly ElfRel[]>;
}

/** Offsets and sizes are u64 in the file; anything that does not fit a JS number safely is
 *  past any real file anyway. */
function small(v: bigint, what: string, fail: (m: string) => never): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${what} ${v} is out of range`);
  return Number(v);
}

export function parseElf(bytes: Uint8Array, file = '<elf>'): ElfFile {
  const fail = (msg: string): never => {
    throw new InputError(`bad ELF: ${msg}`, { file, line: 0, col: 0 });
  };
  const c = new Cursor(bytes, fail);
  if (bytes.byteLength < 64) fail(`${bytes.byteLength} bytes is shorter than an ELF64 header`);
  if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) fail('not an ELF file (bad magic)');
  if (bytes[4] !== 2) fail('not a 64-bit ELF file');
  if (bytes[5] !== 1) fail('not a little-endian ELF file (big-endian BPF objects are not supported)');
  const machine = c.u16(18);
  if (machine !== EM_BPF) fail(`e_machine is ${machine}, not EM_BPF (${EM_BPF})`);
  const shoff = small(c.u64(40), 'e_shoff', fail);
  const shentsize = c.u16(58);
  let shnum = c.u16(60);
  let shstrndx = c.u16(62);
  if (shoff === 0) fail('no section header table');
  if (shentsize !== 64) fail(`section header size ${shentsize} is not 64`);
  c.need(shoff, 64, 'section header 0');
  // Extended numbering: the real counts live in section 0.
  if (shnum === 0) shnum = small(c.u64(shoff + 32), 'section count', fail);
  if (shstrndx === 0xffff) shstrndx = c.u32(shoff + 40);
  if (shnum > 65536) fail(`${shnum} sections is more than supported`);
  c.need(shoff, shnum * 64, `section header table (${shnum} entries)`);

  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * 64;
    const type = c.u32(h + 4);
    const offset = small(c.u64(h + 24), `section ${i} offset`, fail);
    const size = small(c.u64(h + 32), `section ${i} size`, fail);
    if (type !== SHT.NOBITS && type !== SHT.NULL && offset + size > bytes.byteLength) {
      fail(`section ${i} (offset ${offset}, ${size} bytes) runs past the end of the file`);
    }
    raw.push({
      nameOff: c.u32(h),
      type,
      flags: Number(c.u64(h + 8) & 0xffffffffn),
      offset,
      size,
      link: c.u32(h + 40),
      info: c.u32(h + 44),
      entsize: small(c.u64(h + 56), `section ${i} entsize`, fail),
    });
  }
  if (shstrndx >= shnum) fail(`section name table index ${shstrndx} is out of range`);
  const shstr = raw[shstrndx];
  if (shstr.type !== SHT.STRTAB) fail('section name table is not a string table');
  const secName = stringTable(bytes.subarray(shstr.offset, shstr.offset + shstr.size), fail, 'section name');
  const sections: ElfSection[] = raw.map((s, index) => ({
    index,
    name: secName(s.nameOff),
    type: s.type,
    flags: s.flags,
    offset: s.offset,
    size: s.size,
    link: s.link,
    info: s.info,
    entsize: s.entsize,
    data: s.type === SHT.NOBITS || s.type === SHT.NULL ? new Uint8Array(0) : bytes.subarray(s.offset, s.offset + s.size),
  }));

  const symtabs = sections.filter((s) => s.type === SHT.SYMTAB);
  if (symtabs.length > 1) fail('more than one symbol table');
  const symbols: ElfSymbol[] = [];
  const symtab = symtabs[0];
  if (symtab) {
    if (symtab.size % 24 !== 0) fail('symbol table size is not a multiple of 24');
    const strSec = sections[symtab.link];
    if (!strSec || strSec.type !== SHT.STRTAB) fail('symbol table has no string table');
    const symName = stringTable(strSec.data, fail, 'symbol name');
    const sc = new Cursor(symtab.data, fail);
    for (let i = 0; i < symtab.size / 24; i++) {
      const at = i * 24;
      const info = sc.u8(at + 4);
      symbols.push({
        index: i,
        name: symName(sc.u32(at)),
        bind: info >> 4,
        type: info & 0xf,
        visibility: sc.u8(at + 5) & 3,
        shndx: sc.u16(at + 6),
        value: small(sc.u64(at + 8), `symbol ${i} value`, fail),
        size: small(sc.u64(at + 16), `symbol ${i} size`, fail),
      });
    }
  }

  const rels = new Map<number, ElfRel[]>();
  for (const s of sections) {
    if (s.type === SHT.RELA) fail(`RELA section ${s.name} (BPF objects use REL)`);
    if (s.type !== SHT.REL) continue;
    if (s.size % 16 !== 0) fail(`relocation section ${s.name} size is not a multiple of 16`);
    if (s.info >= sections.length) fail(`relocation section ${s.name} applies to section ${s.info}, which does not exist`);
    if (s.link !== symtab?.index) fail(`relocation section ${s.name} does not use the symbol table`);
    const rc = new Cursor(s.data, fail);
    const list: ElfRel[] = [];
    for (let at = 0; at < s.size; at += 16) {
      const info = rc.u64(at + 8);
      const sym = Number(info >> 32n);
      if (sym >= symbols.length) fail(`relocation in ${s.name} names symbol ${sym}, past the symbol table`);
      list.push({ offset: small(rc.u64(at), 'relocation offset', fail), type: Number(info & 0xffffffffn), sym });
    }
    rels.set(s.info, list);
  }
  return { file, sections, symbols, rels };
}
