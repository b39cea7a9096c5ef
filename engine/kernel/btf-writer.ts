// A small BTF encoder for the blobs the kernel backend hands to BPF_BTF_LOAD: program BTF
// for func_info (prototypes with parameter names and decl tags) and map key/value BTF. It
// writes only what the kernel's checks read; identical types are written once.

import { BTF_KIND } from '../btf/types.ts';
import { findByName, skipModifiers } from '../btf/resolve.ts';
import { vmlinuxBtf } from '../btf/vmlinux.ts';
import type { BtfTypeDesc } from '../program/types.ts';

export class BtfWriter {
  private readonly types: Uint8Array[] = [];
  private readonly strs: number[] = [0];
  private readonly strOff = new Map<string, number>([['', 0]]);
  private readonly memo = new Map<string, number>();

  str(s: string): number {
    let off = this.strOff.get(s);
    if (off === undefined) {
      off = this.strs.length;
      this.strs.push(...new TextEncoder().encode(s), 0);
      this.strOff.set(s, off);
    }
    return off;
  }

  /** Append one type record; returns its id. `kflag` is the kind_flag bit. */
  add(name: string, kind: number, vlen: number, sizeOrType: number, extra: readonly number[] = [], kflag = false): number {
    const rec = new Uint8Array(12 + extra.length * 4);
    const dv = new DataView(rec.buffer);
    dv.setUint32(0, this.str(name), true);
    dv.setUint32(4, ((kflag ? 1 : 0) << 31) | ((kind & 0x1f) << 24) | (vlen & 0xffff), true);
    dv.setUint32(8, sizeOrType >>> 0, true);
    extra.forEach((v, i) => dv.setUint32(12 + i * 4, v >>> 0, true));
    this.types.push(rec);
    return this.types.length;
  }

  once(key: string, make: () => number): number {
    let id = this.memo.get(key);
    if (id === undefined) {
      id = make();
      this.memo.set(key, id);
    }
    return id;
  }

  int(name: string, size: number, signed: boolean): number {
    return this.once(`int:${name}:${size}:${signed}`, () => this.add(name, BTF_KIND.INT, 0, size, [((signed ? 1 : 0) << 24) | (size * 8)]));
  }

  ptr(target: number, tags: readonly string[] = []): number {
    // PTR -> TYPE_TAG... -> target, as clang writes `struct x __kptr *`.
    let t = target;
    for (const tag of [...tags].reverse()) {
      const inner = t;
      t = this.once(`tag:${tag}:${inner}`, () => this.add(tag, BTF_KIND.TYPE_TAG, 0, inner));
    }
    const pointee = t;
    return this.once(`ptr:${pointee}`, () => this.add('', BTF_KIND.PTR, 0, pointee));
  }

  /** A named struct/union with no members (enough for checks that go by name and size). */
  opaque(kind: 'struct' | 'union', name: string, size = 0): number {
    return this.once(`${kind}:${name}:${size}`, () => this.add(name, kind === 'struct' ? BTF_KIND.STRUCT : BTF_KIND.UNION, 0, size));
  }

  /** A described type, recursively. */
  desc(t: BtfTypeDesc): number {
    switch (t.kind) {
      case 'void':
        return 0;
      case 'int':
        return this.int(t.name, t.size, t.signed);
      case 'ptr':
        return this.ptr(this.desc(t.type), t.tags ?? []);
      case 'array': {
        const elem = this.desc(t.type);
        const index = this.int('unsigned int', 4, false);
        return this.add('', BTF_KIND.ARRAY, 0, 0, [elem, index, t.len]);
      }
      default: {
        if (t.members.length === 0) return this.opaque(t.kind, t.name, t.size);
        const members = t.members.map((m) => [this.str(m.name), this.desc(m.type), m.offset * 8]);
        return this.add(t.name, t.kind === 'struct' ? BTF_KIND.STRUCT : BTF_KIND.UNION, members.length, t.size, members.flat());
      }
    }
  }

