// Stack arguments (args 6..12 of BPF functions and kfuncs) per series. See
// docs/jit-x86-64.md §9 and ../shared/reference/stack-args.md §4.
//
// merged (r11 = BPF_REG_PARAMS) [merged, x86 commit 324c3ca6]:
//   arg 6 travels in r9; args 7+ at [rsp+0], [rsp+8], ... at the call, from an outgoing area
//   the prologue reserves (`sub rsp, (out-1)*8` after the callee-saved pushes). The callee
//   reads arg 7+ at [rbp+16], [rbp+24], ... This is the SysV layout, so a kfunc call needs no
//   marshaling at all. The private stack (r9 as frame pointer) is never used with them.
// v4 (r12 = BPF_REG_STACK_ARG_BASE) [seed + v1/v2 covers; the rest is our choice]:
//   the outgoing area sits right below the BPF stack, so r12 - k is [rbp - D - k]; a
//   bpf-to-bpf call pushes the callee's stack args (last first) and pops them after the
//   call, so the callee finds arg 6 at [rbp+16]: r12 + k is [rbp + 8 + k]; a kfunc call
//   (insn.off = number of stack args, the seed's fixup_kfunc_call) moves arg 6 to r9 and
//   pushes 7+ (SysV).

import type { Insn } from '../../isa/insn.ts';
import { BPF_DW, BPF_LDX, BPF_MEM, BPF_ST, BPF_STX, bpfClass, bpfMode, bpfSize } from '../../isa/opcodes.ts';
import { Code, ldx, memOperand, movRR64, rex, st, stx } from './code.ts';
import { X86, isExt, low3, x86Of } from './regs.ts';
import { JitError } from './types.ts';

export type StackArgSeries = 'v4' | 'merged';

/** A function's stack-argument facts (the verifier's stack_arg_cnt bookkeeping). */
export interface StackArgFrame {
  readonly series: StackArgSeries;
  /** Arguments beyond five this function receives. */
  readonly incomingSlots: number;
  /** Outgoing slots its calls need (merged: arg 6 included; v4: the area in slots). */
  readonly outgoingSlots: number;
  /** v4: stack args each bpf-to-bpf call instruction (by index) passes: the callee's
   *  incoming count. kfunc calls carry theirs in insn.off. */
  readonly callSlots?: ReadonlyMap<number, number>;
}

export const baseReg = (s: StackArgSeries): 11 | 12 => (s === 'merged' ? 11 : 12);
/** The verifier's scratch register (BPF_REG_AX): 11 before the prep series (and in v4), 12
 *  in merged, where 11 became BPF_REG_PARAMS. */
export const axReg = (s: StackArgSeries | undefined): 11 | 12 => (s === 'merged' ? 12 : 11);

/** BPF register -> x86 under a series (the AX renumbering). */
export function x86OfIn(series: StackArgSeries | undefined, r: number): number {
  if (r === axReg(series)) return X86.r10;
  if (r > 10) throw new JitError(`BPF register r${r} has no x86-64 mapping`);
  return x86Of(r);
}

/** Is this a stack-arg access under the series (a load from or store to its base)? */
export function isStackArgInsn(insn: Insn, s: StackArgSeries | undefined): boolean {
  if (!s) return false;
  const cls = bpfClass(insn.code);
  const b = baseReg(s);
  if (cls === BPF_LDX) return insn.src === b;
  if (cls === BPF_ST || cls === BPF_STX) return insn.dst === b;
  return false;
}

/** rsp adjustment of the merged outgoing area: arg 6 needs no memory. native keeps rsp
 *  16-byte aligned at calls (the frame above is aligned already). */
export function mergedOutgoingRsp(f: StackArgFrame, native: boolean): number {
  const bytes = f.outgoingSlots > 1 ? (f.outgoingSlots - 1) * 8 : 0;
  return native ? (bytes + 15) & ~15 : bytes;
}

/** v4: bytes the frame grows by below the BPF stack (native: a multiple of 16). */
export function v4OutgoingBytes(f: StackArgFrame, native: boolean): number {
  const bytes = f.outgoingSlots * 8;
  return native ? (bytes + 15) & ~15 : bytes;
}

/** `mov r9, imm` with the immediate sign-extended to 64 bits: always the 10-byte movabs, so
 *  the arg-6 store is exactly one instruction (the bot's review of the later BPF_ST
 *  refactor: nothing may follow it). */
function movabsR9(c: Code, imm: number): void {
  c.b(0x49, 0xb9).i64(BigInt(imm | 0));
}

export interface StackArgContext {
  readonly frame: StackArgFrame;
  /** round_up(stack_depth, 8): where the BPF stack ends below rbp. */
  readonly bpfStack: number;
  /** The whole `sub rsp` of the prologue (native mode may pad it for alignment). */
  readonly frameBytes: number;
  /** Bytes of callee-saved pushes below the BPF stack (merged's outgoing_arg_base). */
  readonly calleeSavedBytes: number;
  readonly native: boolean;
}

