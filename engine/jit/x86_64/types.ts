// Inputs and outputs of the x86-64 JIT.

import type { Insn } from '../../isa/insn.ts';
import type { ExEntry, Reloc } from './code.ts';
import type { StackArgFrame } from './stack-args.ts';

export type { ExEntry, Reloc, RelocKind } from './code.ts';

/** One BPF function as the JIT sees it: the kernel's `bpf_prog` for a subprog. */
export interface JitFunction {
  /** Post-verifier instructions of this function only (jumps are function-relative). */
  readonly insns: readonly Insn[];
  /** The verifier's stack depth for this function (subprog_info[i].stack_depth). */
  readonly stackDepth: number;
  /** A tail call can be reached from here (the verifier's tail_call_reachable). */
  readonly tailCallReachable: boolean;
  /** Not the entry function: affects the tail-call prologue. */
  readonly isSubprog: boolean;
  /** The main function of a program that can throw (bpf_throw): saves all callee-saved regs. */
  readonly exceptionBoundary?: boolean;
  /** This function is the exception callback. */
  readonly exceptionCb?: boolean;
  /** Native mode, exception boundary: where the prologue records the frame (rsp after the
   *  saves, then rbp) for a native bpf_throw to hand to the callback (native/throw.ts). */
  readonly nativeThrowFrame?: bigint;
  /** Arena programs: kern_vm_start and user_vm_start of the arena. */
  readonly arena?: { readonly kernVmStart: bigint; readonly userVmStart: bigint };
  /** Instruction indices (into `insns`) of tail calls the verifier made direct, with their
   *  poke slot. Every other tail call is indirect. */
  readonly directTailCalls?: ReadonlySet<number>;
  /** Of those, the ones whose prog array slot holds a program when the image is read: the
   *  kernel has patched the jump in (kernel mode; the target address is masked). */
  readonly patchedTailCalls?: ReadonlySet<number>;
  /** Instruction index -> target function index, for bpf-to-bpf calls and
   *  BPF_PSEUDO_FUNC ld_imm64s (the verifier's subprog numbering). */
  readonly subprogRefs?: ReadonlyMap<number, number>;
  /** A classic BPF program converted to eBPF (no tail-call nop in the prologue). */
  readonly wasClassic?: boolean;
  /** Stack arguments (v4 or merged series); absent for plain 6.18. */
  readonly stackArgs?: StackArgFrame;
  /** 6.18: the BPF stack lives in a per-CPU private stack addressed through r9, not below
   *  rbp (the verifier's priv_stack_mode for tracing programs; see private-stack.ts).
   *  Kernel mode only: native mode keeps the stack below rbp. */
  readonly privateStack?: boolean;
}

/** How the image's outside references are produced. */
export type JitMode = 'kernel' | 'native';

/** CPU and kernel configuration that changes the bytes. Defaults match this machine's 6.18
 *  kernel: no IBT/CFI, return thunk, retpoline thunks for indirect jumps, BMI2. */
export interface KernelConfig {
  /** CONFIG_X86_KERNEL_IBT with kCFI off: an endbr64 before the fentry nop and after `mov rbp, rsp`. */
  readonly ibt: boolean;
  /** Returns go through `jmp __x86_return_thunk` instead of `ret`. */
  readonly returnThunk: boolean;
  /** The indirect tail-call jump: retpoline thunk, `lfence; jmp *%rcx`, or plain. */
  readonly indirectJump: 'thunk' | 'lfence' | 'plain';
  /** Shifts by register use shlx/shrx/sarx. */
  readonly bmi2: boolean;
  /** Kernel struct offsets the tail-call sequence reads. */
  readonly layout: StructLayout;
}

export interface StructLayout {
  /** offsetof(struct bpf_array, map.max_entries) */
  readonly arrayMaxEntries: number;
  /** offsetof(struct bpf_array, ptrs) */
  readonly arrayPtrs: number;
  /** offsetof(struct bpf_prog, bpf_func) */
  readonly progBpfFunc: number;
}

/** 6.18.44 x86-64, read from /sys/kernel/btf/vmlinux (bpf_prog's digest grew to 32 bytes,
 *  so bpf_func moved to 72; bpf_map is 296 bytes, so ptrs sits at 312). */
export const LAYOUT_6_18: StructLayout = { arrayMaxEntries: 76, arrayPtrs: 312, progBpfFunc: 72 };

export const DEFAULT_KERNEL_CONFIG: KernelConfig = {
  ibt: false, returnThunk: true, indirectJump: 'thunk', bmi2: true, layout: LAYOUT_6_18,
};

export interface JitOptions {
  readonly mode?: JitMode;
  readonly config?: Partial<KernelConfig>;
  /** Load address of each function image. With them, bpf-to-bpf call offsets and
   *  callback addresses are exact; without them those fields are left 0 and only marked. */
  readonly funcAddrs?: readonly bigint[];
  /** native: address to call for a helper or kfunc call (src_reg, imm as in the insn). */
  readonly callTarget?: (src: number, imm: number) => bigint;
  /** native: the 64-bit value a map ld_imm64 (BPF_PSEUDO_MAP_*) loads, e.g. the runtime's
   *  map handle or a map value's native address. Default: the instruction's own imm64. */
  readonly ldImm64Value?: (insn: Insn) => bigint;
  /** native: address of the LD_ABS/LD_IND reader, called as (offset, size) -> value or < 0. */
  readonly ldAbsTarget?: bigint;
}

export interface JitFuncImage {
  readonly code: Uint8Array;
  /** References to things outside this function image (masked when comparing). */
  readonly relocs: readonly Reloc[];
  /** Exception table: the PROBE_MEM32 / PROBE_MEM32SX / PROBE_ATOMIC accesses whose faults
   *  are fixed up (native runs install it in a signal handler, engine/jit/native/fault.ts). */
  readonly extable?: readonly ExEntry[];
  /** Byte offset where each instruction (by index into `insns`) starts; last = image end. */
  readonly insnOffsets: readonly number[];
  /** Passes it took to converge (including the final emitting pass). */
  readonly passes: number;
}

export interface JitImage {
  readonly funcs: readonly JitFuncImage[];
  /** All function images back to back, like jited_prog_insns. */
  readonly code: Uint8Array;
  /** Like jited_func_lens. */
  readonly funcLens: readonly number[];
}

/** The JIT cannot translate the program (the kernel would fall back or reject it). */
export class JitError extends Error {
  constructor(message: string, readonly insnIndex?: number) {
    super(message);
    this.name = 'JitError';
  }
}
