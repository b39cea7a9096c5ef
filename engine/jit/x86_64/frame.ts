// Function entry and exit sequences: prologue, epilogue, callee-saved register handling and
// the two tail-call sequences. These are fixed shapes the kernel JIT lays down around the
// translated body; the tail-call offset into a target's image depends on their exact size.

import { Code, memOperand, nops, rex, movImm64 } from './code.ts';
import { CALLEE_SAVED, X86, REG_ARENA, isExt, low3 } from './regs.ts';
import type { JitFunction, KernelConfig, JitMode } from './types.ts';
import { hasMayGoto, initMayGoto } from './native.ts';
import { mergedOutgoingRsp } from './stack-args.ts';

/** MAX_TAIL_CALL_CNT (6.18 include/linux/bpf.h). */
export const MAX_TAIL_CALL_CNT = 33;
/** The 5-byte patchable slot at function entry (fentry / trampoline attach point). */
export const PATCH_SIZE = 5;
const ENDBR64 = [0xf3, 0x0f, 0x1e, 0xfa];

/** Bytes a tail call skips in the target: fentry nop + tail-call nop/xor + push rbp + mov
 *  rbp,rsp (+ endbr with IBT). The target's own prologue re-runs from the stack setup. */
export const tailCallOffset = (cfg: KernelConfig): number => 12 + (cfg.ibt ? 4 : 0);

/** `sub rsp, N` amount: the verifier's depth rounded to 8. */
export const frameSize = (stackDepth: number): number => (stackDepth + 7) & ~7;

/** rbp-relative slot holding the tail-call counter pointer (below the BPF stack). */
export const tailCallCntPtrOff = (stackDepth: number): number => -16 - frameSize(stackDepth);

/** Which of r6..r9 the function names anywhere (as dst or src of any instruction). The kernel
 *  saves only those, so a program that never touches r6 has no `push rbx`. */
export function calleeSavedUsed(fn: JitFunction): boolean[] {
  const used = [false, false, false, false];
  for (const insn of fn.insns) {
    for (let k = 0; k < 4; k++) if (insn.dst === 6 + k || insn.src === 6 + k) used[k] = true;
  }
  return used;
}

const ALL_USED = [true, true, true, true];

export function pushCalleeSaved(c: Code, used: readonly boolean[]): void {
  CALLEE_SAVED.forEach((r, k) => {
    if (!used[k]) return;
    if (isExt(r.x86)) c.b(0x41);
    c.b(0x50 + low3(r.x86));
  });
}

export function popCalleeSaved(c: Code, used: readonly boolean[]): void {
  for (let k = CALLEE_SAVED.length - 1; k >= 0; k--) {
    if (!used[k]) continue;
    const r = CALLEE_SAVED[k].x86;
    if (isExt(r)) c.b(0x41);
    c.b(0x58 + low3(r));
  }
}

const pushR12 = (c: Code): void => void c.b(0x41, 0x54);
const popR12 = (c: Code): void => void c.b(0x41, 0x5c);

/** Registers saved below the frame, as the epilogue and the tail calls must undo them. */
export interface SavedRegs {
  readonly calleeSaved: readonly boolean[];
  readonly r12: boolean;
}

/** Bytes the saved registers take below the frame (merged's callee_saved_size). */
export function savedBytes(fn: JitFunction): number {
  const s = savedRegs(fn);
  return 8 * (s.calleeSaved.filter(Boolean).length + (s.r12 ? 1 : 0));
}

/** merged: the outgoing stack-arg area below the saved registers [merged]. */
function mergedOutgoing(fn: JitFunction, mode: JitMode): number {
  return fn.stackArgs?.series === 'merged' ? mergedOutgoingRsp(fn.stackArgs, mode === 'native') : 0;
}

export function savedRegs(fn: JitFunction): SavedRegs {
  if (fn.exceptionBoundary) return { calleeSaved: ALL_USED, r12: true };
  return { calleeSaved: calleeSavedUsed(fn), r12: !!fn.arena };
}

function restoreSaved(c: Code, saved: SavedRegs): void {
  popCalleeSaved(c, saved.calleeSaved);
  if (saved.r12) popR12(c);
}

