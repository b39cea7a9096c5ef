// The built-in kfunc declarations: the many-argument kfuncs of bpf_testmod that the stack-arg
// selftests call (stack-args.md §5.2), the few kernel kfuncs those programs also need, and a
// handful of our own kfuncs that exist only to exercise one verifier rule each. They are
// plain data in the shape of a spec's `kfuncs:` entry (harness/spec/types.ts KfuncSpec minus
// its source position), with fixed synthetic BTF ids: a spec declares a kfunc with the same
// name and btf_id, and the interpreter finds the implementation (engine/runtime/kfuncs/) by
// that id. test/runtime-kfunc-decls.test.ts keeps the two in step.

/** KF_* bits used here (6.18 include/linux/btf.h values; harness/spec/values.ts KF_FLAGS). */
export const KF = {
  KF_ACQUIRE: 1 << 0,
  KF_RELEASE: 1 << 1,
  KF_RET_NULL: 1 << 2,
  KF_ITER_NEW: 1 << 8,
  KF_ITER_NEXT: 1 << 9,
  KF_ITER_DESTROY: 1 << 10,
} as const;
export type KfFlagName = keyof typeof KF;

export interface KfuncParamDecl {
  readonly name: string;
  readonly type: string;
  /** The argument annotation the name carries (`mem__sz` -> "__sz"). */
  readonly suffix?: string;
}

/** One kfunc prototype, as a spec's `kfuncs:` entry declares it. */
export interface KfuncDecl {
  readonly name: string;
  readonly params: readonly KfuncParamDecl[];
  readonly ret: string;
  readonly flags: readonly KfFlagName[];
  readonly flagBits: number;
  readonly btfId: number;
  /** Where the kfunc comes from: bpf_testmod, the kernel, or ours (a rule probe). */
  readonly origin: 'bpf_testmod' | 'kernel' | 'bpfconform';
}

/** First synthetic BTF id; ids are dense from here in table order. */
export const KFUNC_BTF_ID_BASE = 0x7e0001;

const SUFFIXES = ['__szk', '__sz', '__k', '__iter', '__str', '__uninit', '__prog', '__nullable'] as const;

function param(spec: string): KfuncParamDecl {
  const at = spec.indexOf(':');
  const name = spec.slice(0, at).trim();
  const type = spec.slice(at + 1).trim();
  const suffix = SUFFIXES.find((s) => name.endsWith(s) && name.length > s.length);
  return { name, type, ...(suffix ? { suffix } : {}) };
}

/** n scalar u64 parameters named a, b, c, ... */
const scalars = (n: number): string[] => Array.from({ length: n }, (_, i) => `${String.fromCharCode(97 + i)}: u64`);

type Row = readonly [name: string, params: readonly string[], ret: string, flags: readonly KfFlagName[], origin: KfuncDecl['origin']];

