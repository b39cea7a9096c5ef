// bpf_testmod's many-argument kfuncs (merged selftests, prog_tests/stack_arg.c "kfunc"):
// each sums its scalar arguments and adds something read through its pointer argument, so a
// wrong stack-arg layout shows up as a wrong sum. Arguments come from r1..r5 and the
// series' stack-arg slots (engine/runtime/stack-args.ts callArgs).

import type { KfuncFn, Machine } from '../machine.ts';
import { RuntimeFault } from '../memory.ts';
import { callArgs } from '../stack-args.ts';
import { DYNPTR_SIZE_MASK, dynptrView } from './dynptr.ts';
import { sumU64, viewAt } from './mem.ts';
import { ITER_VALUE_OFF } from './testmod.ts';

/** struct prog_test_pass1 { int x0; struct { int x1; ... } }: x0 at 0, x1 at 4. */
const PASS1 = { x0: 0, x1: 4 } as const;

const s32 = (m: Machine, p: bigint, off: number): bigint => BigInt(viewAt(m, p, off + 4).getInt32(off, true));

/** A kfunc of `nargs` arguments whose result is the sum of the scalars plus `extra(ptr args)`. */
function summing(nargs: number, scalarIdx: readonly number[], extra: (m: Machine, args: bigint[]) => bigint = () => 0n): KfuncFn {
  return (m) => {
    const args = callArgs(m, nargs);
    m.setR0(BigInt.asUintN(64, sumU64(scalarIdx.map((i) => args[i])) + extra(m, args)));
  };
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

export const STACK_ARG_KFUNCS: Readonly<Record<string, KfuncFn>> = {
  // a + ... + j
  bpf_kfunc_call_stack_arg: summing(10, range(10)),
  // a + ... + i + p->x0 + p->x1
  bpf_kfunc_call_stack_arg_ptr: summing(10, range(9), (m, a) => s32(m, a[9], PASS1.x0) + s32(m, a[9], PASS1.x1)),
  // a + ... + g + p->x0 + h + q->x1
  bpf_kfunc_call_stack_arg_mix: summing(10, [0, 1, 2, 3, 4, 5, 6, 8], (m, a) => s32(m, a[7], PASS1.x0) + s32(m, a[9], PASS1.x1)),
  // a + ... + i + the dynptr's size
  bpf_kfunc_call_stack_arg_dynptr: summing(10, range(9), (m, a) => BigInt(dynptrView(m, a[9]).getUint32(8, true) & DYNPTR_SIZE_MASK)),
  // a + ... + e + every byte of mem[0, mem__sz)
  bpf_kfunc_call_stack_arg_mem: summing(7, range(5), (m, a) => bytesSum(m, a[5], a[6])),
  // a + ... + i + it->value
  bpf_kfunc_call_stack_arg_iter: summing(10, range(9), (m, a) => viewAt(m, a[9], ITER_VALUE_OFF + 8).getBigInt64(ITER_VALUE_OFF, true)),
  // a + ... + i (the string and the timer are only checked by the verifier)
  bpf_kfunc_call_stack_arg_const_str: summing(10, range(9)),
  bpf_kfunc_call_stack_arg_timer: summing(10, range(9)),
  // A by-value struct argument has no agreed stack-arg encoding (merged rejects it).
  bpf_kfunc_call_stack_arg_big: () => {
    throw new RuntimeFault('bpf_kfunc_call_stack_arg_big: by-value struct arguments are not supported');
  },
  // Ours (docs/series.md): plain sums, so layouts of 12 args and the mem/size split are checked.
  bpf_kfunc_call_stack_arg_8: summing(8, range(8)),
  bpf_kfunc_call_stack_arg_9: summing(9, range(9)),
  bpf_kfunc_call_stack_arg_12: summing(12, range(12)),
  bpf_kfunc_call_stack_arg_13: summing(13, range(13)),
  bpf_kfunc_call_stack_arg_release: summing(6, range(5)),
  bpf_kfunc_call_stack_arg_prog_aux: summing(6, range(5)),
  bpf_kfunc_call_stack_arg_const: summing(6, range(6)),
  // a + b + c + d + every byte of mem[0, mem__sz): mem in r5, its size in the first slot
  bpf_kfunc_call_stack_arg_mem_split: summing(6, range(4), (m, a) => bytesSum(m, a[4], a[5])),
};

function bytesSum(m: Machine, p: bigint, size: bigint): bigint {
  const n = Number(BigInt.asIntN(32, size));
  if (n <= 0) return 0n;
  const v = viewAt(m, p, n);
  let s = 0n;
  for (let i = 0; i < n; i++) s += BigInt(v.getUint8(i));
  return s;
}
