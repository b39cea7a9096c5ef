// Printing a linked function as spec asm: the verifier log's instruction text (our
// disassembler, the "(xx) " opcode prefix dropped), with jumps turned into labels and
// relocated operands turned back into names (`r1 = %[map] ll`, `call subprog`,
// `call %[kfunc]`, `r2 = callback ll`). Any instruction whose text would not assemble back
// to the same bytes is written as raw `.8byte` data, so the text is always faithful.

import { assemble } from '../isa/asm/index.ts';
import { printInsn } from '../isa/disasm.ts';
import { encodeHex } from '../isa/encode.ts';
import type { Insn, RawSlot } from '../isa/insn.ts';
import { imm64, insnSlots } from '../isa/insn.ts';
import { BPF_JA, BPF_JCOND, BPF_CALL, BPF_EXIT, BPF_JMP, BPF_JMP32, bpfClass, bpfOp } from '../isa/opcodes.ts';
import type { LinkRef } from '../elf/link.ts';

export interface AsmNames {
  /** Spec name of the map with this index (its `maps:` key). */
  mapName(index: number): string;
}

/** Slot offset of a jump's target relative to the next instruction, or undefined. */
function jumpDelta(insn: Insn): number | undefined {
  const cls = bpfClass(insn.code);
  if (cls !== BPF_JMP && cls !== BPF_JMP32) return undefined;
  const op = bpfOp(insn.code);
  if (op === BPF_CALL || op === BPF_EXIT) return undefined;
  if (op === BPF_JA) return cls === BPF_JMP32 ? insn.imm : insn.off;
  if (op === BPF_JCOND) return insn.off;
  return insn.off;
}

/** For a pseudo call or function address (`ref`) at function slot `s` whose target lies
 *  inside the same function of `total` slots (recursion), the slot delta; else undefined. */
function localCallDelta(insn: Insn, s: number, total: number, ref: LinkRef | undefined): number | undefined {
  if (!ref || (ref.kind !== 'call' && ref.kind !== 'func')) return undefined;
  const target = s + 1 + insn.imm;
  return target >= 0 && target < total ? insn.imm : undefined;
}

/** `.8byte` of one slot: the 8 bytes read as a little-endian u64. */
function rawSlot(s: RawSlot): string {
  const v =
    (BigInt.asUintN(32, BigInt(s.imm)) << 32n) |
    (BigInt.asUintN(16, BigInt(s.off)) << 16n) |
    (BigInt((s.src & 0xf) << 4 | (s.dst & 0xf)) << 8n) |
    BigInt(s.code & 0xff);
  return `.8byte 0x${v.toString(16).padStart(16, '0')}`;
}

function rawInsn(insn: Insn): string[] {
  return insn.next ? [rawSlot(insn), rawSlot(insn.next)] : [rawSlot(insn)];
}

const checked = new Map<string, boolean>();

/** Does `text` assemble, on its own, to exactly `insn`? (Cached by text and bytes.) */
function roundTrips(text: string, insn: Insn): boolean {
  const want = encodeHex([insn]).join('');
  const key = `${text}\u0000${want}`;
  let ok = checked.get(key);
  if (ok === undefined) {
    try {
      ok = encodeHex(assemble(text)).join('') === want;
    } catch {
      ok = false;
    }
    checked.set(key, ok);
  }
  return ok;
}

/** The log text of an instruction without the "(xx) " prefix. */
const body = (insn: Insn): string => printInsn(insn).slice(5);

/** Asm text of one function: `insns` as linked, `start` its first slot in the program,
 *  `refs` the program's relocations by slot. */
export function functionAsm(insns: readonly Insn[], start: number, refs: ReadonlyMap<number, LinkRef>, names: AsmNames): string {
  const slotOf: number[] = [];
  let slots = 0;
  for (const insn of insns) {
    slotOf.push(slots);
    slots += insnSlots(insn);
  }
  const labels = new Set<number>();
  insns.forEach((insn, i) => {
    const d = jumpDelta(insn) ?? localCallDelta(insn, slotOf[i], slots, refs.get(start + slotOf[i]));
    if (d !== undefined) labels.add(slotOf[i] + 1 + d);
  });
  const slotSet = new Set(slotOf);
  const lines: string[] = [];
  insns.forEach((insn, i) => {
    const s = slotOf[i];
    if (labels.has(s)) lines.push(`l${s}:`);
    for (const t of insnText(insn, s, start, refs, names, slots, slotSet)) lines.push(t.endsWith(':') ? t : `\t${t};`);
  });
  if (labels.has(slots)) lines.push(`l${slots}:`);
  return `${lines.join('\n')}\n`;
}

function insnText(
  insn: Insn,
  s: number,
  start: number,
  refs: ReadonlyMap<number, LinkRef>,
  names: AsmNames,
  total: number,
  slotSet: ReadonlySet<number>,
): string[] {
  const ref = refs.get(start + s);
  const dst = `r${insn.dst}`;
  if (ref) {
    switch (ref.kind) {
      case 'map':
        return [`${dst} = %[${names.mapName(ref.map)}] ll`];
      case 'data':
        // The assembler's bpftool-style form: map index, value offset.
        return [`${dst} = map[id:${ref.map}][0]+${ref.offset}`];
      case 'call': {
        // A call back into this same function (recursion) has no name the linker can
        // resolve from inside it: use a local label.
        const d = localCallDelta(insn, s, total, ref);
        return [d === undefined ? `call ${ref.target}` : `call l${s + 1 + d}`];
      }
      case 'func': {
        const d = localCallDelta(insn, s, total, ref);
        return [d === undefined ? `${dst} = ${ref.target} ll` : `${dst} = l${s + 1 + d} ll`];
      }
      case 'kfunc':
        return [`call %[${ref.name}]`];
      case 'ksym':
        return [`${dst} = %[${ref.name}] ll`];
    }
  }
  const d = jumpDelta(insn);
  if (d !== undefined) {
    const target = s + 1 + d;
    // A jump into the middle of an ld_imm64 or out of the function has no label form.
    if (target < 0 || target > total || (target < total && !slotSet.has(target))) return rawInsn(insn);
    const text = body(insn).replace(/pc[+-]\d+$/, `l${target}`);
    return /l\d+$/.test(text) ? [text] : rawInsn(insn);
  }
  if (insn.next) {
    if (insn.src !== 0) return rawInsn(insn);
    const text = `${dst} = 0x${imm64(insn).toString(16)} ll`;
    return roundTrips(text, insn) ? [text] : rawInsn(insn);
  }
  const text = body(insn);
  return roundTrips(text, insn) ? [text] : rawInsn(insn);
}