// Order fixes the BTF ids: append only.
const ROWS: readonly Row[] = [
  // bpf_testmod many-argument kfuncs (merged selftests: prog_tests/stack_arg.c "kfunc").
  ['bpf_kfunc_call_stack_arg', scalars(10), 'u64', [], 'bpf_testmod'],
  ['bpf_kfunc_call_stack_arg_ptr', [...scalars(9), 'p: struct prog_test_pass1 *'], 'u64', [], 'bpf_testmod'],
  ['bpf_kfunc_call_stack_arg_mix', [...scalars(7), 'p: struct prog_test_pass1 *', 'h: u64', 'q: struct prog_test_pass1 *'], 'u64', [], 'bpf_testmod'],
  ['bpf_kfunc_call_stack_arg_dynptr', [...scalars(9), 'ptr: struct bpf_dynptr *'], 'u64', [], 'bpf_testmod'],
  ['bpf_kfunc_call_stack_arg_mem', [...scalars(5), 'mem: void *', 'mem__sz: int'], 'u64', [], 'bpf_testmod'],
  ['bpf_kfunc_call_stack_arg_iter', [...scalars(9), 'it__iter: struct bpf_iter_testmod_seq *'], 'u64', [], 'bpf_testmod'],
  ['bpf_kfunc_call_stack_arg_const_str', [...scalars(9), 'str__str: const char *'], 'u64', [], 'bpf_testmod'],
  ['bpf_kfunc_call_stack_arg_timer', [...scalars(9), 'timer: struct bpf_timer *'], 'u64', [], 'bpf_testmod'],
  ['bpf_kfunc_call_stack_arg_big', [...scalars(5), 's: struct prog_test_big_arg'], 'u64', [], 'bpf_testmod'],
  // Companions the selftest programs call.
  ['bpf_iter_testmod_seq_new', ['it: struct bpf_iter_testmod_seq *', 'value: s64', 'cnt: int'], 'int', ['KF_ITER_NEW'], 'bpf_testmod'],
  ['bpf_iter_testmod_seq_next', ['it: struct bpf_iter_testmod_seq *'], 's64 *', ['KF_ITER_NEXT', 'KF_RET_NULL'], 'bpf_testmod'],
  ['bpf_iter_testmod_seq_destroy', ['it: struct bpf_iter_testmod_seq *'], 'void', ['KF_ITER_DESTROY'], 'bpf_testmod'],
  ['bpf_kfunc_call_test_acquire', ['scalar_ptr: unsigned long *'], 'struct prog_test_ref_kfunc *', ['KF_ACQUIRE', 'KF_RET_NULL'], 'bpf_testmod'],
  ['bpf_kfunc_call_test_release', ['p: struct prog_test_ref_kfunc *'], 'void', ['KF_RELEASE'], 'bpf_testmod'],
  // Kernel kfuncs (6.18 kernel/bpf/helpers.c, net/core/filter.c).
  ['bpf_dynptr_from_skb', ['s: struct __sk_buff *', 'flags: u64', 'ptr__uninit: struct bpf_dynptr *'], 'int', [], 'kernel'],
  ['bpf_dynptr_adjust', ['p: const struct bpf_dynptr *', 'start: u32', 'end: u32'], 'int', [], 'kernel'],
  ['bpf_dynptr_size', ['p: const struct bpf_dynptr *'], 'u32', [], 'kernel'],
  // Ours: one rule each (the seed's rejections and limits), see docs/series.md.
  ['bpf_kfunc_call_stack_arg_13', scalars(13), 'u64', [], 'bpfconform'],
  ['bpf_kfunc_call_stack_arg_12', scalars(12), 'u64', [], 'bpfconform'],
  ['bpf_kfunc_call_stack_arg_release', [...scalars(5), 'p: struct prog_test_ref_kfunc *'], 'u64', ['KF_RELEASE'], 'bpfconform'],
  ['bpf_kfunc_call_stack_arg_prog_aux', [...scalars(5), 'aux__prog: struct bpf_prog_aux *'], 'u64', [], 'bpfconform'],
  ['bpf_kfunc_call_stack_arg_const', [...scalars(5), 'val__k: u64'], 'u64', [], 'bpfconform'],
  ['bpf_kfunc_call_stack_arg_mem_split', [...scalars(4), 'mem: void *', 'mem__sz: int'], 'u64', [], 'bpfconform'],
  // The seed's worked example: kfunc1 takes 8 args, kfunc2 takes 9.
  ['bpf_kfunc_call_stack_arg_8', scalars(8), 'u64', [], 'bpfconform'],
  ['bpf_kfunc_call_stack_arg_9', scalars(9), 'u64', [], 'bpfconform'],
];

function flagBits(flags: readonly KfFlagName[]): number {
  return flags.reduce((bits, f) => bits | KF[f], 0);
}

export const BUILTIN_KFUNCS: readonly KfuncDecl[] = ROWS.map(([name, params, ret, flags, origin], i) => ({
  name,
  params: params.map(param),
  ret,
  flags,
  flagBits: flagBits(flags),
  btfId: KFUNC_BTF_ID_BASE + i,
  origin,
}));

const BY_NAME = new Map(BUILTIN_KFUNCS.map((k) => [k.name, k]));
const BY_ID = new Map(BUILTIN_KFUNCS.map((k) => [k.btfId, k]));

export function builtinKfunc(name: string): KfuncDecl | undefined {
  return BY_NAME.get(name);
}

export function builtinKfuncById(btfId: number): KfuncDecl | undefined {
  return BY_ID.get(btfId);
}

/** The YAML a spec's `kfuncs:` section needs to declare `names` (for writing specs). */
export function kfuncsYaml(names: readonly string[], indent = '  '): string {
  return names
    .map((n) => {
      const k = BY_NAME.get(n);
      if (!k) throw new RangeError(`no built-in kfunc ${n}`);
      const params = k.params.map((p) => `${p.name}: ${p.type}`).join(', ');
      return `${indent}${k.name}:\n${indent}  params: [${params}]\n${indent}  ret: ${k.ret}\n${indent}  flags: [${k.flags.join(', ')}]\n${indent}  btf_id: ${k.btfId}\n`;
    })
    .join('');
}
