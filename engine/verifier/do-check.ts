// do_check: walk every path of the program from the first instruction, one instruction at a
// time, keeping unexplored branches on a stack and pruning at prune points. Each instruction
// class is dispatched to its check (checks/*.ts); this file owns the control flow and the
// per-instruction log lines.

import type { Insn } from '../isa/insn.ts';
import {
  BPF_ALU, BPF_ALU64, BPF_LDX, BPF_STX, BPF_ST, BPF_JMP, BPF_JMP32, BPF_LD, BPF_MEM, BPF_MEMSX, BPF_ATOMIC,
  BPF_CALL, BPF_JA, BPF_EXIT, BPF_K, BPF_IMM, BPF_ABS, BPF_IND, BPF_DW, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_FUNC, BPF_REG_1, bpfClass, bpfMode, bpfOp, bpfSize, bpfSrc, sizeBytes,
} from '../isa/opcodes.ts';
import { imm64 } from '../isa/insn.ts';
import { printInsn } from '../isa/disasm.ts';
import { RegType } from './state/types.ts';
import { markKnown, markPtr, markUnknown, newVerifierState } from './state/regs.ts';
import { isArenaValueLoad } from './checks/arena.ts';
import { printVerifierState } from './log/state-print.ts';
import { printInsnState } from './log/insn-state.ts';
import { NotImplementedError } from './errors.ts';
import { reject, EINVAL, E2BIG } from './reject.ts';
import type { VerifierEnv } from './env.ts';
import { checkAluOp } from './checks/alu.ts';
import { checkAtomic } from './checks/atomic.ts';
import { checkLdAbs, ldAbsEarlyExit } from './checks/ld-abs.ts';
import { saveAuxPtrType } from './checks/ptr-type.ts';
import { checkRegRead, checkRegWrite } from './checks/regs.ts';
import { Access, checkMemAccess } from './checks/mem.ts';
import { checkCondJmpOp } from './checks/jmp.ts';
import { checkHelperCall, checkFuncCall, prepareFuncExit, checkReturnCode } from './checks/call.ts';
import { isStateVisited, updateBranchCounts } from './prune.ts';
import { pushJmpHistory } from './precision/history.ts';
import { insnTextOpts } from './cfg/liveness.ts';
import { recordFixupFacts } from './fixup/facts.ts';
import { checkStackArgInsn } from './stack-arg/access.ts';
import { checkKfuncCall } from './stack-arg/kfunc.ts';
import { checkGlobalReturn, initGlobalArgs } from './calls/global.ts';
import { recoverSpeculative, specSuffix, stopsAfterInsn, stopsBeforeInsn } from './unpriv/speculative.ts';
import { checkResourceLeak } from './checks/refs.ts';
import { ldImmFunc } from './calls/callback.ts';
import { checkAsyncCallbackReturn } from './calls/timer.ts';
import { checkKfuncInLock } from './checks/spin-lock.ts';
import { checkExceptionCbArgs, exceptionCbSubprog, exceptionExit, isThrowCall } from './kfunc/throw.ts';

const BPF_COMPLEXITY_LIMIT_INSNS = 1_000_000;

function initState(env: VerifierEnv, subprog: number): void {
  const st = newVerifierState();
  if (subprog === 0) markPtr(st.frames[0].regs[BPF_REG_1], RegType.PTR_TO_CTX);
  else {
    // A global subprogram verified on its own (calls/global.ts).
    st.frames[0].subprogno = subprog;
    st.firstInsnIdx = env.subprogs[subprog].start;
    initGlobalArgs(env, st, subprog);
    checkExceptionCbArgs(env, subprog);
  }
  env.curState = st;
  env.scratch.markAll();
}

/** Returns normally when every path reaches a valid exit; throws Reject otherwise.
 *  `subprog` > 0 verifies a global subprogram on its own (do_check_common). */
