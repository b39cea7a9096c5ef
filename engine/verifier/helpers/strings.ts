// Helpers that write a number through a fixed-size pointer argument: the base set's
// string-to-number helpers (every program type, no capability needed: a read-only buffer
// and its size, flags, an aligned u64 for the result) and check_mtu (tc and xdp: the mtu
// is read and written back through an aligned u32).

import { Arg, Ret } from './protos.ts';
import type { HelperProto } from './protos.ts';

const strto = (id: number): HelperProto =>
  ({ id, args: [Arg.PTR_TO_MEM_RDONLY, Arg.CONST_SIZE, Arg.ANYTHING, Arg.PTR_TO_LONG], ret: Ret.INTEGER, progTypes: '*' });

export function stringProtos(): readonly HelperProto[] {
  return [
    strto(105), // strtol
    strto(106), // strtoul
    { id: 163, args: [Arg.PTR_TO_CTX, Arg.ANYTHING, Arg.PTR_TO_U32_INOUT, Arg.ANYTHING, Arg.ANYTHING], ret: Ret.INTEGER, progTypes: ['SCHED_CLS', 'SCHED_ACT', 'XDP'] }, // check_mtu
  ];
}
