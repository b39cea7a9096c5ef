// Helpers that return pointers to kernel structs (RET_PTR_TO_BTF_ID_TRUSTED): the result is
// a trusted BTF pointer to the named vmlinux struct.

import { Ret } from './protos.ts';
import type { HelperProto } from './protos.ts';

export function btfPtrProtos(): readonly HelperProto[] {
  return [
    // 6.18: in the base set for perfmon-capable loaders, so every program type.
    { id: 158, args: [], ret: Ret.PTR_TO_BTF_ID_TRUSTED, retBtfStruct: 'task_struct', gplOnly: true, progTypes: '*' }, // get_current_task_btf
  ];
}