export function doCheckMain(env: VerifierEnv, subprog = 0): void {
  initState(env, subprog);
  const log = env.log;
  let doPrintState = false;
  let prevInsnIdx = -1;
  env.insnIdx = env.subprogs[subprog].start;

  for (;;) {
    // A new insn: later history pushes start a new entry.
    env.curHistEnt = undefined;
    env.prevInsnIdx = prevInsnIdx;
    const idx = env.insnIdx;
    if (idx >= env.insnCnt) throw reject(14, `invalid insn idx ${idx} insn_cnt ${env.insnCnt}`);
    const insn = env.insn(idx);

    if (++env.insnProcessed > BPF_COMPLEXITY_LIMIT_INSNS) {
      throw reject(E2BIG, `BPF program is too large. Processed ${env.insnProcessed} insn`);
    }
    env.curState.lastInsnIdx = env.prevInsnIdx;
    env.curState.insnIdx = idx;

    let exited = false;
    if (env.aux[idx].prunePoint && isStateVisited(env, idx) === 1) {
      if (log.level1) {
        if (doPrintState) log.verbose(`\nfrom ${env.prevInsnIdx} to ${idx}${specSuffix(env)}: safe\n`);
        else log.verbose(`${idx}: safe\n`);
      }
      exited = true;
    }

    if (!exited) {
      // Jump targets record how the path got here (backtracking cannot guess it).
      if (env.aux[idx].jmpPoint) pushJmpHistory(env, env.curState);
      if (log.level2 && doPrintState) {
        const st = env.curState;
        log.verbose(`\nfrom ${env.prevInsnIdx} to ${idx}${specSuffix(env)}:`);
        // A full print leaves the scratch marks: the state is printed again below.
        log.verbose(printVerifierState(st, st.frames[st.curframe], true, env.scratch));
        doPrintState = false;
      }
      if (log.level1) {
        if (env.scratch.any) printInsnState(env, idx);
        const start = log.pos;
        log.verbose(`${idx}: ${printInsn(insn, insnTextOpts(env))}\n`);
        log.prevInsnPrintPos = log.pos - start;
        log.prevLogPos = log.pos;
      }
      // Speculative paths leave code unseen: the dead-code rewrite must still cover it.
      if (!env.curState.speculative) env.aux[idx].seen = true;
      prevInsnIdx = idx;
      env.stackLive.resetWriteMarks(idx);
      recordFixupFacts(env, insn, idx);
      // Speculative paths stop at a barrier, and fail into one (unpriv/speculative.ts).
      const r = stopsBeforeInsn(env, idx) ? EXIT : stepOrRecover(env, insn, idx);
      env.stackLive.commitWriteMarks();
      if (r.kind === 'next' && !stopsAfterInsn(env, idx)) {
        env.insnIdx = r.idx;
        if (r.printState) doPrintState = true;
        continue;
      }
      exited = true;
    }

    // The path ended (exit of the main frame, or pruned): take the next pending branch.
    env.scratch.markAll();
    updateBranchCounts(env, env.curState);
    env.stackLive.update();
    const next = env.stack.pop();
    if (!next) return;
    if (!log.level2) log.reset(next.logPos);
    env.curState = next.st;
    env.insnIdx = next.insnIdx;
    prevInsnIdx = next.prevInsnIdx;
    doPrintState = true;
  }
}

type Step = { kind: 'next'; idx: number; printState?: boolean } | { kind: 'exit' };
const EXIT: Step = { kind: 'exit' };

/** stepInsn, except that a speculative path's recoverable failure ends the path. */
function stepOrRecover(env: VerifierEnv, insn: Insn, idx: number): Step {
  try {
    return stepInsn(env, insn, idx);
  } catch (e) {
    if (recoverSpeculative(env, e, idx)) return EXIT;
    throw e;
  }
}

function stepInsn(env: VerifierEnv, insn: Insn, idx: number): Step {
  const cls = bpfClass(insn.code);
  const regs = env.curState.frames[env.curState.curframe].regs;
  // Stack-argument loads/stores (series v4 / merged) have their own rules.
  if ((cls === BPF_LDX || cls === BPF_STX || cls === BPF_ST) && checkStackArgInsn(env, insn)) return { kind: 'next', idx: idx + 1 };
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64:
      checkAluOp(env, insn);
      return { kind: 'next', idx: idx + 1 };
    case BPF_LDX: {
      checkRegRead(env, insn.src);
      checkRegWrite(env, insn.dst);
      const dst = { ...regs[insn.dst] };
      const srcType = regs[insn.src].type;
      checkMemAccess(env, insn.src, insn.off, sizeBytes(bpfSize(insn.code)), Access.READ, dst, undefined, bpfMode(insn.code) === BPF_MEMSX);
      saveAuxPtrType(env, idx, srcType, true);
      Object.assign(regs[insn.dst], dst);
      return { kind: 'next', idx: idx + 1 };
    }
    case BPF_STX: {
      if (bpfMode(insn.code) === BPF_ATOMIC) {
        checkAtomic(env, insn);
        return { kind: 'next', idx: idx + 1 };
      }
      if (bpfMode(insn.code) !== BPF_MEM || insn.imm !== 0) throw reject(EINVAL, 'BPF_STX uses reserved fields');
      checkRegRead(env, insn.src);
      checkRegRead(env, insn.dst);
      checkMemAccess(env, insn.dst, insn.off, sizeBytes(bpfSize(insn.code)), Access.WRITE, undefined, { reg: regs[insn.src], regno: insn.src });
      saveAuxPtrType(env, idx, regs[insn.dst].type, false);
      return { kind: 'next', idx: idx + 1 };
    }
    case BPF_ST: {
      if (bpfMode(insn.code) !== BPF_MEM || insn.src !== 0) throw reject(EINVAL, 'BPF_ST uses reserved fields');
      checkRegRead(env, insn.dst);
      checkMemAccess(env, insn.dst, insn.off, sizeBytes(bpfSize(insn.code)), Access.WRITE, undefined, { imm: insn.imm });
      saveAuxPtrType(env, idx, regs[insn.dst].type, false);
      return { kind: 'next', idx: idx + 1 };
    }
    case BPF_JMP:
    case BPF_JMP32:
      return stepJmp(env, insn, idx);
    case BPF_LD: {
      const mode = bpfMode(insn.code);
      if (mode === BPF_ABS || mode === BPF_IND) {
        if (checkLdAbs(env, insn)) return { kind: 'next', idx: ldAbsEarlyExit(env, idx) };
        return { kind: 'next', idx: idx + 1 };
      }
      if (mode !== BPF_IMM) throw reject(EINVAL, 'invalid BPF_LD mode');
      checkLdImm(env, insn);
      return { kind: 'next', idx: idx + 2 };
    }
    default:
      throw reject(EINVAL, `unknown insn class ${cls}`);
  }
}

