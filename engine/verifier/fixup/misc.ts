// do_misc_fixups for what this model verifies: guards that make division faults impossible,
// LD_ABS/LD_IND as helper calls, map helper calls (inlined lookups for hash/array maps, direct
// calls to the map's ops otherwise), bpf_tail_call as its own opcode, the x86-64 inlining of
// bpf_jiffies64 and bpf_get_smp_processor_id, and every remaining helper call turned into a
// direct call. 6.18 x86-64, JIT on, privileged loader (bypass_spec_v1: no index masking).

import type { RawSlot } from '../../isa/insn.ts';
import {
  BPF_ABS, BPF_ADD, BPF_ALU, BPF_ALU64, BPF_B, BPF_CALL, BPF_DIV, BPF_DW, BPF_EXIT, BPF_H, BPF_IND, BPF_JA,
  BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_JMP32, BPF_JNE, BPF_JSGE, BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MEM,
  BPF_MOD, BPF_MOV, BPF_MUL, BPF_NEG, BPF_ST, BPF_W, BPF_X, BPF_XOR, BPF_JCOND, BPF_SUB, BPF_STX, LD_IMM64,
  bpfClass, bpfMode, bpfOp, bpfSize,
} from '../../isa/opcodes.ts';
import type { MapDef } from '../../program/types.ts';
import { NotImplementedError } from '../errors.ts';
import type { XProg } from './xprog.ts';
import { MAPS } from './layout.ts';
import { BPF_REG_AX } from './zext.ts';
import { kernelCallImm, type KernelConsts } from './kernel-calls.ts';

const raw = (code: number, dst: number, src: number, off: number, imm: number): RawSlot => ({ code, dst, src, off, imm });
const jmpImm = (op: number, dst: number, imm: number, off: number): RawSlot => raw(BPF_JMP | op | BPF_K, dst, 0, off, imm);
const ja = (off: number): RawSlot => raw(BPF_JMP | BPF_JA, 0, 0, off, 0);
const callKernel = (fn: string): RawSlot => raw(BPF_JMP | BPF_CALL, 0, 0, 0, kernelCallImm(fn));
const ldxMem = (size: number, dst: number, src: number, off: number): RawSlot => raw(BPF_LDX | BPF_MEM | size, dst, src, off, 0);
/** BPF_MOV64_PERCPU_REG: dst = this CPU's copy of the per-CPU address in src. */
const movPercpu = (dst: number, src: number): RawSlot => raw(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, -1, 0);

/** BPF_JMP | BPF_TAIL_CALL: the kernel-internal opcode bpf_tail_call becomes. */
export const BPF_TAIL_CALL = 0xf0;

const FUNC = {
  map_lookup_elem: 1, map_update_elem: 2, map_delete_elem: 3, tail_call: 12, get_smp_processor_id: 8,
  map_push_elem: 87, map_pop_elem: 88, map_peek_elem: 89, redirect_map: 51, for_each_map_elem: 164,
  map_lookup_percpu_elem: 195, jiffies64: 118, timer_set_callback: 170,
} as const;

const MAP_HELPERS = new Set<number>([
  FUNC.map_lookup_elem, FUNC.map_update_elem, FUNC.map_delete_elem, FUNC.map_push_elem, FUNC.map_pop_elem,
  FUNC.map_peek_elem, FUNC.redirect_map, FUNC.for_each_map_elem, FUNC.map_lookup_percpu_elem,
]);

