// bpf_prog_load's length limit, checked before the verifier runs: a bpf_capable loader may
// load up to BPF_COMPLEXITY_LIMIT_INSNS instruction slots, anyone else BPF_MAXINSNS.

import { insnSlots } from '../../isa/insn.ts';
import type { Program } from '../../program/types.ts';
import { loaderCaps } from '../unpriv/caps.ts';

const BPF_MAXINSNS = 4096;
const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

/** Slots the program occupies (ld_imm64 takes two), i.e. attr->insn_cnt. */
export const insnSlotCount = (prog: Program): number => prog.insns.reduce((n, insn) => n + insnSlots(insn), 0);

export const maxInsns = (opts: { readonly unpriv: boolean; readonly capsUnpriv?: readonly number[] }): number =>
  loaderCaps(opts).bpf ? BPF_COMPLEXITY_LIMIT_INSNS : BPF_MAXINSNS;
