// The seq_file helpers of iterator programs (6.18 tracing_prog_func_proto: offered to
// TRACING programs only when they are iterators, expected_attach_type TRACE_ITER): they
// print into the seq_file an iterator is handed in its ctx (ctx->meta->seq).

import { Arg, Ret } from './protos.ts';
import type { HelperProto } from './protos.ts';

export function seqProtos(): readonly HelperProto[] {
  // Built on call: protos.ts imports this file, so its kinds are not ready at load time.
  const ITER = { progTypes: ['TRACING'], attachTypes: ['TRACE_ITER'], gplOnly: true, ret: Ret.INTEGER } as const;
  return [
    { id: 126, args: [Arg.PTR_TO_BTF_ID_SEQ_FILE, Arg.PTR_TO_MEM_RDONLY, Arg.CONST_SIZE, Arg.PTR_TO_MEM_RDONLY_OR_NULL, Arg.CONST_SIZE_OR_ZERO], ...ITER }, // seq_printf
    { id: 127, args: [Arg.PTR_TO_BTF_ID_SEQ_FILE, Arg.PTR_TO_MEM_RDONLY, Arg.CONST_SIZE_OR_ZERO], ...ITER }, // seq_write
    { id: 128, args: [Arg.PTR_TO_BTF_ID_SEQ_FILE, Arg.PTR_TO_MEM_RDONLY, Arg.CONST_SIZE_OR_ZERO, Arg.ANYTHING], ...ITER }, // seq_printf_btf
  ];
}