/** Everything before the first instruction's code. */
export function prologue(fn: JitFunction, cfg: KernelConfig, mode: JitMode, stackDepth: number): Code {
  const c = new Code();
  if (cfg.ibt && mode === 'kernel') c.b(...ENDBR64);
  nops(c, PATCH_SIZE);
  if (!fn.wasClassic) {
    // The tail-call counter starts at 0 in rax for the entry of a tail-call context; every
    // other function keeps the same layout with a 3-byte nop.
    if (fn.tailCallReachable && !fn.isSubprog) c.b(0x48, 0x31, 0xc0);
    else nops(c, 3);
  }
  if (fn.exceptionCb) {
    // The exception callback reuses the main frame: rsp <- rsi, rbp <- rdx, then restore.
    c.b(0x48, 0x89, 0xf4, 0x48, 0x89, 0xd5);
    popCalleeSaved(c, ALL_USED);
    popR12(c);
    c.b(0x48, 0x89, 0xec);
  } else {
    c.b(0x55, 0x48, 0x89, 0xe5);
  }
  if (cfg.ibt && mode === 'kernel') c.b(...ENDBR64);
  if (stackDepth) c.b(0x48, 0x81, 0xec).i32(frameSize(stackDepth));
  if (mode === 'native' && hasMayGoto(fn)) initMayGoto(c, fn);
  if (fn.tailCallReachable) tailCallPrologue(c, fn.isSubprog);
  const saved = savedRegs(fn);
  if (saved.r12) pushR12(c);
  pushCalleeSaved(c, saved.calleeSaved);
  if (mode === 'native' && fn.nativeThrowFrame !== undefined) recordThrowFrame(c, fn.nativeThrowFrame);
  const out = mergedOutgoing(fn, mode);
  if (out) c.b(0x48, 0x81, 0xec).i32(out); // sub rsp, outgoing_rsp [merged; imm32 form: choice]
  // kern_vm_start is a vmalloc address: never a 32-bit immediate, so always movabs.
  if (fn.arena) movImm64(c, REG_ARENA, fn.arena.kernVmStart, mode === 'kernel', mode === 'kernel' ? { kind: 'arena' } : undefined);
  if (fn.privateStack && mode === 'kernel') privateFramePointer(c);
  return c;
}

/** Native only: the boundary's frame as the kernel's stack walk would find it at a call
 *  (rsp below the saved registers, rbp), stored at `at` (rax is free at entry). */
function recordThrowFrame(c: Code, at: bigint): void {
  c.b(0x48, 0xb8).i64(at); // movabs rax, at
  c.b(0x48, 0x89, 0x20); // mov [rax], rsp
  c.b(0x48, 0x89, 0x68, 0x08); // mov [rax+8], rbp
}

/** 6.18 private stack: r9 = this CPU's copy of the frame pointer (the per-CPU pointer to the
 *  top of the function's private stack, plus this_cpu_off). Both values are kernel symbols,
 *  so both are marked. The per-CPU offset is always above 4 GB here, hence movabs [6.18]. */
function privateFramePointer(c: Code): void {
  c.b(0x49, 0xb9).reloc('priv-stack', 8).i64(0n); // movabs r9, priv_frame_ptr
  c.b(0x65, 0x4c, 0x03, 0x0c, 0x25).reloc('percpu', 4).i32(0); // add r9, gs:[this_cpu_off]
}

/** The main function keeps the counter itself on its stack and passes a pointer to it; a
 *  subprog (or a tail-called main whose caller was a subprog) receives the pointer in rax. */
function tailCallPrologue(c: Code, isSubprog: boolean): void {
  if (!isSubprog) {
    c.b(0x48, 0x83, 0xf8, MAX_TAIL_CALL_CNT); // cmp rax, MAX_TAIL_CALL_CNT
    c.b(0x77, 6); // ja: rax already is a pointer
    c.b(0x50); // push rax (the counter)
    c.b(0x48, 0x89, 0xe0); // mov rax, rsp (its address)
    c.b(0xeb, 1); // jmp over the next push
    c.b(0x50); // push rax (a pointer handed over)
    c.b(0x50); // push rax: the pointer slot
  } else {
    c.b(0x50, 0x50);
  }
}

/** The first exit's code: restore saved registers, `leave`, return. `ipAfter` is the image
 *  offset of the return jump (for the thunk's rel32). */
export function epilogue(c: Code, fn: JitFunction, cfg: KernelConfig, mode: JitMode): void {
  // The pops are rsp-relative: drop the outgoing area first [choice: not visible in the
  // sources we have; any correct epilogue must do it].
  const out = mergedOutgoing(fn, mode);
  if (out) c.b(0x48, 0x81, 0xc4).i32(out); // add rsp, outgoing_rsp
  restoreSaved(c, savedRegs(fn));
  c.b(0xc9); // leave
  emitReturn(c, cfg, mode);
}

