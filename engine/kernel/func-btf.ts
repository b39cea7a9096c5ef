// A synthetic program BTF + func_info for programs with global subprograms. The kernel
// verifies a global function on its own against its BTF prototype, so without func_info it
// would treat it as static. Static-only programs need neither (kernel-oracle notes), and we
// pass none for them.
//
// The BTF is the least that makes the kernel see the prototypes FuncDef describes: per
// parameter an INT of the C type's size, or a PTR to an INT / to an empty STRUCT with the C
// struct's name (enough for the kernel to recognise a context argument such as
// `struct __sk_buff *`, or find a trusted `struct task_struct *` in vmlinux: both go by
// name), typedefs the running kernel knows kept by name; one FUNC_PROTO and one FUNC per
// subprogram, in start order; a DECL_TAG per parameter tag (`arg:ctx`, `arg:trusted`, ...).

import type { FuncDef, Program } from '../program/types.ts';
import { BPF_CALL, BPF_JMP, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, LD_IMM64, bpfClass, bpfOp } from '../isa/opcodes.ts';
import { slotOffsets } from '../isa/insn.ts';
import { BtfWriter } from './btf-writer.ts';

export interface FuncBtf {
  readonly btf: Uint8Array;
  /** struct bpf_func_info records {insn_off, type_id}. */
  readonly funcInfo: Uint8Array;
  readonly funcInfoCnt: number;
  readonly funcInfoRecSize: 8;
}

/** Slot indices where subprograms start: 0, every bpf-to-bpf call target, every
 *  BPF_PSEUDO_FUNC ld_imm64 target, and every FuncDef start. */
export function subprogStarts(prog: Program): number[] {
  const at = slotOffsets(prog.insns);
  const starts = new Set<number>([0, ...prog.funcs.map((f) => f.start)]);
  prog.insns.forEach((insn, i) => {
    const isCall = bpfClass(insn.code) === BPF_JMP && bpfOp(insn.code) === BPF_CALL && insn.src === BPF_PSEUDO_CALL;
    const isFuncRef = insn.code === LD_IMM64 && insn.src === BPF_PSEUDO_FUNC;
    if (isCall || isFuncRef) starts.add(at[i] + insn.imm + 1);
  });
  return [...starts].sort((a, b) => a - b);
}

/** BTF + func_info when some subprogram after the main one is global, or always with
 *  `always` (a libbpf object built with -g carries func_info for every program); undefined
 *  otherwise. */
export function funcBtfFor(prog: Program, always = false): FuncBtf | undefined {
  if (!always && !prog.funcs.some((f) => f.start > 0 && f.linkage === 'global')) return undefined;
  const byStart = new Map(prog.funcs.map((f) => [f.start, f]));
  const funcs: FuncDef[] = subprogStarts(prog).map((start) =>
    byStart.get(start) ?? { start, name: start === 0 ? 'main' : `sub_${start}`, linkage: 'static' });

  const w = new BtfWriter();
  const intId = w.int('int', 4, true);
  const ids: number[] = [];
  for (const f of funcs) {
    const params = (f.params ?? []).map((p) => ({ name: cIdent(p.name), type: w.cType(p.type) }));
    const ret = f.ret === undefined ? intId : w.cType(f.ret);
    const id = w.func(cIdent(f.name), w.proto(ret, params), f.linkage === 'global' ? 1 : 0);
    // __arg_ctx, __arg_trusted, ...: decl tags on the FUNC, one per parameter and tag.
    (f.params ?? []).forEach((p, i) => p.tags?.forEach((tag) => w.declTag(tag, id, i)));
    // Tags on the function itself (component_idx -1), e.g. exception_callback:<name>.
    f.tags?.forEach((tag) => w.declTag(tag, id, -1));
    ids.push(id);
  }
  const funcInfo = new Uint8Array(funcs.length * 8);
  const dv = new DataView(funcInfo.buffer);
  funcs.forEach((f, i) => {
    dv.setUint32(i * 8, f.start, true);
    dv.setUint32(i * 8 + 4, ids[i], true);
  });
  return { btf: w.finish(), funcInfo, funcInfoCnt: funcs.length, funcInfoRecSize: 8 };
}

const cIdent = (name: string): string => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_'));
