// Helpers that call back into the program (calls/callback.ts explores the callbacks).

import { Arg, Ret } from './protos.ts';
import type { HelperProto } from './protos.ts';

const TRACING = ['KPROBE', 'TRACEPOINT', 'PERF_EVENT', 'RAW_TRACEPOINT', 'RAW_TRACEPOINT_WRITABLE', 'TRACING', 'LSM'];

export function callbackProtos(): readonly HelperProto[] {
  const cb = [Arg.CONST_MAP_PTR, Arg.PTR_TO_FUNC, Arg.PTR_TO_STACK_OR_NULL, Arg.ANYTHING];
  return [
    // In bpf_base_func_proto for CAP_BPF loaders: every program type.
    { id: 164, args: cb, ret: Ret.INTEGER, progTypes: '*', cap: 'bpf' }, // for_each_map_elem
    { id: 181, args: [Arg.ANYTHING, Arg.PTR_TO_FUNC, Arg.PTR_TO_STACK_OR_NULL, Arg.ANYTHING], ret: Ret.INTEGER, progTypes: '*', cap: 'bpf' }, // loop
    { id: 209, args: cb, ret: Ret.INTEGER, progTypes: '*', cap: 'bpf' }, // user_ringbuf_drain
    // bpf_timer_init(timer, map, clock id), _set_callback(timer, cb), _start(timer, nsecs,
    // flags), _cancel(timer): GPL, in bpf_base_func_proto for CAP_BPF loaders.
    { id: 169, args: [Arg.PTR_TO_TIMER, Arg.CONST_MAP_PTR, Arg.ANYTHING], ret: Ret.INTEGER, gplOnly: true, progTypes: '*', cap: 'bpf' },
    { id: 170, args: [Arg.PTR_TO_TIMER, Arg.PTR_TO_FUNC], ret: Ret.INTEGER, gplOnly: true, progTypes: '*', cap: 'bpf' },
    { id: 171, args: [Arg.PTR_TO_TIMER, Arg.ANYTHING, Arg.ANYTHING], ret: Ret.INTEGER, gplOnly: true, progTypes: '*', cap: 'bpf' },
    { id: 172, args: [Arg.PTR_TO_TIMER], ret: Ret.INTEGER, gplOnly: true, progTypes: '*', cap: 'bpf' },
    // bpf_tracing_func_proto only.
    { id: 180, args: [Arg.PTR_TO_BTF_ID_TASK, Arg.ANYTHING, Arg.PTR_TO_FUNC, Arg.PTR_TO_STACK_OR_NULL, Arg.ANYTHING], ret: Ret.INTEGER, progTypes: TRACING }, // find_vma
  ];
}
