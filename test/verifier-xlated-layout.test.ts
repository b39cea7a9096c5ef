// The 6.18 kernel struct offsets the xlated rewrites bake in (engine/verifier/fixup/layout.ts)
// against the running kernel's BTF, when there is one. Members are found through anonymous
// structs/unions; a dotted path descends into named members.

import t from 'tap';
import { vmlinuxBtf } from '../engine/btf/vmlinux.ts';
import { findByName, membersOf, skipModifiers, typeById } from '../engine/btf/resolve.ts';
import type { Btf } from '../engine/btf/types.ts';
import { ALL_FIELDS } from '../engine/verifier/fixup/layout.ts';

/** Byte offset of `path` inside struct `name`, or undefined. */
function offsetOf(btf: Btf, name: string, path: string): number | undefined {
  const st = findByName(btf, name, 'STRUCT');
  if (!st) return undefined;
  let typeId = st.id;
  let bits = 0;
  for (const part of path.split('.')) {
    const walk = (id: number, base: number): { bits: number; type: number } | undefined => {
      for (const m of membersOf(btf, id) ?? []) {
        if (m.name === part) return { bits: base + m.bitOffset, type: m.type };
        if (m.name === '') {
          const r = walk(m.type, base + m.bitOffset);
          if (r) return r;
        }
      }
      return undefined;
    };
    const r = walk(typeId, bits);
    if (!r) return undefined;
    bits = r.bits;
    typeId = skipModifiers(btf, r.type);
  }
  return bits % 8 === 0 ? bits / 8 : undefined;
}

const btf = (() => {
  try {
    return vmlinuxBtf();
  } catch {
    return undefined;
  }
})();

t.test('fixup layout matches the running kernel BTF', { skip: btf ? false : 'no /sys/kernel/btf/vmlinux' }, async (tt) => {
  for (const f of ALL_FIELDS) tt.equal(offsetOf(btf!, f.struct, f.path), f.off, `${f.struct}.${f.path}`);
});

t.test('the lookup would notice a wrong entry', { skip: btf ? false : 'no /sys/kernel/btf/vmlinux' }, async (tt) => {
  tt.not(offsetOf(btf!, 'sk_buff', 'len'), 113);
  tt.equal(offsetOf(btf!, 'sk_buff', 'no_such_member'), undefined);
  tt.ok(typeById(btf!, findByName(btf!, 'sk_buff', 'STRUCT')!.id));
});
