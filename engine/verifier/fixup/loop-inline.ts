// optimize_bpf_loop (6.18): a bpf_loop call whose every pass had flags 0 and one callback
// becomes an open-coded loop that calls the callback directly. r6..r8 hold the bound, the
// counter and the context, so their values are parked in three new slots below the
// subprog's stack, which grows by 24 bytes (plus the rounding of an odd depth to 8).

import type { RawSlot } from '../../isa/insn.ts';
import {
  BPF_ADD, BPF_ALU, BPF_ALU64, BPF_CALL, BPF_DW, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JLE, BPF_JMP, BPF_K, BPF_LDX, BPF_MEM, BPF_MOV,
  BPF_PSEUDO_CALL, BPF_STX, BPF_X,
} from '../../isa/opcodes.ts';
import type { LoopInlineState } from '../calls/callback.ts';
import type { XProg } from './xprog.ts';

const BPF_FUNC_loop = 181;
/** bpf_loop's limit on the number of iterations (BPF_MAX_LOOPS). */
const BPF_MAX_LOOPS = 8 * 1024 * 1024;
const E2BIG = 7;
/** Where the callback call sits in the inlined sequence. */
const CALL_AT = 12;

const raw = (code: number, dst: number, src: number, off: number, imm: number): RawSlot => ({ code, dst, src, off, imm });
const isLoopCall = (s: RawSlot): boolean => s.code === (BPF_JMP | BPF_CALL) && s.src === 0 && s.imm === BPF_FUNC_loop;

/** The open-coded loop: r1 = count, r3 = context; r0 = iterations done (or -E2BIG). The
 *  callback call's offset is set once the callback's position is known. */
function inlinedLoop(spillBase: number): RawSlot[] {
  const [r6, r7, r8] = [spillBase, spillBase + 8, spillBase + 16];
  return [
    raw(BPF_JMP | BPF_JLE | BPF_K, 1, 0, 2, BPF_MAX_LOOPS),
    raw(BPF_ALU | BPF_MOV | BPF_K, 0, 0, 0, -E2BIG),
    raw(BPF_JMP | BPF_JA, 0, 0, 16, 0),
    raw(BPF_STX | BPF_MEM | BPF_DW, 10, 6, r6, 0),
    raw(BPF_STX | BPF_MEM | BPF_DW, 10, 7, r7, 0),
    raw(BPF_STX | BPF_MEM | BPF_DW, 10, 8, r8, 0),
    raw(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0),
    raw(BPF_ALU | BPF_MOV | BPF_K, 7, 0, 0, 0),
    raw(BPF_ALU64 | BPF_MOV | BPF_X, 8, 3, 0, 0),
    raw(BPF_JMP | BPF_JGE | BPF_X, 7, 6, 5, 0),
    raw(BPF_ALU64 | BPF_MOV | BPF_X, 1, 7, 0, 0),
    raw(BPF_ALU64 | BPF_MOV | BPF_X, 2, 8, 0, 0),
    raw(BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, 0),
    raw(BPF_ALU64 | BPF_ADD | BPF_K, 7, 0, 0, 1),
    raw(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, -6, 0),
    raw(BPF_ALU64 | BPF_MOV | BPF_X, 0, 7, 0, 0),
    raw(BPF_LDX | BPF_MEM | BPF_DW, 6, 10, r6, 0),
    raw(BPF_LDX | BPF_MEM | BPF_DW, 7, 10, r7, 0),
    raw(BPF_LDX | BPF_MEM | BPF_DW, 8, 10, r8, 0),
  ];
}

const roundUp8 = (n: number): number => Math.ceil(n / 8) * 8;

/** Inline every bpf_loop call found fit (`states` by the index the call had as loaded). */
export function inlineBpfLoops(x: XProg, states: ReadonlyMap<number, LoopInlineState>): void {
  // The extra stack a subprog needs: one spill area per subprog, shared by its loops.
  const extra = x.stackDepths.map(() => 0);
  for (let i = 0; i < x.len; i++) {
    const st = states.get(x.aux[i].orig);
    if (!isLoopCall(x.slots[i]) || !st?.fit) continue;
    const sp = x.subprogOf(i);
    const depth = x.stackDepths[sp];
    extra[sp] = 3 * 8 + (roundUp8(depth) - depth);
    const seq = inlinedLoop(-(depth + extra[sp]));
    x.patch(i, seq);
    const call = i + CALL_AT;
    x.slots[call] = { ...x.slots[call], imm: x.subprogStarts[st.subprog] - call - 1 };
    i += seq.length - 1;
  }
  extra.forEach((e, sp) => (x.stackDepths[sp] += e));
}
