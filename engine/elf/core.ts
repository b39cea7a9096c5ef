// CO-RE relocations (.BTF.ext core_relo records) applied against a target BTF (the running
// kernel's vmlinux), for the kinds the verifier selftests use: field byte offset / size /
// existence / signedness and type id / existence / size. Matching follows libbpf's idea
// (by reading relo_core.c): the root type is found in the target by its name with any
// `___flavor` suffix dropped, then the access string's member indices are followed by
// member *name*. Bitfield shift kinds and enum values are left as clang computed them
// (correct whenever the object was built against the same kernel's vmlinux.h).

import type { RawSlot } from '../isa/insn.ts';
import { BPF_ALU, BPF_ALU64, BPF_LDX, BPF_ST, BPF_STX, LD_IMM64, bpfClass } from '../isa/opcodes.ts';
import { idsByName, skipModifiers, typeById, typeSize } from '../btf/resolve.ts';
import type { Btf, BtfType } from '../btf/types.ts';
import type { CoreRelo } from '../btf/ext.ts';

const essential = (name: string): string => name.replace(/___.*$/, '');

interface Spec {
  /** Byte offset of the accessed field from the root pointer. */
  offset: number;
  /** Id of the accessed field's type (or the root's). */
  type: number;
  bitfield: boolean;
}

/** Follow an access string ("0:1:2") from `root` in `btf`; with `names`, follow members by
 *  the given names instead of indices (for the target side). */
function walk(btf: Btf, root: number, access: readonly number[], names?: readonly (string | undefined)[]): Spec | undefined {
  const rootSize = typeSize(btf, root);
  if (rootSize === undefined) return undefined;
  let offset = access[0] * rootSize;
  let id = root;
  let bitfield = false;
  for (let i = 1; i < access.length; i++) {
    const t = typeById(btf, skipModifiers(btf, id));
    if (t.kind === 'STRUCT' || t.kind === 'UNION') {
      // Anonymous members have no name to match by: take the same position.
      const m = names && names[i] ? findMember(btf, t, names[i]) : t.members[access[i]];
      if (!m) return undefined;
      offset += Math.floor(m.bitOffset / 8);
      bitfield = m.bitfieldSize !== 0;
      id = m.type;
    } else if (t.kind === 'ARRAY') {
      const es = typeSize(btf, t.type);
      if (es === undefined) return undefined;
      offset += access[i] * es;
      id = t.type;
    } else {
      return undefined;
    }
  }
  return { offset, type: id, bitfield };
}

function findMember(btf: Btf, t: BtfType & { members: readonly { name: string; type: number; bitOffset: number; bitfieldSize: number }[] }, name: string | undefined) {
  return name === undefined ? undefined : t.members.find((m) => m.name === name);
}

/** Names of the members the local access string goes through (undefined for array steps). */
function memberNames(btf: Btf, root: number, access: readonly number[]): (string | undefined)[] {
  const out: (string | undefined)[] = [undefined];
  let id = root;
  for (let i = 1; i < access.length; i++) {
    const t = typeById(btf, skipModifiers(btf, id));
    if (t.kind === 'STRUCT' || t.kind === 'UNION') {
      const m = t.members[access[i]];
      out.push(m?.name);
      id = m?.type ?? 0;
    } else if (t.kind === 'ARRAY') {
      out.push(undefined);
      id = t.type;
    } else {
      out.push(undefined);
    }
  }
  return out;
}

function targetCandidates(local: Btf, target: Btf, root: number): number[] {
  const lt = typeById(local, skipModifiers(local, root));
  const name = essential(lt.name);
  if (!name) return [];
  return idsByName(target, name).filter((id) => target.types[id].kind === lt.kind);
}

/** The value a relocation resolves to, or undefined when it cannot be resolved. */
export function coreValue(local: Btf, target: Btf, r: CoreRelo): number | undefined {
  const access = r.access.split(':').map(Number);
  if (access.some((n) => !Number.isInteger(n) || n < 0)) return undefined;
  const cands = targetCandidates(local, target, r.typeId);
  switch (r.kind) {
    case 'TYPE_ID_LOCAL':
      return r.typeId;
    case 'TYPE_ID_TARGET':
      return cands[0];
    case 'TYPE_EXISTS':
    case 'TYPE_MATCHES':
      return cands.length ? 1 : 0;
    case 'TYPE_SIZE':
      return cands.length ? typeSize(target, cands[0]) : undefined;
    case 'FIELD_EXISTS':
    case 'FIELD_BYTE_OFFSET':
    case 'FIELD_BYTE_SIZE':
    case 'FIELD_SIGNED': {
      const names = memberNames(local, r.typeId, access);
      for (const c of cands) {
        const spec = walk(target, c, access, names);
        if (!spec) continue;
        if (r.kind === 'FIELD_EXISTS') return 1;
        if (spec.bitfield) return undefined;
        if (r.kind === 'FIELD_BYTE_OFFSET') return spec.offset;
        if (r.kind === 'FIELD_BYTE_SIZE') return typeSize(target, spec.type);
        const ft = typeById(target, skipModifiers(target, spec.type));
        return ft.kind === 'INT' ? ft.encoding & 1 : ft.kind === 'ENUM' || ft.kind === 'ENUM64' ? (ft.signed ? 1 : 0) : 0;
      }
      return r.kind === 'FIELD_EXISTS' ? 0 : undefined;
    }
    default:
      return undefined;
  }
}

/** Patch one instruction (and, for ld_imm64, its second slot) with a relocated value. */
export function patchCore(slots: RawSlot[], at: number, value: number): boolean {
  const s = slots[at];
  const cls = bpfClass(s.code);
  if (s.code === LD_IMM64) {
    slots[at] = { ...s, imm: value | 0 };
    slots[at + 1] = { ...slots[at + 1], imm: 0 };
    return true;
  }
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    slots[at] = { ...s, imm: value | 0 };
    return true;
  }
  if (cls === BPF_LDX || cls === BPF_STX || cls === BPF_ST) {
    if (value < -0x8000 || value > 0x7fff) return false;
    slots[at] = { ...s, off: value };
    return true;
  }
  return false;
}

/** Which kinds this module computes itself (the rest keep clang's value). */
export const APPLIED_KINDS: ReadonlySet<CoreRelo['kind']> = new Set([
  'TYPE_ID_LOCAL', 'TYPE_ID_TARGET', 'TYPE_EXISTS', 'TYPE_MATCHES', 'TYPE_SIZE',
  'FIELD_EXISTS', 'FIELD_BYTE_OFFSET', 'FIELD_BYTE_SIZE', 'FIELD_SIGNED',
]);
