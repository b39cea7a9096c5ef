// Which arena a program uses: the kernel keeps one per program (prog->aux->arena), the one
// its ld_imm64s name; a suite may declare several for different programs.

import { BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE, LD_IMM64 } from '../isa/opcodes.ts';
import type { Program } from './types.ts';

const MAP_SRCS = new Set([BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE]);

/** Index (in `prog.maps`) of the arena map the program's ld_imm64s name, or undefined. */
export function namedArenaIndex(prog: Program): number | undefined {
  for (const i of prog.insns) {
    if (i.code === LD_IMM64 && MAP_SRCS.has(i.src) && prog.maps[i.imm]?.type === 'ARENA') return i.imm;
  }
  return undefined;
}
