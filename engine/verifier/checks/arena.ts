// BPF arenas in the verifier (6.18, confirmed on the live kernel):
//
//   - a program has an arena when one of its ld_imm64 instructions names an ARENA map (at
//     most one per program); only then may it use addr_space_cast;
//   - `rX = addr_space_cast(rY, 0, 1)` (imm 1: address space 1 to 0) makes rX an arena
//     pointer, whatever rY held; `addr_space_cast(rY, 1, 0)` (imm 1 << 16) gives a scalar;
//   - an arena pointer is a 32-bit offset into the arena: any ALU operation on it (or with
//     it as the source) leaves an arena pointer, and a 64-bit one is done as a 32-bit one
//     after verification (needs_zext);
//   - loads and stores through it are not bounds-checked (faults are fixed up at run time:
//     PROBE_MEM32); a load gives an unknown scalar of the access size;
//   - arena pointers carry nothing, so any two are equivalent for pruning (prune.ts), and
//     the log shows them as `arena` (state-print.ts).
//
// The rewrites these facts drive are in fixup/arena.ts.

import type { Insn, RawSlot } from '../../isa/insn.ts';
import { BPF_ALU64, BPF_AND, BPF_FETCH, BPF_OR, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_XOR, LD_IMM64, bpfClass } from '../../isa/opcodes.ts';
import type { MapDef } from '../../program/types.ts';
import { RegType } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import { markUnknown } from '../state/regs.ts';
import { reject, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';

/** `off` of BPF_ALU64 | BPF_MOV | BPF_X that makes it an address-space cast. */
export const BPF_ADDR_SPACE_CAST = 1;
/** imm of the cast into address space 0 (an arena pointer), and of the one back to 1. */
export const CAST_TO_KERN = 1;
export const CAST_TO_USER = 1 << 16;

const EBUSY = 16;

const isArena = (m: MapDef | undefined): boolean => m?.type === 'ARENA';

/** The map an ld_imm64 slot names, if it names one (map fd or direct value). */
function ldImmMap(env: VerifierEnv, s: RawSlot): MapDef | undefined {
  if (s.code !== LD_IMM64 || (s.src !== BPF_PSEUDO_MAP_FD && s.src !== BPF_PSEUDO_MAP_VALUE)) return undefined;
  return env.prog.maps[s.imm];
}

/** Called by the ld_imm64 pre-pass for each map it resolves: the first arena becomes the
 *  program's, a second one is refused (EBUSY). */
export function noteUsedMap(env: VerifierEnv, map: MapDef, slot: number): void {
  if (!isArena(map)) return;
  const first = env.slots.findIndex((s) => isArena(ldImmMap(env, s)));
  if (first >= 0 && first < slot && env.prog.maps[env.slots[first].imm] !== map) throw reject(EBUSY, 'Only one arena per program');
}

/** env->prog->aux->arena: the arena map the program's ld_imm64 instructions name. */
export function progArena(env: VerifierEnv): MapDef | undefined {
  for (const s of env.slots) {
    const m = ldImmMap(env, s);
    if (isArena(m)) return m;
  }
  return undefined;
}

export const progHasArena = (env: VerifierEnv): boolean => progArena(env) !== undefined;

/** Is this ld_imm64 a direct value into an arena? Its value is a user address: a scalar. */
export function isArenaValueLoad(env: VerifierEnv, insn: Insn): boolean {
  return insn.src === BPF_PSEUDO_MAP_VALUE && isArena(env.prog.maps[insn.imm]);
}

/** The user address an ld_imm64 direct value into an arena becomes (arena_map_direct_value_addr:
 *  the arena's user_vm_start, which map_extra fixes, plus the offset); undefined when the
 *  address is only chosen at mmap time. */
export function arenaValueAddr(map: MapDef, off: number): bigint | undefined {
  return map.mapExtra !== undefined ? BigInt.asUintN(64, map.mapExtra + BigInt(off >>> 0)) : undefined;
}

/** check_alu_op's field checks for a cast (the caller has seen off == 1 on ALU64 MOV X). */
export function checkAddrSpaceCastFields(env: VerifierEnv, insn: Insn): void {
  if (insn.imm !== CAST_TO_KERN && insn.imm !== CAST_TO_USER) {
    throw reject(EINVAL, 'addr_space_cast insn can only convert between address space 1 and 0');
  }
  if (!progHasArena(env)) throw reject(EINVAL, 'addr_space_cast insn can only be used in a program that has an associated arena');
}

/** The cast's result: an arena pointer into address space 0, a scalar back to 1. */
export function addrSpaceCast(dst: RegState, imm: number): void {
  markUnknown(dst);
  if (imm === CAST_TO_KERN) dst.type = RegType.PTR_TO_ARENA;
}

/**
 * adjust_reg_min_max_vals' first case: when either operand is an arena pointer the result
 * is one (a scalar destination takes the source's state). Returns false when neither is.
 * A 64-bit operation is recorded to be done in 32 bits after verification.
 */
export function arenaAlu(env: VerifierEnv, insn: Insn, dst: RegState, src: RegState | undefined): boolean {
  if (dst.type !== RegType.PTR_TO_ARENA && src?.type !== RegType.PTR_TO_ARENA) return false;
  if (dst.type !== RegType.PTR_TO_ARENA && src) Object.assign(dst, src);
  if (bpfClass(insn.code) === BPF_ALU64) {
    const aux = env.aux[env.insnIdx];
    aux.fixup = { ...aux.fixup, arenaZext: true };
  }
  return true;
}

/** check_mem_access for an arena pointer: no bounds, a load reads an unknown value (the
 *  caller narrows it to the access size). */
export function arenaAccess(dst: RegState | undefined): void {
  if (dst) markUnknown(dst);
}

/** bpf_jit_supports_insn(insn, in_arena) for x86-64 (6.18): the fetching and/or/xor
 *  atomics have no arena form there. */
export function arenaAtomicSupported(imm: number): boolean {
  return imm !== (BPF_AND | BPF_FETCH) && imm !== (BPF_OR | BPF_FETCH) && imm !== (BPF_XOR | BPF_FETCH);
}
