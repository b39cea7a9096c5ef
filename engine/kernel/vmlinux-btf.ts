// Just enough of a BTF reader for the kernel backend: find a vmlinux type id by name and kind
// (attach_btf_id for tp_btf/fentry/lsm programs) and list struct/union members with bit
// offsets (the layout test). Not a general BTF library: it keeps names, kinds and members
// only, and reads the blob straight from /sys/kernel/btf/vmlinux.

import { readFileSync } from 'node:fs';
import { InputError } from '../errors.ts';

export const BTF_KIND = {
  INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9,
  CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16,
  DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;

const BTF_MAGIC = 0xeb9f;

export interface BtfMember {
  readonly name: string;
  readonly type: number;
  readonly bitOffset: number;
  /** Non-zero for a bitfield member. */
  readonly bitfieldSize: number;
}

export interface BtfType {
  readonly id: number;
  readonly kind: number;
  readonly name: string;
  /** INT/STRUCT/UNION/ENUM/FLOAT/DATASEC: byte size. */
  readonly size: number;
  /** PTR/TYPEDEF/modifiers/FUNC/VAR/DECL_TAG/TYPE_TAG: the referenced type; ARRAY: element. */
  readonly ref: number;
  /** ARRAY only. */
  readonly nelems: number;
  /** STRUCT/UNION only. */
  readonly members: readonly BtfMember[];
}

export interface Btf {
  /** Index = type id; [0] is void. */
  readonly types: readonly BtfType[];
  byName(name: string, kind: number): BtfType | undefined;
}

/** Parse a raw BTF blob (type and string sections). Throws InputError on malformed input. */
export function parseBtf(blob: Uint8Array, file = '<btf>'): Btf {
  const bad = (msg: string): never => {
    throw new InputError(`${file}: bad BTF: ${msg}`, { file, line: 0, col: 0 });
  };
  if (blob.byteLength < 24) bad('shorter than a header');
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (dv.getUint16(0, true) !== BTF_MAGIC) bad('wrong magic (big-endian BTF is not supported)');
  const hdrLen = dv.getUint32(4, true);
  const typeOff = hdrLen + dv.getUint32(8, true);
  const typeEnd = typeOff + dv.getUint32(12, true);
  const strOff = hdrLen + dv.getUint32(16, true);
  const strEnd = strOff + dv.getUint32(20, true);
  if (typeEnd > blob.byteLength || strEnd > blob.byteLength) bad('section past the end');
  const decoder = new TextDecoder();
  const str = (off: number): string => {
    if (off === 0) return '';
    const at = strOff + off;
    if (at >= strEnd) bad(`string offset ${off} out of range`);
    let end = at;
    while (end < strEnd && blob[end] !== 0) end++;
    return decoder.decode(blob.subarray(at, end));
  };

  const types: BtfType[] = [{ id: 0, kind: 0, name: '', size: 0, ref: 0, nelems: 0, members: [] }];
  let p = typeOff;
  while (p < typeEnd) {
    if (p + 12 > typeEnd) bad(`truncated type ${types.length}`);
    const nameOff = dv.getUint32(p, true);
    const info = dv.getUint32(p + 4, true);
    const sizeOrType = dv.getUint32(p + 8, true);
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const kflag = info >>> 31;
    p += 12;
    let nelems = 0;
    let ref = 0;
    let size = 0;
    const members: BtfMember[] = [];
    switch (kind) {
      case BTF_KIND.INT:
        size = sizeOrType;
        p += 4;
        break;
      case BTF_KIND.ARRAY:
        ref = dv.getUint32(p, true);
        nelems = dv.getUint32(p + 8, true);
        p += 12;
        break;
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION:
        size = sizeOrType;
        for (let i = 0; i < vlen; i++, p += 12) {
          const off = dv.getUint32(p + 8, true);
          members.push({
            name: str(dv.getUint32(p, true)),
            type: dv.getUint32(p + 4, true),
            bitOffset: kflag ? off & 0xffffff : off,
            bitfieldSize: kflag ? off >>> 24 : 0,
          });
        }
        break;
      case BTF_KIND.ENUM:
        size = sizeOrType;
        p += vlen * 8;
        break;
      case BTF_KIND.ENUM64:
        size = sizeOrType;
        p += vlen * 12;
        break;
      case BTF_KIND.FUNC_PROTO:
        ref = sizeOrType;
        p += vlen * 8;
        break;
      case BTF_KIND.VAR:
      case BTF_KIND.DECL_TAG:
        ref = sizeOrType;
        p += 4;
        break;
      case BTF_KIND.DATASEC:
        size = sizeOrType;
        p += vlen * 12;
        break;
      case BTF_KIND.FLOAT:
        size = sizeOrType;
        break;
      case BTF_KIND.PTR:
      case BTF_KIND.FWD:
      case BTF_KIND.TYPEDEF:
      case BTF_KIND.VOLATILE:
      case BTF_KIND.CONST:
      case BTF_KIND.RESTRICT:
      case BTF_KIND.FUNC:
      case BTF_KIND.TYPE_TAG:
        ref = sizeOrType;
        break;
      default:
        bad(`unknown kind ${kind} at type ${types.length}`);
    }
    types.push({ id: types.length, kind, name: str(nameOff), size, ref, nelems, members });
  }
  if (p !== typeEnd) bad('type section does not end on a type boundary');

  let index: Map<string, BtfType[]> | undefined;
  return {
    types,
    byName(name: string, kind: number): BtfType | undefined {
      if (!index) {
        index = new Map();
        for (const t of types) {
          if (!t.name) continue;
          const list = index.get(t.name);
          if (list) list.push(t);
          else index.set(t.name, [t]);
        }
      }
      return index.get(name)?.find((t) => t.kind === kind);
    },
  };
}

/** Byte size of a type, following typedefs and modifiers (0 for void/func). */
export function typeSize(btf: Btf, id: number): number {
  for (let guard = 0; guard < 64; guard++) {
    const t = btf.types[id];
    if (!t) return 0;
    switch (t.kind) {
      case BTF_KIND.TYPEDEF:
      case BTF_KIND.VOLATILE:
      case BTF_KIND.CONST:
      case BTF_KIND.RESTRICT:
      case BTF_KIND.TYPE_TAG:
        id = t.ref;
        continue;
      case BTF_KIND.ARRAY:
        return typeSize(btf, t.ref) * t.nelems;
      case BTF_KIND.PTR:
        return 8;
      default:
        return t.size;
    }
  }
  return 0;
}

const VMLINUX = '/sys/kernel/btf/vmlinux';
let vmlinux: Btf | null | undefined;

/** The running kernel's BTF, parsed once; undefined when the kernel exposes none. */
export function vmlinuxBtf(): Btf | undefined {
  if (vmlinux === undefined) {
    try {
      vmlinux = parseBtf(readFileSync(VMLINUX), VMLINUX);
    } catch (e) {
      if (e instanceof InputError) throw e;
      vmlinux = null;
    }
  }
  return vmlinux ?? undefined;
}
