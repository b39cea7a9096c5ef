// Reading a raw BTF blob (the .BTF section of an object, /sys/kernel/btf/*). Everything is
// bounds-checked: a malformed blob raises InputError, never a RangeError or a hang. Type
// references are not checked here (a reference past the end is reported when resolved), so
// the reader accepts what a compiler emits before libbpf's sanitising.

import { InputError } from '../errors.ts';
import { BTF_KIND, FUNC_LINKAGE, KIND_NAMES, type Btf, type BtfMember, type BtfType } from './types.ts';

export const BTF_MAGIC = 0xeb9f;
const HEADER_LEN = 24;

export interface ParseBtfOptions {
  /** File name for error messages. */
  readonly file?: string;
  /** Base BTF for split BTF (kernel module BTF is split on top of vmlinux). */
  readonly base?: Btf;
}

/** A little bounds-checked reader over one byte range. */
export class Cursor {
  readonly dv: DataView;
  constructor(
    readonly bytes: Uint8Array,
    private readonly fail: (msg: string) => never,
  ) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(at: number, n: number, what: string): void {
    if (at < 0 || n < 0 || at + n > this.bytes.byteLength) this.fail(`${what} at byte ${at} runs past the end (${this.bytes.byteLength} bytes)`);
  }
  u8(at: number, what = 'u8'): number {
    this.need(at, 1, what);
    return this.dv.getUint8(at);
  }
  u16(at: number, what = 'u16'): number {
    this.need(at, 2, what);
    return this.dv.getUint16(at, true);
  }
  u32(at: number, what = 'u32'): number {
    this.need(at, 4, what);
    return this.dv.getUint32(at, true);
  }
  i32(at: number, what = 'i32'): number {
    this.need(at, 4, what);
    return this.dv.getInt32(at, true);
  }
  u64(at: number, what = 'u64'): bigint {
    this.need(at, 8, what);
    return this.dv.getBigUint64(at, true);
  }
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** NUL-terminated string table lookups, with the terminator required. */
export function stringTable(bytes: Uint8Array, fail: (msg: string) => never, what: string): (off: number) => string {
  const cache = new Map<number, string>();
  return (off: number): string => {
    if (off === 0) return '';
    const hit = cache.get(off);
    if (hit !== undefined) return hit;
    if (off < 0 || off >= bytes.byteLength) fail(`${what} offset ${off} is outside the string section (${bytes.byteLength} bytes)`);
    const end = bytes.indexOf(0, off);
    if (end < 0) fail(`${what} at offset ${off} is not NUL-terminated`);
    const s = decoder.decode(bytes.subarray(off, end));
    cache.set(off, s);
    return s;
  };
}

/** Parse a raw BTF blob. */
export function parseBtf(blob: Uint8Array, opts: ParseBtfOptions = {}): Btf {
  const file = opts.file ?? '<btf>';
  const fail = (msg: string): never => {
    throw new InputError(`bad BTF: ${msg}`, { file, line: 0, col: 0 });
  };
  const c = new Cursor(blob, fail);
  if (blob.byteLength < HEADER_LEN) fail(`${blob.byteLength} bytes is shorter than the ${HEADER_LEN}-byte header`);
  const magic = c.u16(0);
  if (magic !== BTF_MAGIC) fail(magic === 0x9feb ? 'big-endian BTF is not supported' : `bad magic 0x${magic.toString(16)}`);
  const version = c.u8(2);
  if (version !== 1) fail(`unsupported version ${version}`);
  const hdrLen = c.u32(4);
  if (hdrLen < HEADER_LEN || hdrLen > blob.byteLength) fail(`header length ${hdrLen} is out of range`);
  const section = (offAt: number, lenAt: number, what: string): Uint8Array => {
    const off = c.u32(offAt);
    const len = c.u32(lenAt);
    const start = hdrLen + off;
    if (start + len > blob.byteLength) fail(`${what} section (offset ${off}, ${len} bytes) runs past the end`);
    return blob.subarray(start, start + len);
  };
  const typeBytes = section(8, 12, 'type');
  const strBytes = section(16, 20, 'string');
  if ((c.u32(8) & 3) !== 0) fail('type section is not 4-byte aligned');
  const base = opts.base;
  if (!base && strBytes.byteLength > 0 && strBytes[0] !== 0) fail('string section does not start with an empty string');
  if (strBytes.byteLength > 0 && strBytes[strBytes.byteLength - 1] !== 0) fail('string section does not end with NUL');
  const ownStr = stringTable(strBytes, fail, 'name');
  const baseStrLen = base ? base.strLen : 0;
  const str = (off: number): string => (base && off < baseStrLen ? base.str(off) : ownStr(off - baseStrLen));

  const types: BtfType[] = base ? [...base.types] : [{ id: 0, name: '', kind: 'UNKN' }];
  const t = new Cursor(typeBytes, fail);
  let p = 0;
  while (p < typeBytes.byteLength) {
    const id = types.length;
    const what = `type [${id}]`;
    const nameOff = t.u32(p, what);
    const info = t.u32(p + 4, what);
    const sizeOrType = t.u32(p + 8, what);
    const vlen = info & 0xffff;
    const kindNo = (info >>> 24) & 0x1f;
    const kflag = info >>> 31 === 1;
    p += 12;
    const name = str(nameOff);
    const kind = KIND_NAMES[kindNo];
    const items = (size: number): number => {
      t.need(p, vlen * size, `${what} (${kind} with ${vlen} entries)`);
      return p;
    };
    switch (kindNo) {
      case BTF_KIND.INT: {
        const v = t.u32(p, what);
        p += 4;
        types.push({ id, name, kind: 'INT', size: sizeOrType, encoding: (v >>> 24) & 0xf, offset: (v >>> 16) & 0xff, bits: v & 0xff });
        break;
      }
      case BTF_KIND.PTR:
      case BTF_KIND.TYPEDEF:
      case BTF_KIND.VOLATILE:
      case BTF_KIND.CONST:
      case BTF_KIND.RESTRICT:
      case BTF_KIND.TYPE_TAG:
        types.push({ id, name, kind: kind as 'PTR', type: sizeOrType });
        break;
      case BTF_KIND.ARRAY:
        t.need(p, 12, what);
        types.push({ id, name, kind: 'ARRAY', type: t.u32(p), indexType: t.u32(p + 4), nelems: t.u32(p + 8) });
        p += 12;
        break;
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION: {
        let q = items(12);
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++, q += 12) {
          const off = t.u32(q + 8);
          members.push({
            name: str(t.u32(q)),
            type: t.u32(q + 4),
            bitOffset: kflag ? off & 0xffffff : off,
            bitfieldSize: kflag ? off >>> 24 : 0,
          });
        }
        p = q;
        types.push({ id, name, kind: kind as 'STRUCT', size: sizeOrType, members });
        break;
      }
      case BTF_KIND.ENUM: {
        let q = items(8);
        const values = [];
        for (let i = 0; i < vlen; i++, q += 8) {
          const v = kflag ? BigInt(t.i32(q + 4)) : BigInt(t.u32(q + 4));
          values.push({ name: str(t.u32(q)), value: v });
        }
        p = q;
        types.push({ id, name, kind: 'ENUM', size: sizeOrType, signed: kflag, values });
        break;
      }
      case BTF_KIND.ENUM64: {
        let q = items(12);
        const values = [];
        for (let i = 0; i < vlen; i++, q += 12) {
          const v = (BigInt(t.u32(q + 8)) << 32n) | BigInt(t.u32(q + 4));
          values.push({ name: str(t.u32(q)), value: kflag ? BigInt.asIntN(64, v) : v });
        }
        p = q;
        types.push({ id, name, kind: 'ENUM64', size: sizeOrType, signed: kflag, values });
        break;
      }
      case BTF_KIND.FWD:
        types.push({ id, name, kind: 'FWD', union: kflag });
        break;
      case BTF_KIND.FUNC:
        types.push({ id, name, kind: 'FUNC', type: sizeOrType, linkage: FUNC_LINKAGE[vlen] ?? 'unknown' });
        break;
      case BTF_KIND.FUNC_PROTO: {
        let q = items(8);
        const params = [];
        for (let i = 0; i < vlen; i++, q += 8) params.push({ name: str(t.u32(q)), type: t.u32(q + 4) });
        p = q;
        types.push({ id, name, kind: 'FUNC_PROTO', type: sizeOrType, params });
        break;
      }
      case BTF_KIND.VAR:
        types.push({ id, name, kind: 'VAR', type: sizeOrType, linkage: t.u32(p, what) });
        p += 4;
        break;
      case BTF_KIND.DATASEC: {
        let q = items(12);
        const vars = [];
        for (let i = 0; i < vlen; i++, q += 12) vars.push({ type: t.u32(q), offset: t.u32(q + 4), size: t.u32(q + 8) });
        p = q;
        types.push({ id, name, kind: 'DATASEC', size: sizeOrType, vars });
        break;
      }
      case BTF_KIND.FLOAT:
        types.push({ id, name, kind: 'FLOAT', size: sizeOrType });
        break;
      case BTF_KIND.DECL_TAG:
        types.push({ id, name, kind: 'DECL_TAG', type: sizeOrType, componentIdx: t.i32(p, what) });
        p += 4;
        break;
      default:
        fail(`${what} has unknown kind ${kindNo}`);
    }
  }
  const strLen = strBytes.byteLength;
  return { types, baseCount: base ? base.types.length : 0, strLen: baseStrLen + strLen, str };
}
