// Loads and stores through the stack-argument base register (check_stack_arg_read /
// check_stack_arg_write): which forms are legal per series, what a store leaves in the
// outgoing slot and what a load gets.
//
// The values stay where the caller put them: outgoing slots live in the writer's frame and
// a callee's incoming load copies from its caller's frame (frames[cur-1]); nothing moves at
// call time. That keeps pruning, precision and pointer invalidation on one copy.

import type { Insn } from '../../isa/insn.ts';
import { BPF_STX, bpfClass } from '../../isa/opcodes.ts';
import { classifyStackArgInsn } from '../../program/series.ts';
import { RegType, cloneReg } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import { markKnown, markUnknown, newReg } from '../state/regs.ts';
import { checkRegRead, checkRegWrite } from '../checks/regs.ts';
import { pushJmpHistory } from '../precision/history.ts';
import { reject, EACCES, EFAULT, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { MAX_REG_ARGS, outSlot, incomingSlot, msg } from './dialect.ts';
import { slotAt, stackArgRun, type StackArgRun } from './facts.ts';

const aligned = (off: number): boolean => off % 8 === 0;

/** Handle `insn` if it is a stack-arg access under the run's series; false otherwise.
 *  The legal forms per series are engine/program/series.ts classifyStackArgInsn (merged:
 *  only STX/ST DW off<0 and LDX DW off>0, multiples of 8; v4: DW MEM stores below r12 and
 *  loads at any nonzero multiple of 8). A form that is just `R%d is invalid` is left to the
 *  generic register checks, which reach it in the kernel's operand order. */
export function checkStackArgInsn(env: VerifierEnv, insn: Insn): boolean {
  const run = stackArgRun(env);
  if (!run) return false;
  const form = classifyStackArgInsn(run.d.series, insn);
  if (!form) return false;
  if (form.kind === 'invalid') {
    if (form.message === `R${form.reg} is invalid`) return false;
    // v4's size check and both series' "exceeds max" come after the source operand.
    if (bpfClass(insn.code) === BPF_STX) checkRegRead(env, insn.src);
    throw reject(EINVAL, form.message);
  }
  if (form.kind === 'store') checkWrite(env, run, insn);
  else checkRead(env, run, insn);
  return true;
}

function checkWrite(env: VerifierEnv, run: StackArgRun, insn: Insn): void {
  const d = run.d;
  const isStx = bpfClass(insn.code) === BPF_STX;
  if (isStx) checkRegRead(env, insn.src);
  const spi = outSlot(insn.off);
  const st = env.curState;
  const f = st.frames[st.curframe];
  const slot = slotAt(f, spi);
  const info = run.subprogs[f.subprogno];
  if (info.maxWritten < spi + 1) info.maxWritten = spi + 1;
  info.usesStackArgs = true;
  if (isStx) Object.assign(slot, cloneReg(f.regs[insn.src]));
  else markKnown(slot, BigInt(insn.imm));
  if (d.loadOrder) f.noStackArgLoad = true;
  recordHistory(env, st.curframe, spi);
}

function checkRead(env: VerifierEnv, run: StackArgRun, insn: Insn): void {
  const d = run.d;
  checkRegWrite(env, insn.dst);
  const st = env.curState;
  const f = st.frames[st.curframe];
  const info = run.subprogs[f.subprogno];
  info.usesStackArgs = true;
  if (d.loadOrder && f.noStackArgLoad) throw reject(EINVAL, msg.loadOrder(d));
  const off = insn.off;
  let value: RegState;
  if (off < 0 && d.outgoingLoads) {
    // v4: an outgoing slot read back like a spill slot; it must hold something.
    const spi = outSlot(off);
    if (!aligned(off) || spi >= f.stackArgs.length || f.stackArgs[spi].type === RegType.NOT_INIT) {
      throw reject(EACCES, msg.readBad(d, off, f.stackArgs.length * 8));
    }
    value = f.stackArgs[spi];
    recordHistory(env, st.curframe, spi);
  } else {
    const depth = info.inSlots * 8;
    if (off <= 0 || !aligned(off) || off > depth) throw reject(EACCES, msg.readBad(d, off, depth));
    // Only the call site checks initialisation; a slot skipped there reads as NOT_INIT.
    const caller = st.curframe > 0 ? st.frames[st.curframe - 1] : undefined;
    const spi = incomingSlot(d, off, info.nargs);
    if (caller) {
      // Slots the caller never allocated (its call was not checked: unreliable BTF): merged
      // reports them with the call-site message, counting from the first missing slot.
      if (d.series === 'merged' && spi >= caller.stackArgs.length) {
        throw reject(EFAULT, msg.notInit(d, MAX_REG_ARGS + caller.stackArgs.length, info.nargs));
      }
      value = caller.stackArgs[spi] ?? newReg();
      recordHistory(env, st.curframe - 1, spi);
    } else {
      // A global subprogram verified on its own: its arguments are unknown scalars.
      value = newReg();
      markUnknown(value);
    }
  }
  Object.assign(f.regs[insn.dst], cloneReg(value));
}

function recordHistory(env: VerifierEnv, frameno: number, spi: number): void {
  pushJmpHistory(env, env.curState);
  const e = env.curHistEnt;
  if (e) e.stackArg = { frameno, spi };
}
