// bpf_testmod's own types as the verifier sees them once the module is loaded: module BTF is
// split BTF, so its ids continue after vmlinux's. The kernel selftests run with bpf_testmod
// loaded, and the stack-argument kfuncs (kfuncs.ts) name some of its types by pointer. Only
// the types whose layout the verifier reasons about are here.

import type { Btf, BtfType } from '../btf/index.ts';
import { idsByName } from '../btf/index.ts';

/** The opaque iterator programs hold on their stack (bpf_testmod.c: two anonymous 64-bit
 *  bitfields, 16 bytes, i.e. two stack slots). */
export const TESTMOD_ITER_STRUCT = 'bpf_iter_testmod_seq';

const u64Id = (base: Btf): number => {
  const id = idsByName(base, 'long long unsigned int').find((i) => base.types[i].kind === 'INT');
  if (id === undefined) throw new RangeError('base BTF has no `long long unsigned int`');
  return id;
};

/** `base` (vmlinux) with bpf_testmod's types appended after its last id. */
export function withTestmodTypes(base: Btf): Btf {
  const u64 = u64Id(base);
  const next = base.types.length;
  const added: BtfType[] = [
    {
      id: next, name: TESTMOD_ITER_STRUCT, kind: 'STRUCT', size: 16,
      members: [
        { name: '', type: u64, bitOffset: 0, bitfieldSize: 64 },
        { name: '', type: u64, bitOffset: 64, bitfieldSize: 64 },
      ],
    },
  ];
  return { types: [...base.types, ...added], baseCount: base.types.length, strLen: base.strLen, str: base.str };
}