/** Translate a stack-arg load or store. */
export function stackArgAccess(c: Code, insn: Insn, x: StackArgContext, index: number): void {
  const s = x.frame.series;
  const cls = bpfClass(insn.code);
  if (bpfMode(insn.code) !== BPF_MEM || bpfSize(insn.code) !== BPF_DW) throw new JitError('stack argument access is not a DW load/store', index);
  const off = insn.off;
  if (cls === BPF_LDX) {
    const dst = x86OfIn(s, insn.dst);
    if (s === 'merged') {
      if (off === 8) return movRR64(c, dst, X86.r9);
      if (off >= 16) return ldx(c, BPF_DW, dst, X86.rbp, off);
      throw new JitError(`r11 load at offset ${off}`, index);
    }
    if (off > 0) return ldx(c, BPF_DW, dst, X86.rbp, 8 + off);
    return ldx(c, BPF_DW, dst, X86.rbp, -x.bpfStack + off);
  }
  if (off >= 0) throw new JitError(`stack argument store at offset ${off}`, index);
  if (s === 'merged') {
    if (off === -8) {
      if (cls === BPF_STX) return movRR64(c, X86.r9, x86OfIn(s, insn.src));
      return movabsR9(c, insn.imm);
    }
    // [rsp + (-off - 16)], addressed from rbp: outgoing_arg_base - outgoing_rsp - off - 16.
    const disp = -(x.frameBytes + x.calleeSavedBytes) - mergedOutgoingRsp(x.frame, x.native) - off - 16;
    if (cls === BPF_STX) return stx(c, BPF_DW, X86.rbp, x86OfIn(s, insn.src), disp);
    return st(c, BPF_DW, X86.rbp, disp, insn.imm);
  }
  const disp = -x.bpfStack + off;
  if (cls === BPF_STX) return stx(c, BPF_DW, X86.rbp, x86OfIn(s, insn.src), disp);
  return st(c, BPF_DW, X86.rbp, disp, insn.imm);
}

/** `push qword [rbp + disp]` (ff /6, always disp32 so sizes never depend on values). */
function pushRbp(c: Code, disp: number): void {
  c.b(0xff, 0xb5).i32(disp);
}

/** v4: what goes before a call passing `slots` stack args (`kfunc`: arg 6 to r9 as SysV).
 *  Returns the bytes to pop after the call. Arg N (6..n) sits at r12 - 8*(n-N+1). */
export function v4BeforeCall(c: Code, x: StackArgContext, slots: number, kfunc: boolean): number {
  if (slots <= 0) return 0;
  const at = (k: number): number => -x.bpfStack - 8 * k; // r12 - 8k
  const first = kfunc ? 1 : 0; // kfunc: arg 6 goes in r9, not on the stack
  const pushes = slots - first;
  const pad = x.native && pushes % 2 === 1 ? 8 : 0;
  if (pad) c.b(0x48, 0x83, 0xec, 8); // sub rsp, 8: keep SysV alignment
  // Push the last argument first, so arg 6 (or 7 for a kfunc) ends up at [rsp].
  for (let k = 1; k <= pushes; k++) pushRbp(c, at(k));
  if (kfunc) {
    c.b(rex(true, X86.rbp, X86.r9), 0x8b); // mov r9, [rbp + disp32]
    c.b(0x80 | (low3(X86.r9) << 3) | low3(X86.rbp)).i32(at(slots));
  }
  return pushes * 8 + pad;
}

/** `add rsp, n` after a v4 call. */
export function popArgs(c: Code, bytes: number): void {
  if (bytes === 0) return;
  if (bytes < 128) c.b(0x48, 0x83, 0xc4, bytes);
  else c.b(0x48, 0x81, 0xc4).i32(bytes);
}

export { isExt, memOperand };

/**
 * Attach stack-argument facts to the functions of a program under `series`: what each
 * function receives (from `argCounts`, the verifier's/BTF's, else the highest incoming load)
 * and what its calls need (callee counts, kfunc `off` in v4, the highest outgoing store).
 */
export function withStackArgs<F extends { readonly insns: readonly Insn[]; readonly subprogRefs?: ReadonlyMap<number, number> }>(
  funcs: readonly F[], series: StackArgSeries, argCounts?: readonly (number | undefined)[],
  /** Arguments of the kfunc with this BTF id, for v4 calls whose `off` was not fixed up yet
   *  (a program as loaded, before the seed's fixup_kfunc_call). */
  kfuncArgs?: (btfId: number) => number | undefined,
): (F & { stackArgs: StackArgFrame })[] {
  const b = baseReg(series);
  const incoming = funcs.map((f, k) => {
    const n = argCounts?.[k];
    if (n !== undefined) return Math.max(0, n - 5);
    let hi = 0;
    for (const i of f.insns) if (bpfClass(i.code) === BPF_LDX && i.src === b && i.off > 0) hi = Math.max(hi, i.off / 8);
    return hi;
  });
  return funcs.map((f, k) => {
    let out = 0;
    const callSlots = new Map<number, number>();
    f.insns.forEach((i, idx) => {
      const cls = bpfClass(i.code);
      if ((cls === BPF_ST || cls === BPF_STX) && i.dst === b && i.off < 0) out = Math.max(out, -i.off / 8);
      if (i.code !== 0x85) return;
      if (i.src === 1) {
        const t = f.subprogRefs?.get(idx);
        const n = t === undefined ? 0 : incoming[t];
        callSlots.set(idx, n);
        out = Math.max(out, n);
      } else if (i.src === 2 && series === 'v4') {
        const n = i.off > 0 ? i.off : Math.max(0, (kfuncArgs?.(i.imm) ?? 0) - 5);
        callSlots.set(idx, n);
        out = Math.max(out, n);
      }
    });
    return { ...f, stackArgs: { series, incomingSlots: incoming[k], outgoingSlots: out, callSlots } };
  });
}