function checkLdImm(env: VerifierEnv, insn: Insn): void {
  if (bpfSize(insn.code) !== BPF_DW) throw reject(EINVAL, 'invalid BPF_LD_IMM insn');
  if (insn.off !== 0) throw reject(EINVAL, 'BPF_LD_IMM64 uses reserved fields');
  checkRegWrite(env, insn.dst);
  const dst = env.curState.frames[env.curState.curframe].regs[insn.dst];
  if (insn.src === 0) {
    markKnown(dst, imm64(insn));
    return;
  }
  // A direct value into an arena is a user-space address: just a number here.
  if (isArenaValueLoad(env, insn)) return markUnknown(dst);
  if (insn.src === BPF_PSEUDO_MAP_FD || insn.src === BPF_PSEUDO_MAP_VALUE) {
    const def = env.prog.maps[insn.imm];
    markPtr(dst, insn.src === BPF_PSEUDO_MAP_FD ? RegType.CONST_PTR_TO_MAP : RegType.PTR_TO_MAP_VALUE);
    dst.map = { index: insn.imm, def };
    if (insn.src === BPF_PSEUDO_MAP_VALUE) dst.off = insn.next?.imm ?? 0;
    return;
  }
  if (insn.src === BPF_PSEUDO_FUNC) {
    ldImmFunc(env, insn, env.insnIdx, dst);
    return;
  }
  throw new NotImplementedError(`ld_imm64 src ${insn.src}`);
}

function stepJmp(env: VerifierEnv, insn: Insn, idx: number): Step {
  const cls = bpfClass(insn.code);
  const op = bpfOp(insn.code);
  env.jmpsProcessed++;
  if (op === BPF_CALL) {
    if (bpfSrc(insn.code) !== BPF_K || (insn.src !== BPF_PSEUDO_KFUNC_CALL && insn.off !== 0) ||
      (insn.src !== 0 && insn.src !== BPF_PSEUDO_CALL && insn.src !== BPF_PSEUDO_KFUNC_CALL) || insn.dst !== 0 || cls === BPF_JMP32) {
      throw reject(EINVAL, 'BPF_CALL uses reserved fields');
    }
    if (insn.src === BPF_PSEUDO_CALL) return { kind: 'next', idx: checkFuncCall(env, insn, idx) };
    if (insn.src === BPF_PSEUDO_KFUNC_CALL) {
      checkKfuncInLock(env, insn);
      checkKfuncCall(env, insn);
      // bpf_throw ends the path like an exit of the whole program (kfunc/throw.ts).
      if (isThrowCall(insn)) {
        exceptionExit(env);
        return EXIT;
      }
      return { kind: 'next', idx: idx + 1 };
    }
    checkHelperCall(env, insn);
    return { kind: 'next', idx: idx + 1 };
  }
  if (op === BPF_JA) {
    if (bpfSrc(insn.code) !== BPF_K || insn.src !== 0 || insn.dst !== 0 || (cls === BPF_JMP && insn.imm !== 0) || (cls === BPF_JMP32 && insn.off !== 0)) {
      throw reject(EINVAL, 'BPF_JA uses reserved fields');
    }
    return { kind: 'next', idx: idx + (cls === BPF_JMP ? insn.off : insn.imm) + 1 };
  }
  if (op === BPF_EXIT) {
    if (bpfSrc(insn.code) !== BPF_K || insn.imm !== 0 || insn.src !== 0 || insn.dst !== 0 || cls === BPF_JMP32) {
      throw reject(EINVAL, 'BPF_EXIT uses reserved fields');
    }
    const st = env.curState;
    checkResourceLeak(env, !st.curframe, 'BPF_EXIT instruction in main prog');
    if (st.curframe) return { kind: 'next', idx: prepareFuncExit(env), printState: true };
    // The exception callback returns for the whole program: the program's return rules.
    if (st.frames[0].callback?.async) checkAsyncCallbackReturn(env);
    else if (st.frames[0].subprogno && st.frames[0].subprogno !== exceptionCbSubprog(env)) {
      checkRegRead(env, 0);
      checkGlobalReturn(env);
    } else checkReturnCode(env);
    return { kind: 'exit' };
  }
  const next = checkCondJmpOp(env, insn, idx);
  // check_cond_jmp_op prints the state it leaves, before the next insn may be pruned (a
  // decided jump printed it already).
  if (env.log.level1 && env.scratch.any) printInsnState(env, idx);
  return { kind: 'next', idx: next };
}

