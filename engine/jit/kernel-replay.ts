// Our kernel-mode JIT of a program the live kernel loaded: its xlated dump, the verifier
// log's stack depths and the facts of the load (arena map ids, program type), compared with
// the kernel's own image. Shared by `bpfconform jit --kernel` and scripts/jit-corpus-parity.ts.

import type { Program } from '../program/types.ts';
import type { LoadResult } from '../kernel/load.ts';
import { parseStackDepths } from '../kernel/stack-depth.ts';
import { replayKernelJit, type Replay } from './x86_64/replay.ts';
import { namedArenaIndex } from '../program/arena.ts';

/** Dump ids of the program's arena maps (the dump names maps by id). */
export function arenaMapIds(prog: Program, mapIds: readonly number[]): Set<number> {
  return new Set(prog.maps.flatMap((m, k) => (m.type === 'ARENA' && mapIds[k] ? [mapIds[k]] : [])));
}

/** Replay a successful load that asked for xlated and jited; throws when the load lacks
 *  what the replay needs. */
export function replayLoad(prog: Program, r: LoadResult): Replay {
  if (!r.xlated || !r.jited) throw new Error('the load did not return its xlated and jited programs');
  const depths = parseStackDepths(r.log);
  if (!depths) throw new Error('no "stack depth" line in the verifier log');
  return replayKernelJit({
    xlated: r.xlated, stackDepths: depths, jited: r.jited, funcLens: [...(r.jitedFuncLens ?? [r.jited.length])], ksyms: r.jitedKsyms,
    progType: prog.progType, expectedAttachType: prog.expectedAttachType, arenaMapIds: arenaMapIds(prog, r.mapIds),
    usesArena: namedArenaIndex(prog) !== undefined,
  });
}
