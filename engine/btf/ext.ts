// .BTF.ext: per-section func_info, line_info and CO-RE relocation records (uapi/linux/btf.h
// has no struct for it; the layout is libbpf's btf_ext_header). Instruction offsets are in
// bytes from the start of the ELF section; names are offsets into the .BTF string table.

import { InputError } from '../errors.ts';
import { BTF_MAGIC, Cursor } from './parse.ts';
import type { Btf } from './types.ts';

export interface FuncInfo {
  readonly insnOff: number;
  readonly typeId: number;
}

export interface LineInfo {
  readonly insnOff: number;
  readonly fileName: string;
  readonly line: string;
  readonly lineNum: number;
  readonly col: number;
}

/** enum bpf_core_relo_kind. */
export const CORE_RELO_KINDS = [
  'FIELD_BYTE_OFFSET', 'FIELD_BYTE_SIZE', 'FIELD_EXISTS', 'FIELD_SIGNED', 'FIELD_LSHIFT_U64',
  'FIELD_RSHIFT_U64', 'TYPE_ID_LOCAL', 'TYPE_ID_TARGET', 'TYPE_EXISTS', 'TYPE_SIZE',
  'ENUMVAL_EXISTS', 'ENUMVAL_VALUE', 'TYPE_MATCHES',
] as const;
export type CoreReloKind = (typeof CORE_RELO_KINDS)[number];

export interface CoreRelo {
  readonly insnOff: number;
  /** Local (object BTF) type id of the root type. */
  readonly typeId: number;
  /** Access string, e.g. "0:1:2" (member indices). */
  readonly access: string;
  readonly kind: CoreReloKind;
}

export interface BtfExtSection<T> {
  /** ELF section name the records belong to. */
  readonly section: string;
  readonly records: readonly T[];
}

export interface BtfExt {
  readonly funcInfo: readonly BtfExtSection<FuncInfo>[];
  readonly lineInfo: readonly BtfExtSection<LineInfo>[];
  readonly coreRelos: readonly BtfExtSection<CoreRelo>[];
}

const MIN_REC = { func: 8, line: 16, core: 16 } as const;

/** Parse a .BTF.ext blob against the object's .BTF (for its strings). */
export function parseBtfExt(blob: Uint8Array, btf: Btf, file = '<btf.ext>'): BtfExt {
  const fail = (msg: string): never => {
    throw new InputError(`bad .BTF.ext: ${msg}`, { file, line: 0, col: 0 });
  };
  const c = new Cursor(blob, fail);
  if (blob.byteLength < 24) fail(`${blob.byteLength} bytes is shorter than the header`);
  if (c.u16(0) !== BTF_MAGIC) fail(`bad magic 0x${c.u16(0).toString(16)}`);
  if (c.u8(2) !== 1) fail(`unsupported version ${c.u8(2)}`);
  const hdrLen = c.u32(4);
  if (hdrLen < 24 || hdrLen > blob.byteLength) fail(`header length ${hdrLen} is out of range`);
  const str = (off: number): string => {
    try {
      return btf.str(off);
    } catch (e) {
      return fail(e instanceof Error ? e.message : String(e));
    }
  };

  function sections<T>(offAt: number, what: keyof typeof MIN_REC, rec: (c: Cursor, at: number) => T): BtfExtSection<T>[] {
    if (offAt + 8 > hdrLen) return [];
    const off = c.u32(offAt);
    const len = c.u32(offAt + 4);
    if (len === 0) return [];
    const start = hdrLen + off;
    const end = start + len;
    if (end > blob.byteLength) fail(`${what} info (offset ${off}, ${len} bytes) runs past the end`);
    const recSize = c.u32(start, `${what} record size`);
    if (recSize < MIN_REC[what] || recSize % 4 !== 0) fail(`${what} record size ${recSize} is invalid`);
    const out: BtfExtSection<T>[] = [];
    let p = start + 4;
    while (p < end) {
      if (p + 8 > end) fail(`${what} info: truncated section header`);
      const section = str(c.u32(p));
      const n = c.u32(p + 4);
      p += 8;
      if (n === 0) fail(`${what} info for ${section} has no records`);
      if (n * recSize > end - p) fail(`${what} info for ${section}: ${n} records of ${recSize} bytes run past the end`);
      const records: T[] = [];
      for (let i = 0; i < n; i++, p += recSize) records.push(rec(c, p));
      out.push({ section, records });
    }
    return out;
  }

  return {
    funcInfo: sections(8, 'func', (c, at) => ({ insnOff: c.u32(at), typeId: c.u32(at + 4) })),
    lineInfo: sections(16, 'line', (c, at) => {
      const lc = c.u32(at + 12);
      return { insnOff: c.u32(at), fileName: str(c.u32(at + 4)), line: str(c.u32(at + 8)), lineNum: lc >>> 10, col: lc & 0x3ff };
    }),
    coreRelos: sections(24, 'core', (c, at) => {
      const k = c.u32(at + 12);
      const kind = CORE_RELO_KINDS[k];
      if (!kind) fail(`unknown CO-RE relocation kind ${k}`);
      return { insnOff: c.u32(at), typeId: c.u32(at + 4), access: str(c.u32(at + 8)), kind };
    }),
  };
}
