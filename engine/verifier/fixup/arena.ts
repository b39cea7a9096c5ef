// The rewrites 6.18 applies to arena programs after verification (seen in the live
// kernel's xlated dump and JIT input):
//
//   with the context rewrites (convert_ctx_accesses), by the pointer type do_check saw:
//     load / store through an arena pointer   mode MEM    -> PROBE_MEM32 (0xa0)
//     sign-extending load from one            mode MEMSX  -> PROBE_MEM32SX (0xc0)
//     atomic on one                           mode ATOMIC -> PROBE_ATOMIC (0xe0)
//   first thing in do_misc_fixups:
//     addr_space_cast(r, 0, 1)                -> wD = wS (a 32-bit move)
//     addr_space_cast(r, 1, 0)                -> kept for the JIT, unless the arena has
//                                                BPF_F_NO_USER_CONV (then a 32-bit move too)
//     64-bit ALU on an arena pointer          -> the same operation in 32 bits
//
// The dump turns PROBE_MEM32 back into MEM but shows PROBE_MEM32SX and PROBE_ATOMIC as they
// are; `dumpForm` does that, the JIT takes the rest.
//
// A 32-bit form that comes out of these is a 32-bit definition for the zero-extension pass
// (`arenaDef32`): the cast to address space 0 and the narrowed ALU operations were defined
// as 32 bits by do_check; a sign-extending load or a user-conversion cast was not, so with
// BPF_F_TEST_RND_HI32 its upper half gets poisoned (as the live kernel does).

import type { RawSlot } from '../../isa/insn.ts';
import {
  BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_MOV, BPF_ST, BPF_STX, BPF_X, LD_IMM64,
  bpfClass, bpfMode, bpfOp,
} from '../../isa/opcodes.ts';
import { RegType } from '../state/types.ts';
import type { XAux, XProg } from './xprog.ts';
import { BPF_ADDR_SPACE_CAST, CAST_TO_KERN } from '../checks/arena.ts';

export const BPF_PROBE_MEM32 = 0xa0;
export const BPF_PROBE_MEM32SX = 0xc0;
export const BPF_PROBE_ATOMIC = 0xe0;
/** BPF_F_NO_USER_CONV (arena map flag): casts to address space 1 are plain 32-bit moves. */
export const BPF_F_NO_USER_CONV = 1 << 18;

const CAST = BPF_ALU64 | BPF_MOV | BPF_X;
const isCast = (s: RawSlot): boolean => s.code === CAST && s.imm !== 0;
const withMode = (s: RawSlot, mode: number): RawSlot => ({ ...s, code: (s.code & ~0xe0) | mode });

/** Does this (original) instruction define its destination as 32 bits on arena grounds? */
export function arenaDef32(s: RawSlot, aux: XAux): boolean {
  if (isCast(s)) return s.off === BPF_ADDR_SPACE_CAST && s.imm === CAST_TO_KERN;
  return !!aux.arenaZext;
}

/** convert_ctx_accesses' arena part: accesses through arena pointers get probe modes. */
export function convertArenaAccesses(x: XProg): void {
  for (let i = 0; i < x.len; i++) {
    const s = x.slots[i];
    if (s.code === LD_IMM64) {
      i++;
      continue;
    }
    if (x.aux[i].ptrType !== RegType.PTR_TO_ARENA) continue;
    const cls = bpfClass(s.code);
    const mode = bpfMode(s.code);
    if (cls === BPF_LDX && mode === BPF_MEMSX) x.slots[i] = withMode(s, BPF_PROBE_MEM32SX);
    else if ((cls === BPF_LDX || cls === BPF_STX || cls === BPF_ST) && mode === BPF_MEM) x.slots[i] = withMode(s, BPF_PROBE_MEM32);
    else if (cls === BPF_STX && mode === BPF_ATOMIC) x.slots[i] = withMode(s, BPF_PROBE_ATOMIC);
  }
}

/** do_misc_fixups' arena part: casts and arena ALU operations become 32-bit ones. */
export function arenaAluFixups(x: XProg, noUserConv: boolean): void {
  for (let i = 0; i < x.len; i++) {
    const s = x.slots[i];
    if (s.code === LD_IMM64) {
      i++;
      continue;
    }
    if (isCast(s)) {
      if ((s.off === BPF_ADDR_SPACE_CAST && s.imm === CAST_TO_KERN) || noUserConv) {
        x.slots[i] = { ...s, code: BPF_ALU | BPF_MOV | BPF_X, off: 0, imm: 0 };
      }
      continue;
    }
    if (x.aux[i].arenaZext) x.slots[i] = { ...s, code: BPF_ALU | bpfOp(s.code) | (s.code & BPF_X) };
  }
}

/** bpf_insn_prepare_dump's view of a probe access: PROBE_MEM32 shows as MEM. */
export function dumpForm(s: RawSlot): RawSlot {
  const cls = bpfClass(s.code);
  if ((cls === BPF_LDX || cls === BPF_STX || cls === BPF_ST) && bpfMode(s.code) === BPF_PROBE_MEM32) return withMode(s, BPF_MEM);
  return s;
}
