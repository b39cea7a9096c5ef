// bpf_fastcall (6.18): clang may surround a call to a function that scratches only some of
// r0..r5 with spills and fills of the registers it keeps live, using the lowest stack slots
// of the function. Before do_check the verifier finds these patterns (markFastcallPatterns);
// during do_check any other access to those slots voids them for the whole function
// (checkFastcallStackContract); after a successful do_check the pairs around calls the
// kernel inlines are turned into no-ops and the function's stack depth shrinks
// (fixup/fastcall.ts).
//
// Shape of a pattern, for a call at index c, counting k = 1, 2, ...:
//   c-k: *(u64 *)(r10 + lowest + 8*(k-1)) = rX
//   c+k: rX = *(u64 *)(r10 + lowest + 8*(k-1))
// with rX a register the callee leaves alone, each register once, `lowest` the lowest
// offset any DW store through r10 uses in the function.
//
// 6.18 (checked on the live kernel): a jump into the middle of a pattern does not stop it;
// the 6.12 stable source refuses to grow a pattern over a jump target.
// 6.18: kfuncs opt in with KF_FASTCALL (bpf_cast_to_kern_ctx and bpf_rdonly_cast); helpers
// with allow_fastcall (bpf_get_smp_processor_id only) count when the call gets inlined,
// which x86-64 does for bpf_get_smp_processor_id.

import { BPF_CALL, BPF_DW, BPF_JMP, BPF_LDX, BPF_MEM, BPF_PSEUDO_KFUNC_CALL, BPF_STX } from '../isa/opcodes.ts';
import type { VerifierEnv } from './env.ts';
import { Arg, Ret, helperAllowed, helperProto } from './helpers/protos.ts';
import { builtinKfuncById } from '../program/kfuncs.ts';
import { kernelKfunc, kernelKfuncByName } from './kfunc/meta.ts';
import { KF } from './kfunc/table.ts';
import { type FastcallMarks, setFastcallMarks } from './fastcall-contract.ts';

export { fastcallMarks, checkFastcallStackContract, type FastcallMarks } from './fastcall-contract.ts';

const FP = 10;
const SPILL_DW = BPF_STX | BPF_MEM | BPF_DW;
const FILL_DW = BPF_LDX | BPF_MEM | BPF_DW;
/** r0..r5: the registers a call may scratch. */
const CALLER_SAVED = 0x3f;
const NR_CALLER_SAVED = 6;

/** BPF_FUNC_get_smp_processor_id: the one allow_fastcall helper, inlined on x86-64. */
const GET_SMP_PROCESSOR_ID = 8;
/** vmlinux kfuncs flagged KF_FASTCALL in 6.18 (kfunc/table.ts does not list the bit). */
const FASTCALL_KFUNCS: ReadonlySet<string> = new Set(['bpf_cast_to_kern_ctx', 'bpf_rdonly_cast']);

/** What the pattern search needs to know about a call's target. */
export interface FastcallCallee {
  /** Registers (bit i = ri, r0..r5) the callee may scratch: r0 unless void, r1.. per argument. */
  readonly clobbers: number;
  /** The kernel inlines the call, so the spills around it may go. */
  readonly inlined: boolean;
}

/** The callee of a helper call (helper_fastcall_clobber_mask), or undefined when the
 *  program may not call it (the kernel reports that later, in do_check). */
export function helperCallee(env: VerifierEnv, id: number): FastcallCallee | undefined {
  const p = helperProto(id);
  if (!p || !helperAllowed(p, env.prog.progType, env.prog.expectedAttachType)) return undefined;
  if (p.cap !== undefined && !(p.cap === 'bpf' ? env.bpfCapable : env.allowPtrLeaks)) return undefined;
  let clobbers = p.ret === Ret.VOID ? 0 : 1;
  p.args.forEach((a, i) => {
    if (a !== Arg.DONTCARE) clobbers |= 1 << (i + 1);
  });
  return { clobbers, inlined: id === GET_SMP_PROCESSOR_ID };
}