function emitReturn(c: Code, cfg: KernelConfig, mode: JitMode): void {
  if (mode === 'kernel' && cfg.returnThunk) {
    c.b(0xe9).reloc('return-thunk', 4).i32(0);
  } else {
    c.b(0xc3);
  }
}

/** Labels the tail-call sequences jump to, measured from the start of their instruction.
 *  As in the kernel there is one of each per function and the value from the previous pass
 *  (or an earlier tail call in this pass) is used; every sequence has the same length. */
export interface TailCallLabels {
  direct: number;
  indirect: number;
}

/** bpf_tail_call(ctx, map, index) through the prog array: bounds check, counter check,
 *  NULL check, then unwind this frame and jump into the target past its prologue head. */
export function tailCallIndirect(c: Code, fn: JitFunction, cfg: KernelConfig, stackDepth: number, labels: TailCallLabels): void {
  const start = c.length;
  const rel8 = (): number => labels.indirect - (c.length + 2 - start);
  c.b(0x89, 0xd2); // mov edx, edx
  c.b(0x39, 0x56, cfg.layout.arrayMaxEntries); // cmp [rsi + max_entries], edx
  c.b(0x76, rel8()); // jbe out
  c.b(0x48, 0x8b, 0x85).i32(tailCallCntPtrOff(stackDepth)); // mov rax, [rbp - tcc_ptr]
  c.b(0x48, 0x83, 0x38, MAX_TAIL_CALL_CNT); // cmp qword [rax], MAX
  c.b(0x73, rel8()); // jae out
  c.b(0x48, 0x8b, 0x8c, 0xd6).i32(cfg.layout.arrayPtrs); // mov rcx, [rsi + rdx*8 + ptrs]
  c.b(0x48, 0x85, 0xc9); // test rcx, rcx
  c.b(0x74, rel8()); // je out
  c.b(0x48, 0x83, 0x00, 0x01); // add qword [rax], 1
  restoreSaved(c, savedRegs(fn));
  c.b(0x58, 0x58); // pop the counter pointer and the counter (or pointer) slot
  if (stackDepth) c.b(0x48, 0x81, 0xc4).i32(frameSize(stackDepth));
  c.b(0x48, 0x8b, 0x49, cfg.layout.progBpfFunc); // mov rcx, [rcx + bpf_func]
  c.b(0x48, 0x83, 0xc1, tailCallOffset(cfg)); // add rcx, X86_TAIL_CALL_OFFSET
  if (cfg.indirectJump === 'thunk') c.b(0xe9).reloc('indirect-thunk', 4, X86.rcx).i32(0);
  else if (cfg.indirectJump === 'lfence') c.b(0x0f, 0xae, 0xe8, 0xff, 0xe1);
  else c.b(0xff, 0xe1);
  labels.indirect = c.length - start;
}

/** A tail call with a constant key: the target is patched into a 5-byte jump at run time;
 *  until then a jump over the unwind code skips it. With `patched` (the prog array slot
 *  holds a program, as the live image shows once it is installed) the bypass jump is a nop
 *  and the slot a `jmp` into the target past its prologue head. */
export function tailCallDirect(c: Code, fn: JitFunction, stackDepth: number, labels: TailCallLabels, patched = false): void {
  const start = c.length;
  c.b(0x48, 0x8b, 0x85).i32(tailCallCntPtrOff(stackDepth));
  c.b(0x48, 0x83, 0x38, MAX_TAIL_CALL_CNT);
  c.b(0x73, labels.direct - (c.length + 2 - start));
  // The bypass jump goes to the end of the sequence (the label is where the patched jump ends).
  const here = c.length - start;
  if (patched) nops(c, PATCH_SIZE);
  else c.b(0xe9).i32(labels.direct - (here + PATCH_SIZE));
  c.b(0x48, 0x83, 0x00, 0x01);
  restoreSaved(c, savedRegs(fn));
  c.b(0x58, 0x58);
  if (stackDepth) c.b(0x48, 0x81, 0xc4).i32(frameSize(stackDepth));
  if (patched) c.b(0xe9).reloc('tail-call-target', 4).i32(0);
  else nops(c, PATCH_SIZE);
  labels.direct = c.length - start;
}

/** `mov rax, [rbp - tcc_ptr]` before a bpf-to-bpf call in a tail-call context. */
export function loadTailCallCntPtr(c: Code, stackDepth: number): void {
  c.b(0x48, 0x8b, 0x85).i32(tailCallCntPtrOff(stackDepth));
}

export { memOperand, rex };
