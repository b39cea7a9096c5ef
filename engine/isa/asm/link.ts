// The link pass: lay out a program the way libbpf does (bpf_object__reloc_code): the main
// function first; then, scanning each placed function's calls and function-address loads in
// instruction order, a callee not yet placed is appended at the end and scanned at once
// (depth first) before the scan of its caller resumes. Each call's imm becomes the slot
// distance from the next instruction to the callee's first slot.

import type { Insn } from '../insn.ts';
import { slotOffsets } from '../insn.ts';
import { InputError } from '../../errors.ts';
import type { AsmFunction } from './index.ts';

export interface LinkedProgram {
  readonly insns: Insn[];
  /** Every function in layout order with its first slot (the main function at 0). */
  readonly funcs: { name: string; start: number }[];
}

export function linkProgram(main: AsmFunction, library: ReadonlyMap<string, AsmFunction>): LinkedProgram {
  const insns: Insn[] = [];
  const funcs: { name: string; start: number }[] = [];
  const placedAt = new Map<string, number>(); // function name -> first slot
  let slots = 0;

  const place = (fn: AsmFunction, name: string): void => {
    const baseIndex = insns.length;
    const baseSlot = slots;
    placedAt.set(name, baseSlot);
    funcs.push({ name, start: baseSlot });
    for (const insn of fn.insns) insns.push(insn);
    const offs = slotOffsets(fn.insns);
    slots += offs[fn.insns.length];

    const relocs = [...fn.relocs].sort((a, b) => a.index - b.index);
    for (const r of relocs) {
      if (!placedAt.has(r.target)) {
        const callee = library.get(r.target);
        if (!callee) throw new InputError(`undefined function '${r.target}'`, r.loc);
        place(callee, r.target);
      }
      const start = placedAt.get(r.target) ?? 0;
      const at = baseIndex + r.index;
      insns[at] = { ...insns[at], imm: start - (baseSlot + offs[r.index] + 1) };
    }
  };

  place(main, main.name);
  return { insns, funcs };
}
