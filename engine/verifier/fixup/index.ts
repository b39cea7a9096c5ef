// The rewrites 6.18 applies after do_check accepted a program, in the kernel's order, ending
// in the form bpf_prog_info.xlated_prog_insns shows (bpf_insn_prepare_dump):
//
//   markZextDst           which 32-bit defs have their upper half read (do_check's by-product)
//   inlineBpfLoops        bpf_loop calls fit for it become open-coded loops (+24 bytes of stack)
//   hardWireDeadBranches  \
//   removeDeadCode         > privileged only (a callback never run goes with its subprog)
//   removeNops            /
//   convertCtxAccesses    ctx field loads/stores -> sk_buff / xdp_buff accesses
//   convertArenaAccesses  arena loads/stores/atomics -> PROBE_MEM32 / PROBE_MEM32SX / PROBE_ATOMIC
//   arenaAluFixups        addr_space_cast and 64-bit arena ALU -> 32-bit instructions (arena.ts)
//   miscFixups            division guards, LD_ABS, may_goto (+16 bytes), map helper inlining, tail calls, helper calls
//   zextPass              BPF_F_TEST_RND_HI32 poisoning (x86-64 needs no zero-extension)
//   fixupCallArgs         after the multi-function JIT: call off = pc offset, imm = subprog;
//                         callback refs keep the pc offset, the second slot names the subprog
//   toDump                map pointers -> map ids, tail calls -> `call bpf_tail_call`, arena
//                         values -> their user address, PROBE_MEM32 -> MEM (the JIT keeps it)
//
// The bpf_fastcall spill/fill removal runs before these, in the verifier (fastcall.ts and
// fixup/fastcall.ts), because it changes the stack depth the depth check sees.
// Not modelled (throws NotImplementedError where it would matter): kfunc fixups other than
// the casts (kfunc.ts), unprivileged sanitation, contexts other than socket_filter /
// sched_cls / sched_act / xdp.

import type { Insn, RawSlot } from '../../isa/insn.ts';
import { BPF_CALL, BPF_JMP, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, LD_IMM64 } from '../../isa/opcodes.ts';
import { PROG_FLAGS } from '../../program/types.ts';
import type { VerifierEnv } from '../env.ts';
import { NotImplementedError } from '../errors.ts';
import { XProg, type XAux } from './xprog.ts';
import { hardWireDeadBranches, removeDeadCode, removeNops } from './dead-code.ts';
import { convertCtxAccesses } from './ctx-access.ts';
import { miscFixups, BPF_TAIL_CALL } from './misc.ts';
import { markZextDst, zextPass, rndHi32Source } from './zext.ts';
import { DEFAULT_KERNEL_CONSTS, type KernelConsts } from './kernel-calls.ts';
import { fixupKfuncStackArgs } from '../stack-arg/fixup.ts';
import { fixupKfuncCasts } from './kfunc.ts';
import { inlineBpfLoops } from './loop-inline.ts';
import { loopInlineStates } from '../calls/callback.ts';
import { HIDDEN_CB, hasHiddenCb } from '../kfunc/throw.ts';
import { BPF_F_NO_USER_CONV, arenaAluFixups, convertArenaAccesses, dumpForm } from './arena.ts';
import { arenaValueAddr, progArena } from '../checks/arena.ts';
import type { MapDef } from '../../program/types.ts';

export { DEFAULT_KERNEL_CONSTS, type KernelConsts };

export interface XlatedOptions {
  /** Map id per Program.maps index, as the kernel's dump shows them. Default: index + 1. */
  readonly mapIds?: readonly number[];
  /** Kernel-image addresses baked into inlined helpers. */
  readonly kernelConsts?: KernelConsts;
  /** Seed for the BPF_F_TEST_RND_HI32 values (deterministic by default). */
  readonly rndSeed?: number;
}

/** Engine map id for map index `i` when none is given: i + 1 (ids are never 0). */
export const defaultMapId = (i: number): number => i + 1;

/** The program as the xlated dump of a privileged 6.18 load would show it. `starts`, when
 *  given, receives each subprog's first slot in that dump; `jitOut` the same program as the
 *  JIT gets it (arena accesses still PROBE_MEM32). */
export function xlatedProgram(env: VerifierEnv, opts: XlatedOptions = {}, starts?: number[], depths?: number[], jitOut?: Insn[]): Insn[] {
  const x = fromEnv(env);
  markZextDst(x);
  inlineBpfLoops(x, loopInlineStates(env));
  hardWireDeadBranches(x);
  removeDeadCode(x);
  removeNops(x);
  convertCtxAccesses(x, env.prog.progType);
  convertArenaAccesses(x);
  if (hasHiddenCb(env)) appendHiddenCb(x);
  arenaAluFixups(x, arenaNoUserConv(env));
  miscFixups(x, opts.kernelConsts ?? DEFAULT_KERNEL_CONSTS);
  fixupKfuncCasts(x);
  fixupKfuncStackArgs(x.slots, env.opts.series);
  zextPass(x, (env.prog.flags & PROG_FLAGS.BPF_F_TEST_RND_HI32) !== 0, rndHi32Source(opts.rndSeed));
  fixupCallArgs(x);
  starts?.push(...x.subprogStarts);
  depths?.push(...x.stackDepths);
  const dump = toDump(x, env.prog.maps, opts.mapIds);
  // Only PROBE_MEM32 accesses make the JIT's input differ from the dump.
  if (jitOut && x.slots.some((s) => dumpForm(s) !== s)) {
    for (const insn of toDump(x, env.prog.maps, opts.mapIds, false)) jitOut.push(insn);
  }
  return dump;
}

