// What the kernel's xlated dump cannot express, recovered so that the JIT's input equals
// the one the kernel JIT saw.
//
// bpf_insn_prepare_dump loses three things the x86 JIT's output depends on:
//  - PROBE_MEM / PROBE_MEM32 modes (BTF-pointer loads, arena loads and stores) are shown
//    as MEM (PROBE_MEMSX, PROBE_MEM32SX and PROBE_ATOMIC are not rewritten);
//  - a tail call's poke slot (direct vs indirect) is shown as `call 12` either way;
//  - which map is the arena (only its id remains) and its addresses.
// The arena comes from the load itself (map ids -> map types). For the other two the kernel's
// own image decides, one instruction at a time and only between the forms that the dump
// maps to the same text: where our image first departs from the kernel's (comparing
// instruction by instruction, jump displacements aside, since they follow from sizes later
// in the image), the instruction's hidden alternatives are tried, and one is kept only if it
// reproduces the kernel's bytes for that instruction exactly. Anything else the JIT does is
// still checked byte for byte by the comparison that follows.

import { Decoder, DecoderOptions } from 'iced-x86';
import type { Insn } from '../../isa/insn.ts';
import {
  BPF_JMP, BPF_LDX, BPF_MEM, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX,
  BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE, BPF_ST, BPF_STX, LD_IMM64, bpfClass, bpfMode,
} from '../../isa/opcodes.ts';
import { BPF_PROBE_MEM, BPF_PROBE_MEM32, BPF_TAIL_CALL } from './body.ts';
import { EXTERNAL_RELOCS } from './compare.ts';
import type { JitFunction, JitImage } from './types.ts';

export interface Recovered {
  readonly funcs: JitFunction[];
  /** One line per recovered fact, e.g. `func 0 insn 12: PROBE_MEM32`. */
  readonly notes: string[];
}

const withMode = (insn: Insn, mode: number): Insn => ({ ...insn, code: (insn.code & ~0xe0) | mode });

/** The forms the dump shows as this instruction, other than the one it shows. */
function alternatives(fn: JitFunction, index: number): { label: string; fn: JitFunction }[] {
  const insn = fn.insns[index];
  const cls = bpfClass(insn.code);
  const mode = bpfMode(insn.code);
  const swap = (m: number, label: string): { label: string; fn: JitFunction } => {
    const insns = fn.insns.slice();
    insns[index] = withMode(insn, m);
    return { label, fn: { ...fn, insns } };
  };
  if (insn.code === (BPF_JMP | BPF_TAIL_CALL)) {
    // indirect, direct, or direct with the target installed: the ones not in use now.
    const set = (s: ReadonlySet<number> | undefined, on: boolean): Set<number> => {
      const out = new Set(s ?? []);
      if (on) out.add(index);
      else out.delete(index);
      return out;
    };
    const forms = [
      { label: 'indirect tail call', direct: false, patched: false },
      { label: 'direct tail call', direct: true, patched: false },
      { label: 'direct tail call (target installed)', direct: true, patched: true },
    ];
    const isDirect = !!fn.directTailCalls?.has(index);
    const isPatched = !!fn.patchedTailCalls?.has(index);
    return forms.filter((f) => f.direct !== isDirect || f.patched !== isPatched).map((f) => ({
      label: f.label,
      fn: { ...fn, directTailCalls: set(fn.directTailCalls, f.direct), patchedTailCalls: set(fn.patchedTailCalls, f.patched) },
    }));
  }
  if (cls === BPF_LDX && mode === BPF_MEM) {
    const out = [swap(BPF_PROBE_MEM, 'PROBE_MEM')];
    if (fn.arena) out.push(swap(BPF_PROBE_MEM32, 'PROBE_MEM32'));
    return out;
  }
  // The dump rewrites only PROBE_MEM and PROBE_MEM32: PROBE_MEMSX, PROBE_MEM32SX (0xc0) and
  // PROBE_ATOMIC are shown as they are (checked on 6.18 with arena_ldsx / arena_atomic).
  if ((cls === BPF_STX || cls === BPF_ST) && mode === BPF_MEM && fn.arena) return [swap(BPF_PROBE_MEM32, 'PROBE_MEM32')];
  return [];
}

interface Divergence {
  readonly func: number;
  /** Instruction index, or -1 for the prologue. */
  readonly index: number;
}

/** Bytes of `code` with the fields of external relocations in [from, to) zeroed. */
function maskedRange(img: JitImage, f: number, from: number, to: number): Uint8Array {
  const out = img.funcs[f].code.slice(from, to);
  for (const r of img.funcs[f].relocs) {
    if (!EXTERNAL_RELOCS.has(r.kind)) continue;
    for (let k = r.at; k < r.at + r.size; k++) if (k >= from && k < to) out[k - from] = 0;
  }
  return out;
}

/** Compare one instruction's code (our bytes at [from, to) of function f) with the kernel's
 *  at `kAt`: branches are compared by kind only (their displacement and size follow from
 *  later code), everything else byte for byte with external fields masked in both.
 *  Returns the kernel's length for the instruction, or -1 when they differ. */
