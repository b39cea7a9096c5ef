// btf_struct_access as 6.18 does it: what a load of `size` bytes at `off` inside a kernel
// struct reads, found by walking the struct's members (nested structs and unions, arrays of
// them, bitfields, a trailing flexible array), with the kernel's refusals and their texts.
//
// Results: a scalar; a pointer to a kernel struct (PTR_TO_BTF_ID with the flags the walk
// collected: __user/__percpu/__rcu tags, and PTR_UNTRUSTED once a union with several members
// was crossed); or, for a pointer to anything else, read-only untrusted memory of size 0
// (6.18's PTR_TO_MEM | MEM_RDONLY | PTR_UNTRUSTED).

import type { Btf, BtfType } from '../btf/index.ts';
import { typeById, skipModifiers } from '../btf/index.ts';
import { MEM_PERCPU, MEM_RCU, MEM_USER, PTR_UNTRUSTED } from './state/types.ts';
import { EACCES, EFAULT, EINVAL } from './reject.ts';

export type BtfAccess =
  | { readonly kind: 'scalar' }
  | { readonly kind: 'ptr'; readonly id: number; readonly flags: number; readonly field: string }
  | { readonly kind: 'untrusted_mem' }
  | { readonly kind: 'error'; readonly errno: number; readonly msg: string };

type Walk = BtfAccess | { readonly kind: 'struct'; readonly id: number };

const MAX_RESOLVE_DEPTH = 32;
const isStruct = (t: BtfType): t is BtfType & { kind: 'STRUCT' | 'UNION' } => t.kind === 'STRUCT' || t.kind === 'UNION';
const isModifier = (t: BtfType): boolean =>
  t.kind === 'TYPEDEF' || t.kind === 'VOLATILE' || t.kind === 'CONST' || t.kind === 'RESTRICT' || t.kind === 'TYPE_TAG';
const err = (errno: number, msg: string): Walk => ({ kind: 'error', errno, msg });

/** A member type's total size (arrays flattened: element type, element count), following
 *  modifiers; undefined for types without a size (void, functions, forward declarations).
 *  `id` is the last type id reached through a modifier (the kernel's type_id update). */
interface Sized {
  readonly top: BtfType;
  readonly size: number;
  readonly elem: BtfType;
  readonly elemId: number;
  readonly nelems: number;
  readonly id: number;
}

function resolveSize(btf: Btf, typeId: number): Sized | undefined {
  let t = typeById(btf, typeId);
  let id = typeId;
  let arrayTop: BtfType | undefined;
  let elemId = 0;
  let nelems = 1;
  for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
    switch (t.kind) {
      case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'FLOAT':
        return { top: arrayTop ?? t, size: nelems * t.size, elem: t, elemId: arrayTop ? elemId : 0, nelems, id };
      case 'PTR':
        return { top: arrayTop ?? t, size: nelems * 8, elem: t, elemId: arrayTop ? elemId : 0, nelems, id };
      case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
        id = t.type;
        t = typeById(btf, t.type);
        break;
      case 'ARRAY':
        arrayTop ??= t;
        nelems *= t.nelems;
        elemId = t.type;
        t = typeById(btf, t.type);
        break;
      default:
        return undefined;
    }
  }
  return undefined;
}

/** One level of btf_struct_walk: stops at a scalar, a pointer, an error, or a nested struct
 *  that starts exactly at `off`. `flags` collects PTR_UNTRUSTED from unions. */
