// Helpers that write into memory the program passes: the base set's string-to-number
// helpers (every program type, no capability needed: a read-only buffer and its size,
// flags, an aligned u64 for the result), check_mtu (tc and xdp: the mtu is read and
// written back through an aligned u32), and the stack-trace helpers of the tracing types
// (a buffer filled up to its size; the result is the bytes copied or -errno).

import { Arg, Ret } from './protos.ts';
import type { HelperProto } from './protos.ts';

const STACK_TYPES = ['KPROBE', 'TRACEPOINT', 'PERF_EVENT', 'RAW_TRACEPOINT', 'RAW_TRACEPOINT_WRITABLE', 'TRACING', 'LSM'];

const strto = (id: number): HelperProto =>
  ({ id, args: [Arg.PTR_TO_MEM_RDONLY, Arg.CONST_SIZE, Arg.ANYTHING, Arg.PTR_TO_LONG], ret: Ret.INTEGER, progTypes: '*' });

export function stringProtos(): readonly HelperProto[] {
  return [
    strto(105), // strtol
    strto(106), // strtoul
    { id: 163, args: [Arg.PTR_TO_CTX, Arg.ANYTHING, Arg.PTR_TO_U32_INOUT, Arg.ANYTHING, Arg.ANYTHING], ret: Ret.INTEGER, progTypes: ['SCHED_CLS', 'SCHED_ACT', 'XDP'] }, // check_mtu
    { id: 67, args: [Arg.PTR_TO_CTX, Arg.PTR_TO_UNINIT_MEM, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING], ret: Ret.INTEGER, gplOnly: true, progTypes: STACK_TYPES }, // get_stack
    { id: 141, args: [Arg.PTR_TO_BTF_ID_TASK, Arg.PTR_TO_UNINIT_MEM, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING], ret: Ret.INTEGER, progTypes: ['TRACING', 'LSM'] }, // get_task_stack
  ];
}