function sameInsn(img: JitImage, f: number, from: number, to: number, kernel: Uint8Array, kAt: number, kEnd: number): number {
  const ours = maskedRange(img, f, from, to);
  const dOurs = new Decoder(64, ours, DecoderOptions.None);
  const dTheirs = new Decoder(64, kernel.subarray(0, kEnd), DecoderOptions.None);
  try {
    let o = 0;
    let k = kAt;
    while (o < ours.length) {
      dOurs.position = o;
      const a = dOurs.decode();
      if (k >= kEnd) { a.free(); return -1; }
      dTheirs.position = k;
      const b = dTheirs.decode();
      try {
        if (a.isInvalid || b.isInvalid) return -1;
        const isBranch = (i: typeof a): boolean => i.isJccShortOrNear || i.isJmpShortOrNear;
        const sameKind = isBranch(a) && isBranch(b) && a.isJccShortOrNear === b.isJccShortOrNear && a.conditionCode === b.conditionCode;
        // A jump that leaves the instruction is compared by kind only; one inside the
        // sequence itself (tail calls, probe loads) has a fixed target: byte for byte.
        const leaves = sameKind && !(a.nearBranchTarget >= 0n && a.nearBranchTarget < BigInt(ours.length));
        if (!leaves) {
          if (a.length !== b.length) return -1;
          for (let q = 0; q < a.length; q++) {
            if (ours[o + q] !== kernel[k + q] && !maskedAt(img, f, from + o + q)) return -1;
          }
        }
        o += a.length;
        k += b.length;
      } finally {
        a.free();
        b.free();
      }
    }
    return k - kAt;
  } finally {
    dOurs.free();
    dTheirs.free();
  }
}

function maskedAt(img: JitImage, f: number, at: number): boolean {
  return img.funcs[f].relocs.some((r) => EXTERNAL_RELOCS.has(r.kind) && at >= r.at && at < r.at + r.size);
}

/** The first instruction whose own code differs from the kernel's, jump sizes aside. */
export function firstDivergence(img: JitImage, kernel: Uint8Array, lens: readonly number[]): Divergence | undefined {
  let kBase = 0;
  for (let f = 0; f < img.funcs.length && f < lens.length; f++) {
    const fi = img.funcs[f];
    const kEnd = kBase + lens[f];
    const offs = fi.insnOffsets;
    if (sameInsn(img, f, 0, offs[0], kernel, kBase, kEnd) !== offs[0]) return { func: f, index: -1 };
    let k = kBase + offs[0];
    for (let i = 0; i + 1 < offs.length; i++) {
      if (offs[i] === offs[i + 1]) continue;
      const n = sameInsn(img, f, offs[i], offs[i + 1], kernel, k, kEnd);
      if (n < 0) return { func: f, index: i };
      k += n;
    }
    kBase = kEnd;
  }
  return undefined;
}

const later = (a: Divergence | undefined, b: Divergence): boolean =>
  a === undefined || a.func > b.func || (a.func === b.func && a.index > b.index);

/** Recover probe modes and direct tail calls from the kernel's image (see the top). */
export function recoverFromImage(
  funcs: JitFunction[], kernel: Uint8Array, lens: readonly number[], jit: (f: JitFunction[]) => JitImage,
): Recovered {
  const notes: string[] = [];
  let cur = funcs;
  const limit = funcs.reduce((a, f) => a + f.insns.length, 0);
  for (let step = 0; step <= limit; step++) {
    let div: Divergence | undefined;
    try {
      div = firstDivergence(jit(cur), kernel, lens);
    } catch {
      break;
    }
    if (!div || div.index < 0) break;
    const d = div;
    let taken = false;
    for (const alt of alternatives(cur[d.func], d.index)) {
      const next = cur.map((fn, k) => (k === d.func ? alt.fn : fn));
      let after: Divergence | undefined;
      try {
        after = firstDivergence(jit(next), kernel, lens);
      } catch {
        continue;
      }
      if (later(after, d)) {
        cur = next;
        notes.push(`func ${d.func} insn ${d.index}: ${alt.label}`);
        taken = true;
        break;
      }
    }
    if (!taken) break;
  }
  return { funcs: cur, notes };
}

/** Whether an ld_imm64 names one of the given maps (by the id the dump shows). */
function namesMap(insn: Insn, ids: ReadonlySet<number>): boolean {
  if (insn.code !== LD_IMM64) return false;
  const map = [BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE].includes(insn.src);
  return map && ids.has(insn.imm);
}

/** A program that uses an arena map runs every function with r12 = kern_vm_start (the
 *  verifier records the arena on the program; every subprog shares it). The addresses are
 *  per load and masked in kernel mode; here they stay 0. */
export function withArena(funcs: readonly JitFunction[], arenaMapIds: ReadonlySet<number>, usesArena = false): JitFunction[] {
  const named = arenaMapIds.size > 0 && funcs.some((f) => f.insns.some((i) => namesMap(i, arenaMapIds)));
  if (!named && !usesArena) return [...funcs];
  return funcs.map((f) => ({ ...f, arena: { kernVmStart: 0n, userVmStart: 0n } }));
}
