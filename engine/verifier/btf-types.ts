// The kernel's own types, as the verifier sees them through vmlinux BTF: names for the log
// (`trusted_ptr_task_struct`), struct lookups by name, and what a load through a BTF pointer
// reads (btf_struct_access, the parts modelled: scalar fields and pointer fields).

import { vmlinuxBtf, typeById, skipModifiers, idsByName, typeSize } from '../btf/index.ts';
import type { Btf, BtfType } from '../btf/index.ts';
import { NotImplementedError } from './errors.ts';
import { withTestmodTypes } from '../program/testmod-btf.ts';

let withTestmod: Btf | undefined;

/** The kernel's types as the selftests see them: vmlinux BTF with bpf_testmod's split BTF
 *  on top (vmlinux ids unchanged), or undefined when the kernel has no BTF. */
export function kernelBtfOrUndefined(): Btf | undefined {
  if (!withTestmod) {
    const vm = vmlinuxBtf();
    if (vm) withTestmod = withTestmodTypes(vm);
  }
  return withTestmod;
}

/** The kernel's types; the verifier cannot reason about kernel types without them. */
export function kernelBtf(): Btf {
  const btf = kernelBtfOrUndefined();
  if (!btf) throw new NotImplementedError('kernel types without /sys/kernel/btf/vmlinux');
  return btf;
}

/** The name the log prints after `ptr_` (empty for an unnamed or unknown type). */
export function btfTypeName(id: number): string {
  if (!id) return '';
  return kernelBtfOrUndefined()?.types[id]?.name ?? '';
}

/** The vmlinux id of `struct name`, or 0. */
export function structIdByName(name: string): number {
  const btf = kernelBtf();
  for (const id of idsByName(btf, name)) if (btf.types[id].kind === 'STRUCT') return id;
  return 0;
}

/** The type under typedefs, qualifiers and type tags. */
export function resolved(btf: Btf, id: number): BtfType {
  return typeById(btf, skipModifiers(btf, id));
}

/** btf_type_is_scalar: ints, enums (and floats are not, the kernel says ints/enums only). */
export const isScalarType = (t: BtfType): boolean => t.kind === 'INT' || t.kind === 'ENUM' || t.kind === 'ENUM64';

/** Type tags on the way from `id` to the pointee (`rcu`, `user`, `percpu`, ...). */
export function typeTags(btf: Btf, id: number): string[] {
  const tags: string[] = [];
  for (let depth = 0; depth < 32; depth++) {
    const t = typeById(btf, id);
    if (t.kind === 'TYPE_TAG') tags.push(t.name);
    else if (t.kind !== 'TYPEDEF' && t.kind !== 'CONST' && t.kind !== 'VOLATILE' && t.kind !== 'RESTRICT') break;
    id = (t as { type: number }).type;
  }
  return tags;
}

/** What a load of `size` bytes at `off` in struct `structId` reads. */
export type FieldRead =
  | { readonly kind: 'scalar' }
  | { readonly kind: 'ptr'; readonly pointee: number; readonly tags: readonly string[] }
  | { readonly kind: 'bad'; readonly why: 'past_end' | 'misaligned' };

/** btf_struct_walk, simplified: descend into nested structs/arrays until the access lands
 *  in one member; scalars (and parts of them) read as scalars, a whole pointer member as a
 *  pointer to its pointee. */
export function walkStruct(structId: number, off: number, size: number): FieldRead {
  const btf = kernelBtf();
  let t = resolved(btf, structId);
  for (let depth = 0; depth < 32; depth++) {
    if (t.kind === 'ARRAY') {
      const esz = typeSize(btf, t.type) ?? 0;
      if (esz === 0) return { kind: 'bad', why: 'past_end' };
      off %= esz;
      t = resolved(btf, t.type);
      continue;
    }
    if (t.kind !== 'STRUCT' && t.kind !== 'UNION') {
      if (isScalarType(t) || t.kind === 'FLOAT') return { kind: 'scalar' };
      if (t.kind === 'PTR') {
        if (off !== 0 || size !== 8) return { kind: 'scalar' };
        return { kind: 'ptr', pointee: skipModifiers(btf, t.type), tags: typeTags(btf, t.type) };
      }
      throw new NotImplementedError(`loads from a BTF ${t.kind} field`);
    }
    if (off + size > t.size) return { kind: 'bad', why: 'past_end' };
    const m = t.members.find((mm) => {
      const start = mm.bitOffset / 8;
      const msz = mm.bitfieldSize ? Math.ceil(mm.bitfieldSize / 8) : (typeSize(btf, mm.type) ?? 0);
      return off >= start && off + size <= start + Math.max(msz, mm.bitfieldSize ? 8 : msz);
    });
    if (!m) throw new NotImplementedError('a BTF load across struct members');
    if (m.bitfieldSize) return { kind: 'scalar' };
    off -= m.bitOffset / 8;
    t = resolved(btf, m.type);
  }
  throw new NotImplementedError('deeply nested BTF struct loads');
}
