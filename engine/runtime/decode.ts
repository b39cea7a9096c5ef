// Pre-decoding: a Program's instructions become flat typed arrays indexed by slot, so the
// dispatch loop reads numbers, never objects. The second slot of an LD_IMM64 decodes to an
// opcode no instruction has (0x00 is BPF_LD|BPF_IMM|BPF_W, invalid on its own), so jumping
// into the middle of one faults like any other invalid opcode.

import type { Program } from '../program/types.ts';
import { slotOffsets } from '../isa/insn.ts';

export interface Code {
  readonly prog: Program;
  /** Index of this code in the machine's code table (for function addresses). */
  id: number;
  readonly len: number;
  readonly op: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int32Array;
  readonly imm: Int32Array;
  /** imm of the second slot, for LD_IMM64. */
  readonly imm2: Int32Array;
  /** Slot indices where a subprogram starts: targets of bpf-to-bpf calls. */
  readonly funcStarts: ReadonlySet<number>;
}

const cache = new WeakMap<Program, Code>();

export function decodeProgram(prog: Program): Code {
  const hit = cache.get(prog);
  if (hit) return hit;
  const offs = slotOffsets(prog.insns);
  const len = offs[prog.insns.length];
  const code: Code = {
    prog, id: -1, len,
    op: new Uint8Array(len), dst: new Uint8Array(len), src: new Uint8Array(len),
    off: new Int32Array(len), imm: new Int32Array(len), imm2: new Int32Array(len),
    funcStarts: new Set(prog.funcs.map((f) => f.start)),
  };
  const starts = code.funcStarts as Set<number>;
  starts.add(0);
  prog.insns.forEach((insn, i) => {
    const pc = offs[i];
    code.op[pc] = insn.code;
    code.dst[pc] = insn.dst;
    code.src[pc] = insn.src;
    code.off[pc] = insn.off;
    code.imm[pc] = insn.imm;
    if (insn.next) code.imm2[pc] = insn.next.imm;
    // Targets of bpf-to-bpf calls and of function-address ld_imm64 start subprograms too,
    // whether or not `funcs` lists them.
    if ((insn.code === 0x85 && insn.src === 1) || (insn.code === 0x18 && insn.src === 4)) {
      starts.add(pc + insn.imm + 1);
    }
  });
  cache.set(prog, code);
  return code;
}
