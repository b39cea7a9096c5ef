// bpf_throw in native runs. The kernel's bpf_throw walks the stack to the frame of the
// exception boundary (the program's main function) and calls the exception callback with
// (cookie, sp, bp) of that frame; the callback's prologue adopts the frame, restores the
// registers the boundary saved and returns to the boundary's caller with its own r0.
//
// Natively the walk is replaced by a record: the boundary's prologue stores its rsp (below
// the saved registers) and rbp in a 16-byte cell (frame.ts, native mode only), and a
// bpf_throw call goes to a stub that loads them as the second and third arguments and
// jumps to the callback, the cookie still in rdi. The frames between are dropped as the
// kernel drops them; no JavaScript frame is in between, since the stub replaces the bridge.

import type { Insn } from '../../isa/insn.ts';
import type { Program } from '../../program/types.ts';
import { exceptionCbStart } from '../../runtime/throw.ts';
import { BPF_ALU64, BPF_CALL, BPF_EXIT, BPF_JMP, BPF_MOV, BPF_X } from '../../isa/opcodes.ts';

/** Bytes of the cell the boundary's prologue fills: rsp, then rbp. */
export const THROW_FRAME_SIZE = 16;

/** What a native run of a program that can throw needs. */
export interface NativeThrowPlan {
  /** The kfunc ids that name bpf_throw. */
  readonly ids: ReadonlySet<number>;
  /** The program to JIT: the default callback (`r0 = r1; exit`, 6.18's hidden subprog)
   *  appended when the program names none. */
  readonly prog: Program;
  /** Slot where the exception callback starts in `prog`. */
  readonly cbStart: number;
}

const KFUNC_CALL = BPF_JMP | BPF_CALL;
const BPF_PSEUDO_KFUNC_CALL = 2;

/** The default callback: the cookie is the program's return value. */
const DEFAULT_CB: readonly Insn[] = [
  { code: BPF_ALU64 | BPF_MOV | BPF_X, dst: 0, src: 1, off: 0, imm: 0 },
  { code: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 },
];

const slotCount = (insns: readonly Insn[]): number => insns.reduce((n, i) => n + (i.next ? 2 : 1), 0);

/** The plan for `prog`, or undefined when it never calls bpf_throw. `kfuncIds` names the
 *  program's kfunc ids (a suite's `kfuncs:`). */
export function planNativeThrow(prog: Program, kfuncIds: readonly (readonly [number, string])[] = []): NativeThrowPlan | undefined {
  const ids = new Set(kfuncIds.filter(([, name]) => name === 'bpf_throw').map(([id]) => id));
  const throws = prog.insns.some((i) => i.code === KFUNC_CALL && i.src === BPF_PSEUDO_KFUNC_CALL && ids.has(i.imm));
  if (!throws) return undefined;
  const own = exceptionCbStart(prog);
  if (own !== undefined) return { ids, prog, cbStart: own };
  return { ids, prog: { ...prog, insns: [...prog.insns, ...DEFAULT_CB] }, cbStart: slotCount(prog.insns) };
}

/** The stub a bpf_throw call goes to: rsi, rdx <- the recorded frame; jump to the callback. */
export function throwStub(frameCell: bigint, callback: bigint): Uint8Array {
  const out: number[] = [];
  const movabsRax = (v: bigint): void => {
    out.push(0x48, 0xb8);
    for (let k = 0n; k < 64n; k += 8n) out.push(Number((BigInt.asUintN(64, v) >> k) & 0xffn));
  };
  movabsRax(frameCell); // movabs rax, frameCell
  out.push(0x48, 0x8b, 0x30); // mov rsi, [rax]      (the boundary's rsp)
  out.push(0x48, 0x8b, 0x50, 0x08); // mov rdx, [rax+8]  (its rbp)
  movabsRax(callback); // movabs rax, callback
  out.push(0xff, 0xe0); // jmp rax               (cookie already in rdi)
  return Uint8Array.from(out);
}