function structWalk(btf: Btf, start: BtfType, off: number, size: number, flags: { v: number }): Walk {
  let t = start;
  for (let depth = 0; ; depth++) {
    if (depth > MAX_RESOLVE_DEPTH) return err(EINVAL, 'struct nesting too deep');
    if (isModifier(t)) t = typeById(btf, skipModifiers(btf, (t as { type: number }).type));
    const tname = t.name || '(anon)';
    if (!isStruct(t)) return err(EINVAL, `Type '${tname}' is not a struct`);
    // Pointers found below a union of several members may alias anything.
    if (t.kind === 'UNION' && t.members.length !== 1) flags.v |= PTR_UNTRUSTED;

    if (off + size > t.size) {
      const beyond = err(EACCES, `access beyond struct ${tname} at off ${off} size ${size}`);
      // A trailing flexible array of ints or structs may be indexed past the struct's size.
      const last = t.members[t.members.length - 1];
      if (!last) return beyond;
      const arr = typeById(btf, skipModifiers(btf, last.type));
      if (arr.kind !== 'ARRAY' || arr.nelems !== 0) return beyond;
      const moff = last.bitOffset / 8;
      if (off < moff) return beyond;
      const elem = typeById(btf, skipModifiers(btf, arr.type));
      if (elem.kind === 'INT') return { kind: 'scalar' };
      if (!isStruct(elem) || !elem.size) return beyond;
      off = (off - moff) % elem.size;
      t = elem;
      continue;
    }

    let next: BtfType | undefined;
    for (const m of t.members) {
      let moff = Math.floor(m.bitOffset / 8);
      if (off + size <= moff) break; // members further on cannot hold the access
      if (m.bitfieldSize) {
        // A bitfield reads as a scalar only when the access covers all of it.
        const endByte = Math.ceil((m.bitOffset + m.bitfieldSize) / 8);
        if (off <= moff && endByte <= off + size) return { kind: 'scalar' };
        continue;
      }
      if (off < moff) break; // a hole between members
      const sized = resolveSize(btf, m.type);
      if (!sized) return err(EFAULT, `field ${m.name} doesn't have size`);
      const trueEnd = moff + sized.size;
      if (off >= trueEnd) continue;
      let mtype = sized.top;
      let mid = sized.id;
      let msize = sized.size;
      if (mtype.kind === 'ARRAY') {
        if (moff === trueEnd) continue; // empty array
        msize /= sized.nelems;
        moff += Math.floor((off - moff) / msize) * msize;
        mtype = sized.elem;
        mid = sized.elemId;
      }
      if (isStruct(mtype)) {
        if (off === moff) return { kind: 'struct', id: mid };
        off -= moff;
        next = mtype;
        break;
      }
      if (mtype.kind === 'PTR') {
        if (msize !== size || off !== moff) {
          return err(EACCES, `cannot access ptr member ${m.name} with moff ${moff} in struct ${tname} with off ${off} size ${size}`);
        }
        const target = typeById(btf, mtype.type);
        let tag = 0;
        if (target.kind === 'TYPE_TAG') {
          if (target.name === 'user') tag = MEM_USER;
          if (target.name === 'percpu') tag = MEM_PERCPU;
          if (target.name === 'rcu') tag = MEM_RCU;
        }
        const pointeeId = skipModifiers(btf, mtype.type);
        if (isStruct(typeById(btf, pointeeId))) return { kind: 'ptr', id: pointeeId, flags: flags.v | tag, field: m.name };
        return { kind: 'untrusted_mem' };
      }
      // Ints (and arrays of them) may be read across elements, up to the member's true end.
      if (off + size > trueEnd && !(flags.v & PTR_UNTRUSTED)) {
        return err(EACCES, `access beyond the end of member ${m.name} (mend:${trueEnd}) in struct ${tname} with off ${off} size ${size}`);
      }
      return { kind: 'scalar' };
    }
    if (!next) return err(EINVAL, `struct ${tname} doesn't have field at offset ${off}`);
    t = next;
  }
}

/** btf_struct_access for a plain (not allocated-object) PTR_TO_BTF_ID of type `id`. */
export function btfStructAccess(btf: Btf, id: number, off: number, size: number): BtfAccess {
  const flags = { v: 0 };
  let t = typeById(btf, id);
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    const w = structWalk(btf, t, off, size, flags);
    if (w.kind !== 'struct') return w;
    // A nested struct starting at the offset: look inside it from its start.
    t = typeById(btf, w.id);
    off = 0;
  }
  return { kind: 'error', errno: EINVAL, msg: 'struct nesting too deep' };
}

/** btf_struct_ids_match: a pointer to `id` (at `off`) may stand for a pointer to `needId`
 *  when it is one, or when `needId` is nested at that offset, first member within first
 *  member (struct sock starts with struct sock_common); `strict` allows no nesting. The
 *  walk's refusals are logged, as the kernel does. */
export function btfStructIdsMatch(btf: Btf, id: number, off: number, needId: number, strict: boolean, log: (s: string) => void): boolean {
  if (off === 0 && id === needId) return true;
  if (strict) return false;
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    const w = structWalk(btf, typeById(btf, id), off, 1, { v: 0 });
    if (w.kind === 'error') log(`${w.msg}
`);
    if (w.kind !== 'struct') return false;
    if (w.id === needId) return true;
    id = w.id;
    off = 0;
  }
  return false;
}