/** The callee of a kfunc call (kfunc_fastcall_clobber_mask: every declared parameter), or
 *  undefined when it does not resolve (module BTF is not modelled). */
export function kfuncCallee(imm: number, off: number): FastcallCallee | undefined {
  if (off !== 0) return undefined;
  const b = builtinKfuncById(imm);
  const k = b?.origin === 'kernel' ? kernelKfuncByName(b.name) : b ? undefined : kernelKfunc(imm);
  let nparams: number;
  let isVoid: boolean;
  let fastcall: boolean;
  if (k) {
    nparams = k.params.length;
    isVoid = k.retTypeId === 0;
    fastcall = FASTCALL_KFUNCS.has(k.name) || (k.facts.flags & KF.FASTCALL) !== 0;
  } else if (b) {
    nparams = b.params.length;
    isVoid = b.ret.trim() === 'void';
    fastcall = (b.flagBits & KF.FASTCALL) !== 0;
  } else return undefined;
  let clobbers = isVoid ? 0 : 1;
  for (let i = 0; i < nparams; i++) clobbers |= 2 ** (i + 1);
  return { clobbers, inlined: fastcall };
}

function calleeOf(env: VerifierEnv, i: number): FastcallCallee | undefined {
  const s = env.slots[i];
  if (s.src === 0) return helperCallee(env, s.imm);
  if (s.src === BPF_PSEUDO_KFUNC_CALL) return kfuncCallee(s.imm, s.off);
  return undefined; // a BPF-to-BPF call may scratch everything
}

/** The pattern around the call at `call`, if any (mark_fastcall_pattern_for_call). */
function markCall(env: VerifierEnv, m: FastcallMarks, sub: number, call: number, lowest: number): void {
  const callee = calleeOf(env, call);
  if (!callee || callee.clobbers === CALLER_SAVED) return;
  let expected = ~callee.clobbers & CALLER_SAVED;
  let k = 1;
  let off = lowest;
  for (; k <= NR_CALLER_SAVED; k++, off += 8) {
    if (call - k < 0 || call + k >= env.insnCnt) break;
    const spill = env.slots[call - k];
    const fill = env.slots[call + k];
    if (spill.code !== SPILL_DW || fill.code !== FILL_DW || spill.dst !== FP || fill.src !== FP) break;
    if (spill.src !== fill.dst || (expected & (1 << spill.src)) === 0) break;
    if (spill.off !== off || fill.off !== off) break;
    expected &= ~(1 << spill.src);
    m.pattern[call - k] = 1;
    m.pattern[call + k] = 1;
  }
  if (k === 1) return;
  // A pattern around a call the kernel does not inline stays, but its slots are still
  // reserved: a newer clang may know more fastcall functions than this kernel.
  if (callee.inlined) m.spills[call] = k - 1;
  else m.keepStack[sub] = true;
  m.stackOff[sub] = Math.min(m.stackOff[sub], off);
}

/** mark_fastcall_patterns: runs after the CFG checks, before do_check. */
export function markFastcallPatterns(env: VerifierEnv): void {
  const n = env.insnCnt;
  const m: FastcallMarks = {
    pattern: new Uint8Array(n),
    spills: new Uint8Array(n),
    stackOff: env.subprogs.map(() => 0),
    keepStack: env.subprogs.map(() => false),
  };
  env.subprogs.forEach((sp, s) => {
    const end = env.subprogs[s + 1]?.start ?? n;
    let lowest = 0;
    for (let i = sp.start; i < end; i++) {
      const x = env.slots[i];
      if (x.code === SPILL_DW && x.dst === FP) lowest = Math.min(lowest, x.off);
    }
    for (let i = sp.start; i < end; i++) {
      if (env.slots[i].code === (BPF_JMP | BPF_CALL)) markCall(env, m, s, i, lowest);
    }
  });
  // Most programs have no pattern: the stack checks then skip the contract entirely.
  if (m.pattern.includes(1)) setFastcallMarks(env, m);
}