const roundUp8 = (n: number): number => (n + 7) & ~7;
const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** map_gen_lookup of the map type, or undefined when it has none (a direct call then). */
function genLookup(map: MapDef): RawSlot[] | undefined {
  const keyOff = MAPS.htab_elem_key.off + roundUp8(map.keySize);
  switch (map.type) {
    case 'HASH':
      return [callKernel('__htab_map_lookup_elem'), jmpImm(BPF_JEQ, 0, 0, 1), raw(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, keyOff)];
    case 'LRU_HASH': {
      // A hit sets the element's reference bit (once) for the LRU.
      const ref = MAPS.htab_elem_lru_ref.off;
      return [
        callKernel('__htab_map_lookup_elem'), jmpImm(BPF_JEQ, 0, 0, 4), ldxMem(BPF_B, 1, 0, ref), jmpImm(BPF_JNE, 1, 0, 1),
        raw(BPF_ST | BPF_MEM | BPF_B, 0, 0, ref, 1), raw(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, keyOff),
      ];
    }
    case 'PERCPU_HASH':
      return [
        callKernel('__htab_map_lookup_elem'), jmpImm(BPF_JEQ, 0, 0, 3), raw(BPF_ALU64 | BPF_ADD | BPF_K, 0, 0, 0, keyOff),
        ldxMem(BPF_DW, 0, 0, 0), movPercpu(0, 0),
      ];
    case 'ARRAY':
    case 'PERCPU_ARRAY': {
      const percpu = map.type === 'PERCPU_ARRAY';
      // BPF_F_INNER_MAP (1 << 12) arrays can be swapped for differently sized ones.
      if (map.flags & (1 << 12)) return undefined;
      const elemSize = percpu ? 8 : roundUp8(map.valueSize);
      const out: RawSlot[] = [
        raw(BPF_ALU64 | BPF_ADD | BPF_K, 1, 0, 0, percpu ? MAPS.array_pptrs.off : MAPS.array_value.off),
        ldxMem(BPF_W, 0, 2, 0),
        jmpImm(BPF_JGE, 0, map.maxEntries, percpu ? 5 : 3),
        isPow2(elemSize) ? raw(BPF_ALU64 | BPF_LSH | BPF_K, 0, 0, 0, Math.log2(elemSize)) : raw(BPF_ALU64 | BPF_MUL | BPF_K, 0, 0, 0, elemSize),
        raw(BPF_ALU64 | BPF_ADD | BPF_X, 0, 1, 0, 0),
      ];
      if (percpu) out.push(ldxMem(BPF_DW, 0, 0, 0), movPercpu(0, 0));
      out.push(ja(1), raw(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0));
      return out;
    }
    default:
      return undefined;
  }
}

/** Guards around a division or modulo by a register (and sdiv/smod by -1). */
function divGuard(insn: RawSlot): RawSlot[] | undefined {
  const cls = bpfClass(insn.code);
  const op = bpfOp(insn.code);
  if ((cls !== BPF_ALU && cls !== BPF_ALU64) || (op !== BPF_DIV && op !== BPF_MOD)) return undefined;
  const is64 = cls === BPF_ALU64;
  const isDiv = op === BPF_DIV;
  const signed = insn.off === 1;
  const aluCls = is64 ? BPF_ALU64 : BPF_ALU;
  const jmpCls = is64 ? BPF_JMP : BPF_JMP32;
  const d = insn.dst;
  const mov32 = raw(BPF_ALU | BPF_MOV | BPF_X, d, d, 0, 0);
  if ((insn.code & BPF_X) === 0) {
    // By a constant: only the signed -1 case needs care (the verifier rejected 0).
    if (!signed || insn.imm !== -1) return undefined;
    return isDiv ? [raw(aluCls | BPF_NEG | BPF_K, d, 0, 0, 0)] : [raw(BPF_ALU | BPF_MOV | BPF_K, d, 0, 0, 0)];
  }
  const s = insn.src;
  if (!signed) {
    if (isDiv) return [raw(jmpCls | BPF_JNE | BPF_K, s, 0, 2, 0), raw(BPF_ALU | BPF_XOR | BPF_X, d, d, 0, 0), ja(1), insn];
    const mod = [raw(jmpCls | BPF_JEQ | BPF_K, s, 0, is64 ? 1 : 2, 0), insn, ja(1), mov32];
    return is64 ? mod.slice(0, 2) : mod;
  }
  const head = [raw(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_AX, s, 0, 0), raw(aluCls | BPF_ADD | BPF_K, BPF_REG_AX, 0, 0, 1)];
  if (isDiv) {
    return [
      ...head, raw(jmpCls | BPF_JGT | BPF_K, BPF_REG_AX, 0, 4, 1), raw(jmpCls | BPF_JEQ | BPF_K, BPF_REG_AX, 0, 1, 0),
      raw(aluCls | BPF_MOV | BPF_K, d, 0, 0, 0), raw(aluCls | BPF_NEG | BPF_K, d, 0, 0, 0), ja(1), insn,
    ];
  }
  const smod = [
    ...head, raw(jmpCls | BPF_JGT | BPF_K, BPF_REG_AX, 0, 3, 1), raw(jmpCls | BPF_JEQ | BPF_K, BPF_REG_AX, 0, is64 ? 3 : 4, 1),
    raw(BPF_ALU | BPF_MOV | BPF_K, d, 0, 0, 0), ja(1), insn, ja(1), mov32,
  ];
  return is64 ? smod.slice(0, smod.length - 2) : smod;
}