/** Does the program's arena carry BPF_F_NO_USER_CONV? */
function arenaNoUserConv(env: VerifierEnv): boolean {
  return ((progArena(env)?.flags ?? 0) & BPF_F_NO_USER_CONV) !== 0;
}

function fromEnv(env: VerifierEnv): XProg {
  const aux: XAux[] = env.aux.map((a, i) => ({
    seen: a.seen || (i > 0 && env.slots[i - 1].code === LD_IMM64 && env.insnAt[i] === undefined && env.aux[i - 1].seen),
    zextDst: false,
    orig: i,
    ...(a.fixup?.ptrType !== undefined ? { ptrType: a.fixup.ptrType } : {}),
    ...(a.fixup?.map !== undefined ? { map: a.fixup.map } : {}),
    ...(a.fixup?.key !== undefined ? { key: a.fixup.key } : {}),
    ...(a.fixup?.arenaZext ? { arenaZext: true } : {}),
  }));
  // The hidden exception callback is appended later, as do_misc_fixups does.
  const subprogs = env.subprogs.slice(0, hasHiddenCb(env) ? -1 : undefined);
  return new XProg([...env.slots], aux, subprogs.map((s) => s.start), subprogs.map((s) => s.stackDepth));
}

/** add_hidden_subprog: the default exception callback goes after the last instruction. */
function appendHiddenCb(x: XProg): void {
  const start = x.len;
  for (const s of HIDDEN_CB) {
    x.slots.push(s);
    x.aux.push({ seen: true, zextDst: false, orig: -1 });
  }
  x.subprogStarts.push(start);
  x.stackDepths.push(0);
}

/** jit_subprogs' trace in the dump: with several functions, a bpf-to-bpf call keeps its pc
 *  offset in `off` and names the callee's subprog number in `imm`; a callback reference
 *  (BPF_PSEUDO_FUNC ld_imm64) keeps its pc offset in `imm` and names the subprog in the
 *  second slot's imm. A single function (callbacks removed as dead code) is left as is. */
function fixupCallArgs(x: XProg): void {
  if (x.subprogStarts.length <= 1) return;
  const subprogAt = (i: number, target: number): number => {
    const sub = x.subprogStarts.indexOf(target);
    if (sub < 0) throw new NotImplementedError(`xlated: reference at ${i} to ${target}, which starts no function`);
    return sub;
  };
  for (let i = 0; i < x.len; i++) {
    const s = x.slots[i];
    if (s.code === LD_IMM64) {
      if (s.src === BPF_PSEUDO_FUNC) x.slots[i + 1] = { ...x.slots[i + 1], imm: subprogAt(i, i + s.imm + 1) };
      i++;
      continue;
    }
    if (s.code !== (BPF_JMP | BPF_CALL) || s.src !== BPF_PSEUDO_CALL) continue;
    x.slots[i] = { ...s, off: s.imm, imm: subprogAt(i, i + s.imm + 1) };
  }
}

/** bpf_insn_prepare_dump: fold slots back into instructions, show maps by id and tail calls
 *  as the helper call they came from. */
function toDump(x: XProg, maps: readonly MapDef[], mapIds: readonly number[] | undefined, dump = true): Insn[] {
  const out: Insn[] = [];
  for (let i = 0; i < x.len; i++) {
    const s: RawSlot = x.slots[i];
    if (s.code === LD_IMM64) {
      const next = x.slots[i + 1];
      i++;
      const map = s.src === BPF_PSEUDO_MAP_VALUE ? maps[s.imm] : undefined;
      if (map?.type === 'ARENA') {
        // No map id for an arena value: the dump shows the user address itself.
        const addr = arenaValueAddr(map, next.imm);
        if (addr === undefined) throw new NotImplementedError('xlated: arena address chosen at mmap time');
        out.push({ ...s, src: 0, imm: Number(BigInt.asIntN(32, addr)), next: { ...next, imm: Number(BigInt.asIntN(32, addr >> 32n)) } });
        continue;
      }
      if (s.src === BPF_PSEUDO_MAP_FD || s.src === BPF_PSEUDO_MAP_VALUE) {
        const id = mapIds?.[s.imm] ?? defaultMapId(s.imm);
        out.push({ ...s, imm: id, next: { ...next, imm: s.src === BPF_PSEUDO_MAP_VALUE ? next.imm : 0 } });
      } else out.push({ ...s, next });
      continue;
    }
    if (s.code === (BPF_JMP | BPF_TAIL_CALL)) {
      out.push({ ...s, code: BPF_JMP | BPF_CALL, imm: 12 });
      continue;
    }
    out.push(dump ? dumpForm(s) : s);
  }
  return out;
}
