// Public API of the x86-64 JIT: translate post-verifier BPF the way the 6.18 kernel's
// arch/x86/net/bpf_jit_comp.c does. See docs/jit-x86-64.md for the register map and frame.

export { jitProgram, MAX_PASSES, PADDING_PASSES } from './compile.ts';
export { fromXlated, type XlatedInfo } from './xlated.ts';
export { maskedImage, compareImages, type ImageDiff } from './compare.ts';
export {
  DEFAULT_KERNEL_CONFIG, JitError, LAYOUT_6_18,
  type JitFuncImage, type JitFunction, type JitImage, type JitMode, type JitOptions, type KernelConfig,
  type Reloc, type RelocKind, type StructLayout,
} from './types.ts';
export { BPF_TO_X86, X86 } from './regs.ts';
export { MAX_TAIL_CALL_CNT, tailCallOffset } from './frame.ts';
export { replayKernelJit, type KernelJitRecord, type Replay } from './replay.ts';
export { recoverFromImage, withArena, firstDivergence } from './recover.ts';
export { withPrivateStack, privateStackAllowed, PRIV_STACK_MIN_SIZE } from './private-stack.ts';