  /** A C type spelled as text (a prototype's parameter): scalars, pointers, named structs, and
   *  typedefs the running kernel's BTF knows (kept as typedefs: ctx checks look at their names). */
  cType(type: string, depth = 0): number {
    const t = type.replace(/\b(const|volatile|restrict)\b/g, '').replace(/\s+/g, ' ').trim();
    if (t.endsWith('*')) {
      const inner = t.slice(0, -1).trim();
      return this.ptr(inner === 'void' ? 0 : this.cType(inner, depth + 1));
    }
    if (t === 'void') return 0;
    const tagged = /^(struct|union|enum) ([A-Za-z_]\w*)$/.exec(t);
    if (tagged) return tagged[1] === 'enum' ? this.int('int', 4, true) : this.opaque(tagged[1] as 'struct' | 'union', tagged[2]);
    const s = scalarSize(t);
    if (s) return this.int(s.name, s.size, s.signed);
    const vm = depth < 8 ? vmlinuxBtf() : undefined;
    const td = vm ? findByName(vm, t, 'TYPEDEF') : undefined;
    if (vm && td) {
      const target = vm.types[skipModifiers(vm, td.type)];
      let id: number;
      if (target.kind === 'STRUCT' || target.kind === 'UNION') id = this.opaque(target.kind === 'STRUCT' ? 'struct' : 'union', target.name);
      else if (target.kind === 'INT') id = this.int(target.name, target.size, (target.encoding & 1) !== 0);
      else if (target.kind === 'PTR') id = this.ptr(0);
      else id = this.int('long', 8, true);
      return this.once(`typedef:${t}`, () => this.add(t, BTF_KIND.TYPEDEF, 0, id));
    }
    return this.int('long', 8, true); // an unknown typedef: a 64-bit scalar
  }

  proto(ret: number, params: readonly { name: string; type: number }[]): number {
    return this.add('', BTF_KIND.FUNC_PROTO, params.length, ret, params.flatMap((p) => [this.str(p.name), p.type]));
  }

  func(name: string, proto: number, linkage: number): number {
    return this.add(name, BTF_KIND.FUNC, linkage, proto);
  }

  /** A decl tag on `target`; componentIdx -1 tags the declaration itself, N its N-th parameter. */
  declTag(name: string, target: number, componentIdx: number): number {
    return this.add(name, BTF_KIND.DECL_TAG, 0, target, [componentIdx]);
  }

  finish(): Uint8Array {
    const typeLen = this.types.reduce((n, t) => n + t.length, 0);
    const out = new Uint8Array(24 + typeLen + this.strs.length);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, 0xeb9f, true);
    dv.setUint8(2, 1);
    dv.setUint32(4, 24, true);
    dv.setUint32(8, 0, true);
    dv.setUint32(12, typeLen, true);
    dv.setUint32(16, typeLen, true);
    dv.setUint32(20, this.strs.length, true);
    let at = 24;
    for (const t of this.types) {
      out.set(t, at);
      at += t.length;
    }
    out.set(this.strs, at);
    return out;
  }
}

/** Sizes of the scalar C spellings we recognise, with the name BTF gives them. */
export function scalarSize(type: string): { name: string; size: number; signed: boolean } | undefined {
  const t = type.trim();
  const fixed = /^(?:__)?([us])(8|16|32|64)$/.exec(t);
  if (fixed) return { name: t, size: Number(fixed[2]) / 8, signed: fixed[1] === 's' };
  const unsigned = /\bunsigned\b/.test(t);
  const base = t.replace(/\b(un)?signed\b/g, '').replace(/\s+/g, ' ').trim();
  const named = (size: number, signed: boolean) => ({ name: t, size, signed });
  switch (base) {
    case 'char': return named(1, !unsigned);
    case '_Bool': case 'bool': return named(1, false);
    case 'short': case 'short int': return named(2, !unsigned);
    case 'int': case '': return named(4, !unsigned);
    case 'long': case 'long int': case 'long long': case 'long long int': return named(8, !unsigned);
    case 'size_t': return named(8, false);
    default: return undefined;
  }
}