/** LD_ABS / LD_IND as a call of the skb load helpers (r6 holds the context). */
function ldAbs(insn: RawSlot): RawSlot[] {
  const out: RawSlot[] = [];
  if (bpfMode(insn.code) === BPF_ABS) out.push(raw(BPF_ALU64 | BPF_MOV | BPF_K, 2, 0, 0, insn.imm));
  else {
    out.push(raw(BPF_ALU64 | BPF_MOV | BPF_X, 2, insn.src, 0, 0));
    if (insn.imm) out.push(raw(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, insn.imm));
  }
  out.push(raw(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0));
  const size = bpfSize(insn.code);
  const fn = size === BPF_B ? 'bpf_skb_load_helper_8_no_cache' : size === BPF_H ? 'bpf_skb_load_helper_16_no_cache' : 'bpf_skb_load_helper_32_no_cache';
  out.push(callKernel(fn), jmpImm(BPF_JSGE, 0, 0, 2), raw(BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0, 0), raw(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  return out;
}

/** 6.18 timed may_goto: a countdown in a hidden stack slot, refilled by
 *  arch_bpf_timed_may_goto when it hits zero (which also checks the time slot). */
const BPF_MAX_TIMED_LOOPS = 0xffff;

function mayGoto(insn: RawSlot, stackDepth: number): RawSlot[] {
  // Two hidden slots: the count at depth-16, the loop's start time at depth-8. The refill
  // call gets the offset of the pair's start (the count), not of the time slot (6.18).
  const cnt = -stackDepth - 16;
  return [
    ldxMem(BPF_DW, BPF_REG_AX, 10, cnt),
    jmpImm(BPF_JEQ, BPF_REG_AX, 0, insn.off >= 0 ? insn.off + 5 : insn.off - 1),
    raw(BPF_ALU64 | BPF_SUB | BPF_K, BPF_REG_AX, 0, 0, 1),
    jmpImm(BPF_JNE, BPF_REG_AX, 0, 2),
    raw(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_AX, 0, 0, cnt),
    callKernel('arch_bpf_timed_may_goto'),
    raw(BPF_STX | BPF_MEM | BPF_DW, 10, BPF_REG_AX, cnt, 0),
  ];
}

/** do_misc_fixups' stack-using rewrites and helper calls. May_goto's two hidden slots sit
 *  below the subprog's stack (whatever bpf_loop inlining already added) and count in its
 *  depth from then on. */
export function miscFixups(x: XProg, consts: KernelConsts): void {
  const needsMayGotoSlots = new Set<number>();
  for (let i = 0; i < x.len; i++) {
    if (x.slots[i].code === (BPF_JMP | BPF_JCOND)) {
      const sp = x.subprogOf(i);
      needsMayGotoSlots.add(sp);
      const p = mayGoto(x.slots[i], x.stackDepths[sp]);
      x.patch(i, p);
      i += p.length - 1;
    }
  }
  miscCalls(x, consts);
  // Each subprog with a may_goto starts by filling its counter and clearing the time slot.
  for (const sp of [...needsMayGotoSlots].sort((a, b) => b - a)) {
    const start = x.subprogStarts[sp];
    const d = x.stackDepths[sp];
    x.patch(start, [
      raw(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -d - 16, BPF_MAX_TIMED_LOOPS),
      raw(BPF_ST | BPF_MEM | BPF_DW, 10, 0, -d - 8, 0),
      x.slots[start],
    ]);
    x.stackDepths[sp] = d + MAY_GOTO_SLOTS_SIZE;
  }
}

/** A stand-in for the kernel's per-load bpf_prog_aux address (a direct-map pointer). */
const DEFAULT_PROG_AUX = 0xffff888140000000n;

/** The count and the time slot of the timed may_goto (6.18). */
const MAY_GOTO_SLOTS_SIZE = 16;

function miscCalls(x: XProg, consts: KernelConsts): void {
  for (let i = 0; i < x.len; i++) {
    const insn = x.slots[i];
    const cls = bpfClass(insn.code);
    if (insn.code === LD_IMM64) {
      i++;
      continue;
    }
    const guard = divGuard(insn);
    if (guard) {
      x.patch(i, guard);
      i += guard.length - 1;
      continue;
    }
    if (cls === BPF_LD && (bpfMode(insn.code) === BPF_ABS || bpfMode(insn.code) === BPF_IND)) {
      const p = ldAbs(insn);
      x.patch(i, p);
      i += p.length - 1;
      continue;
    }
    if (insn.code !== (BPF_JMP | BPF_CALL) || insn.src !== 0) continue;
    const id = insn.imm;
    const aux = x.aux[i];
    if (id === FUNC.tail_call) {
      // Direct (patched at runtime) when map and key are known; imm then names the poke slot.
      x.slots[i] = { ...insn, code: BPF_JMP | BPF_TAIL_CALL, imm: 0 };
      continue;
    }
    if (MAP_HELPERS.has(id) && aux.map !== undefined && aux.map !== 'poison') {
      const lookup = id === FUNC.map_lookup_elem ? genLookup(aux.map.def) : undefined;
      if (lookup) {
        x.patch(i, lookup);
        i += lookup.length - 1;
        continue;
      }
      x.slots[i] = { ...insn, imm: kernelCallImm(`map_ops:${aux.map.def.type}:${id}`) };
      continue;
    }
    if (id === FUNC.jiffies64) {
      const addr = consts.jiffiesAddr;
      const p = [
        raw(BPF_LD | 0x18, 0, 0, 0, Number(BigInt.asIntN(32, addr))), raw(0, 0, 0, 0, Number(BigInt.asIntN(32, addr >> 32n))),
        ldxMem(BPF_DW, 0, 0, 0),
      ];
      x.patch(i, p);
      i += p.length - 1;
      continue;
    }
    if (id === FUNC.get_smp_processor_id) {
      const p = [raw(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, consts.cpuNumberOffset | 0), movPercpu(0, 0), ldxMem(BPF_W, 0, 0, 0)];
      x.patch(i, p);
      i += p.length - 1;
      continue;
    }
    if (id === FUNC.timer_set_callback) {
      // The helper's hidden third argument: the program (its bpf_prog_aux), so that the
      // timer holds a reference to it (calls/timer.ts).
      const aux = consts.progAuxAddr ?? DEFAULT_PROG_AUX;
      const p = [
        raw(BPF_LD | 0x18, 3, 0, 0, Number(BigInt.asIntN(32, aux))), raw(0, 0, 0, 0, Number(BigInt.asIntN(32, aux >> 32n))),
        { ...insn, imm: kernelCallImm(`helper:${id}`) },
      ];
      x.patch(i, p);
      i += p.length - 1;
      continue;
    }
    if (id < 0) throw new NotImplementedError(`helper call fixup for id ${id}`);
    x.slots[i] = { ...insn, imm: kernelCallImm(`helper:${id}`) };
  }
}


