// BPF exceptions in the interpreter: bpf_throw(cookie) unwinds every BPF frame of the run
// and the exception callback decides the program's return value.
//
// The kernel walks the stack from bpf_throw to the frame of the exception boundary (the main
// function of the program that threw), then calls the callback on that frame (its rbp/rsp),
// so the callback's r10 is the main function's frame pointer. The default callback the
// verifier appends returns the cookie (6.18, checked live: a tc program throwing 7 runs to
// retval 7); a program's own callback is the global function its main function's
// `exception_callback:<name>` decl tag names, called as cb(cookie).

import type { Program } from '../program/types.ts';
import type { KfuncFn, Machine } from './machine.ts';
import type { Code } from './decode.ts';
import { RuntimeFault } from './memory.ts';

const EXCEPTION_CB_TAG = 'exception_callback:';

/** Raised by the bpf_throw kfunc; caught where the program under test was entered. Not a
 *  RuntimeFault: a throw is a normal end of the run. */
export class BpfThrow extends Error {
  constructor(readonly cookie: bigint, readonly from: Code) {
    super(`bpf_throw(${cookie})`);
    this.name = 'BpfThrow';
  }
}

/** bpf_throw(u64 cookie): never returns. */
const bpfThrow: KfuncFn = (m) => {
  throw new BpfThrow(m.argU64(1), m.current);
};

export const THROW_KFUNCS: Readonly<Record<string, KfuncFn>> = { bpf_throw: bpfThrow };

/** Slot where `prog`'s own exception callback starts, or undefined for the default one. */
export function exceptionCbStart(prog: Program): number | undefined {
  const main = prog.funcs.find((f) => f.start === 0);
  const tag = main?.tags?.find((t) => t.startsWith(EXCEPTION_CB_TAG));
  if (!tag) return undefined;
  const name = tag.slice(EXCEPTION_CB_TAG.length);
  const cb = prog.funcs.find((f) => f.name === name);
  if (!cb) throw new RuntimeFault(`exception callback '${name}' is not a function of ${prog.name}`);
  return cb.start;
}

/** Run `code` from its first instruction at depth 0; a throw anywhere below ends in the
 *  exception callback of the program that threw (after a tail call, that program's). */
export function execCatching(m: Machine, code: Code): void {
  try {
    m.exec(code, 0, 0);
  } catch (e) {
    if (!(e instanceof BpfThrow)) throw e;
    runCallback(m, e);
  }
}

function runCallback(m: Machine, t: BpfThrow): void {
  // Unwind: back to the boundary's frame; the callee-saved registers are not the callback's
  // business (it only gets the cookie), and its r10 is the main function's frame.
  m.depth = 0;
  m.enterFrame();
  const start = exceptionCbStart(t.from.prog);
  if (start === undefined) {
    m.setReg(0, t.cookie);
    return;
  }
  m.setReg(1, t.cookie);
  m.current = t.from;
  // A throw from inside the callback is not something the verifier lets through; if it
  // happened, it propagates as an error rather than looping.
  m.exec(t.from, start, 0);
}
