// The stack-argument dialects as data: one table of per-series facts and small pure functions
// over it. The verifier, the interpreter and the JIT all read their layout and their texts
// from here, so a rule lives in one place. docs/series.md explains every entry.
//
// Evidence tags (see ../shared/reference/stack-args.md and the v4 13/18 seed patch):
//   [seed]    stated in the v4 13/18 patch text or code
//   [v4-test] the r12-era selftests (kernel-patches/bpf), reference §5.3
//   [merged]  the bpf-next merge (verifier.c, bpf_verifier.h, selftests), reference §2-3
//   [choice]  not fixed by any source we have; our decision, written down in docs/series.md
//   [6.18]    the live 6.18 kernel

import type { Insn } from '../isa/insn.ts';
import type { Series } from './types.ts';

/** Series that have stack arguments. */
export type StackArgSeries = Exclude<Series, 'none'>;

/** Register-passed arguments (MAX_BPF_FUNC_REG_ARGS). */
export const MAX_REG_ARGS = 5;
/** Arguments a subprogram or kfunc may take with stack args (MAX_BPF_FUNC_ARGS). [seed][merged] */
export const MAX_FUNC_ARGS = 12;
/** Stack-argument slots: args 6..12. [merged: MAX_STACK_ARG_SLOTS] [choice for v4: the same bound] */
export const MAX_STACK_ARG_SLOTS = MAX_FUNC_ARGS - MAX_REG_ARGS;
/** One slot is one 8-byte register (BPF_REG_SIZE). */
export const SLOT_SIZE = 8;

/** Keys of the per-series message table. */
export type MessageKey =
  | 'tooManyArgs'
  | 'notInitialized'
  | 'writeSize'
  | 'writeOffsetTooFar'
  | 'invalidRead'
  | 'loadOrder'
  | 'writesUnused'
  | 'progAuxStackArg'
  | 'releaseStackArg'
  | 'unrecognizedType'
  | 'nonJited'
  | 'invalidReg';

/** What differs between the dialects. Every field names its evidence. */
export interface SeriesFacts {
  readonly series: StackArgSeries;
  /** The base register: r12 = BPF_REG_STACK_ARG_BASE [seed], r11 = BPF_REG_PARAMS [merged]. */
  readonly baseReg: 11 | 12;
  /** The other extra register, which stays invalid in this series (the internal AX). */
  readonly otherReg: 11 | 12;
  /** Outgoing layout: 'last-at-top' puts the LAST arg at base-8 and arg 6 at base-(n-5)*8 [seed];
   *  'arg6-at-top' puts arg N at base-8*(N-5) [merged]. */
  readonly outgoingLayout: 'last-at-top' | 'arg6-at-top';
  /** Units of the recorded depths: v4 bytes (incoming/outgoing_stack_arg_depth) [seed];
   *  merged slot counts (stack_arg_cnt, max_out_stack_arg_cnt) [merged]. */
  readonly depthUnit: 'bytes' | 'slots';
  /** Outgoing slots keep their values across calls: v4 yes [v4-test: release_ref reads r12-8
   *  back after the call; r11-intermediate "sequential calls" retval 56]; merged no, every call
   *  invalidates them [merged]. */
  readonly slotsSurviveCalls: boolean;
  /** A program may load its own outgoing slots back: v4 yes [v4-test: release_ref, stale_pkt,
   *  null_propagation read r12-8]; merged no, LDX needs off > 0 [merged]. */
  readonly outgoingReadable: boolean;
  /** What a value in a slot becomes when its reference is released or packet pointers are
   *  invalidated: v4 an unknown scalar [v4-test: "R0 invalid mem access 'scalar'"]; merged
   *  NOT_INIT [merged: "callee expects 6 args, stack arg1 is not initialized"]. */
  readonly invalidatedSlot: 'scalar' | 'not-init';
  /** Incoming loads must come before any base-register store or call [merged]; v4 has no such
   *  rule [choice: nothing in the seed or the r12 tests orders loads]. */
  readonly loadBeforeStoreOrCall: boolean;
  /** Stores must be exactly 8 bytes; any other size gets `writeSize` [v4-test] or, in merged,
   *  `R11 is invalid` (only DW forms are stack-arg insns) [merged]. */
  readonly sizeMessage: boolean;
  /** After verification, a subprog writing more slots than its calls need is rejected [merged]. */
  readonly checkUnusedWrites: boolean;
  /** The verifier's name for argument index i (0-based) when it sits in a stack slot. */
  readonly messages: Readonly<Record<MessageKey, string>>;
  /** Where each fact comes from, for docs and tests. */
  readonly evidence: Readonly<Record<string, string>>;
}

export const SERIES: Readonly<Record<StackArgSeries, SeriesFacts>> = {
  v4: {
    series: 'v4',
    baseReg: 12,
    otherReg: 11,
    outgoingLayout: 'last-at-top',
    depthUnit: 'bytes',
    slotsSurviveCalls: true,
    outgoingReadable: true,
    invalidatedSlot: 'scalar',
    loadBeforeStoreOrCall: false,
    sizeMessage: true,
    checkUnusedWrites: false,
    messages: {
      tooManyArgs: 'Function %s has %d > %d args', // [seed]
      notInitialized: 'stack arg#%d not properly initialized', // [seed] %d = 0-based arg index
      writeSize: 'stack arg write must be 8 bytes, got %d', // [v4-test]
      writeOffsetTooFar: 'stack arg write offset %d exceeds max %d stack args', // [choice] merged text
      invalidRead: 'invalid read from stack arg off %d depth %d', // [v4-test prefix] [choice] rest as merged
      loadOrder: '', // no such rule in v4
      writesUnused: '', // no such check in v4
      progAuxStackArg: 'arg#%d prog->aux cannot be a stack argument', // [seed]
      releaseStackArg: 'arg#%d release arg cannot be a stack argument', // [seed]
      unrecognizedType: 'arg#%d Unrecognized %s type %s', // [choice] never reached: no by-value kfunc in v4 tests
      nonJited: 'stack args are not supported in non-JITed programs', // [choice] merged text; v4 11/18 title only
      invalidReg: 'R%d is invalid', // [6.18]
    },
    evidence: {
      baseReg: 'seed: "r12-based stack arg area"; reference §1.1 patch 07/18',
      outgoingLayout: 'seed: "Outgoing: r12 - N*8 (arg6), ..., r12 - 8 (last arg)"',
      incoming: 'seed: "r12+8: [incoming arg 6], r12+16: [incoming arg 7]"',
      depthUnit: 'seed: kfunc_stack_arg_depth = (nargs - 5) * BPF_REG_SIZE',
      slotsSurviveCalls: 'reference §5.3: r12 release_ref/stale_pkt read r12-8 after the call',
      outgoingReadable: 'reference §5.3: reads of r12-8 in the caller',
      invalidatedSlot: 'reference §5.3: "R0 invalid mem access \'scalar\'" after release',
      notInitialized: 'seed: verbose(env, "stack arg#%d not properly initialized\\n", i)',
      fixupOff: 'seed: fixup_kfunc_call sets insn->off = nr_args - 5 (0 when <= 5)',
      precision: 'seed: __k / rdonly_buf_size from a slot skip mark_chain_precision (regno < 0)',
    },
  },
  merged: {
    series: 'merged',
    baseReg: 11,
    otherReg: 12,
    outgoingLayout: 'arg6-at-top',
    depthUnit: 'slots',
    slotsSurviveCalls: false,
    outgoingReadable: false,
    invalidatedSlot: 'not-init',
    loadBeforeStoreOrCall: true,
    sizeMessage: false,
    checkUnusedWrites: true,
    messages: {
      tooManyArgs: 'Function %s has %d > %d args',
      notInitialized: 'callee expects %d args, stack arg%d is not initialized',
      writeSize: '',
      writeOffsetTooFar: 'stack arg write offset %d exceeds max %d stack args',
      invalidRead: 'invalid read from stack arg off %d depth %d',
      loadOrder: 'r11 load must be before any r11 store or call insn',
      writesUnused: 'func#%d writes %u stack arg slots, but calls only require %u',
      progAuxStackArg: '%s prog->aux cannot be a stack argument',
      releaseStackArg: '%s release arg cannot be a stack argument',
      unrecognizedType: 'Unrecognized %s type %s',
      nonJited: 'stack args are not supported in non-JITed programs',
      invalidReg: 'R%d is invalid',
    },
    evidence: {
      baseReg: 'merged: BPF_REG_PARAMS = MAX_BPF_REG (prep commit 246ad6e5ee25)',
      outgoingLayout: 'merged: spi = -off/8 - 1, arg = spi + 6 (check_stack_arg_write)',
      legalForms: 'merged: is_stack_arg_stx/st/ldx (commit 78bbe61632f1)',
      slotsSurviveCalls: 'merged: invalidate_outgoing_stack_args after calls; test "sequential calls reuse slots"',
      loadOrder: 'merged: no_stack_arg_load; tests in verifier_stack_arg_order.c',
      argName: 'merged: reg_arg_name(): "*(R11-8)" (test "Unrecognized *(R11-8) type STRUCT")',
      depthUnit: 'merged: bpf_subprog_info.stack_arg_cnt / max_out_stack_arg_cnt',
    },
  },
};

export function seriesFacts(series: Series): SeriesFacts | undefined {
  return series === 'none' ? undefined : SERIES[series];
}

/** The base register of a series, or undefined for plain 6.18. */
export function stackArgBase(series: Series): 11 | 12 | undefined {
  return seriesFacts(series)?.baseReg;
}

/** Printf-style formatting of the table's texts (%d, %u, %s in order). */
export function formatMessage(template: string, ...args: readonly (string | number)[]): string {
  let i = 0;
  return template.replace(/%[dus]/g, () => String(args[i++]));
}

export function message(series: StackArgSeries, key: MessageKey, ...args: readonly (string | number)[]): string {
  return formatMessage(SERIES[series].messages[key], ...args);
}

/** Number of stack arguments of a call with `nargs` arguments. */
export const stackArgCount = (nargs: number): number => Math.max(0, nargs - MAX_REG_ARGS);

// ---- layout -----------------------------------------------------------------------------
// "Depth index" d = -off/8 counts outgoing slots from the base down (d = 1 is base-8). It is
// what a store names; which argument it holds depends on the series (and in v4 on the callee).

/** Offset from the base register at which the CALLER stores argument `argNo` (6..nargs) of a
 *  call with `nargs` arguments. */
export function outgoingOffset(series: StackArgSeries, argNo: number, nargs: number): number {
  checkArgNo(argNo, nargs);
  return SERIES[series].outgoingLayout === 'arg6-at-top' ? -SLOT_SIZE * (argNo - MAX_REG_ARGS) : -SLOT_SIZE * (nargs - argNo + 1);
}

/** Which argument an outgoing store at `off` feeds in a call with `nargs` arguments, or
 *  undefined when that call does not read it. */
export function outgoingArgNo(series: StackArgSeries, off: number, nargs: number): number | undefined {
  if (off >= 0 || off % SLOT_SIZE !== 0) return undefined;
  const d = -off / SLOT_SIZE;
  const arg = SERIES[series].outgoingLayout === 'arg6-at-top' ? MAX_REG_ARGS + d : nargs - d + 1;
  return arg > MAX_REG_ARGS && arg <= nargs ? arg : undefined;
}

/** Offset from the base register at which the CALLEE reads its argument `argNo` (>= 6):
 *  base+8 is arg 6 in both series [seed][merged]. */
export function incomingOffset(argNo: number): number {
  if (!Number.isInteger(argNo) || argNo <= MAX_REG_ARGS || argNo > MAX_FUNC_ARGS) throw new RangeError(`argument ${argNo} is not a stack argument`);
  return SLOT_SIZE * (argNo - MAX_REG_ARGS);
}

/** The argument an incoming load at `off` reads, or undefined when off is no slot. */
export function incomingArgNo(off: number): number | undefined {
  if (off <= 0 || off % SLOT_SIZE !== 0) return undefined;
  const arg = MAX_REG_ARGS + off / SLOT_SIZE;
  return arg <= MAX_FUNC_ARGS ? arg : undefined;
}

/** The depth index (1 = base-8) a caller's argument `argNo` occupies. */
export function outgoingDepthIndex(series: StackArgSeries, argNo: number, nargs: number): number {
  return -outgoingOffset(series, argNo, nargs) / SLOT_SIZE;
}

/** The v4 seed's slot index into the caller's stack_arg_slots for 0-based argument `argIdx`:
 *  incoming slots first, then outgoing ones counted from base-8. [seed get_kfunc_arg_reg] */
export function v4SlotIndex(incomingDepthBytes: number, argIdx: number, nargs: number): number {
  return incomingDepthBytes / SLOT_SIZE + (nargs - 1 - argIdx);
}

function checkArgNo(argNo: number, nargs: number): void {
  if (!Number.isInteger(nargs) || nargs <= MAX_REG_ARGS || nargs > MAX_FUNC_ARGS) throw new RangeError(`a call with ${nargs} arguments has no stack arguments`);
  if (!Number.isInteger(argNo) || argNo <= MAX_REG_ARGS || argNo > nargs) throw new RangeError(`argument ${argNo} is not a stack argument of a ${nargs}-argument call`);
}

// ---- depths -----------------------------------------------------------------------------

/** A depth of `slots` slots in the series' unit (v4 bytes, merged slots). */
export function depthIn(series: StackArgSeries, slots: number): number {
  return SERIES[series].depthUnit === 'bytes' ? slots * SLOT_SIZE : slots;
}

/** Incoming depth of a subprogram with `nargs` arguments. */
export function incomingDepth(series: StackArgSeries, nargs: number): number {
  return depthIn(series, stackArgCount(nargs));
}

/** What the call instruction's `off` holds after fixup: v4 the number of stack args of a kfunc
 *  call [seed fixup_kfunc_call]; merged leaves it alone [choice: no such rewrite in the merge]. */
export function fixedUpKfuncOff(series: Series, nargs: number, off: number): number {
  return series === 'v4' ? stackArgCount(nargs) : off;
}

// ---- argument names ---------------------------------------------------------------------

/** How messages name argument index `argIdx` (0-based): v4 `arg#N` everywhere [seed]; merged
 *  `R<n>` for register args and `*(R11-<off>)` for stack args [merged reg_arg_name]. */
export function argName(series: StackArgSeries, argIdx: number, nargs: number): string {
  if (series === 'v4') return `arg#${argIdx}`;
  if (argIdx < MAX_REG_ARGS) return `R${argIdx + 1}`;
  return `*(R11${outgoingOffset('merged', argIdx + 1, Math.max(nargs, argIdx + 1))})`;
}

/** The "stack arg not initialized" message of a call with `nargs` arguments whose argument
 *  index `argIdx` (0-based, >= 5) is missing. */
export function notInitializedMessage(series: StackArgSeries, argIdx: number, nargs: number): string {
  return series === 'v4' ? message('v4', 'notInitialized', argIdx) : message('merged', 'notInitialized', nargs, argIdx - MAX_REG_ARGS + 1);
}

// ---- instruction forms ------------------------------------------------------------------

const CLASS_LDX = 0x01, CLASS_ST = 0x02, CLASS_STX = 0x03;
const MODE_MEM = 0x60, SIZE_DW = 0x18;
const SIZE_BYTES: Readonly<Record<number, number>> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };

/** What an instruction that names a register above r10 is, under one series. */
export type StackArgForm =
  /** A legal stack-arg load: dst = *(u64 *)(base + off). */
  | { readonly kind: 'load'; readonly off: number; readonly dst: number }
  /** A legal stack-arg store of src (STX) or imm (ST). */
  | { readonly kind: 'store'; readonly off: number; readonly src?: number; readonly imm?: number }
  /** Rejected; `message` is the verifier's text for the first problem found. */
  | { readonly kind: 'invalid'; readonly reg: number; readonly message: string };

/** Registers above r10 an instruction names. Only fields that are registers for that opcode
 *  count: a call's or ld_imm64's src is a pseudo kind, JA/call/exit/may_goto name none. */
export function extraRegs(insn: Pick<Insn, 'code' | 'dst' | 'src'>): number[] {
  const cls = insn.code & 7, op = insn.code & 0xf0, isX = (insn.code & 0x08) !== 0;
  let dst = true, src = false;
  switch (cls) {
    case 0: src = (insn.code & 0xe0) === 0x40; break; // LD_IND names src
    case CLASS_LDX: case CLASS_STX: src = true; break;
    case CLASS_ST: break;
    case 4: case 7: src = isX && op !== 0xd0; break; // END/bswap: the X bit selects BE
    default: // JMP, JMP32
      if (op === 0x00 || op === 0x80 || op === 0x90 || op === 0xe0) dst = false;
      else src = isX;
  }
  const out: number[] = [];
  if (dst && insn.dst > 10) out.push(insn.dst);
  if (src && insn.src > 10) out.push(insn.src);
  return out;
}

/** Classify an instruction that names a register above r10 under `series`. Returns undefined
 *  when the instruction names no such register.
 *
 *  merged: only STX/ST DW with off < 0 and off % 8 == 0 to r11, and LDX DW with off > 0 and
 *  off % 8 == 0 from r11 are legal; anything else is `R11 is invalid` [merged]. A store past
 *  7 slots is `stack arg write offset ... exceeds max 7` [merged].
 *  v4: STX/ST MEM to r12 of another size is `stack arg write must be 8 bytes, got N`
 *  [v4-test]; DW stores need off < 0, off % 8 == 0; loads are LDX MEM DW with off != 0,
 *  off % 8 == 0 (off < 0 reads the caller's own outgoing slot) [seed + v4-test]; every other
 *  use of r12 is `R12 is invalid` [choice: the generic register check]. */
export function classifyStackArgInsn(series: Series, insn: Pick<Insn, 'code' | 'dst' | 'src' | 'off' | 'imm'>): StackArgForm | undefined {
  const regs = extraRegs(insn);
  if (regs.length === 0) return undefined;
  const facts = seriesFacts(series);
  const invalid = (reg: number): StackArgForm => ({ kind: 'invalid', reg, message: formatMessage('R%d is invalid', reg) });
  const base = facts?.baseReg;
  // Anything naming a register that is not this series' base, or naming the base twice.
  const bad = regs.find((r) => r !== base);
  if (bad !== undefined || regs.length > 1 || !facts || base === undefined) return invalid(bad ?? regs[0]);

  const cls = insn.code & 7, mode = insn.code & 0xe0, size = insn.code & 0x18;
  const off = insn.off;
  if ((cls === CLASS_STX || cls === CLASS_ST) && insn.dst === base && mode === MODE_MEM) {
    if (size !== SIZE_DW) return facts.sizeMessage ? { kind: 'invalid', reg: base, message: message(facts.series, 'writeSize', SIZE_BYTES[size]) } : invalid(base);
    if (off >= 0 || off % SLOT_SIZE !== 0) return invalid(base);
    if (-off / SLOT_SIZE > MAX_STACK_ARG_SLOTS) {
      return { kind: 'invalid', reg: base, message: message(facts.series, 'writeOffsetTooFar', off, MAX_STACK_ARG_SLOTS) };
    }
    return cls === CLASS_STX ? { kind: 'store', off, src: insn.src } : { kind: 'store', off, imm: insn.imm };
  }
  if (cls === CLASS_LDX && insn.src === base && mode === MODE_MEM && size === SIZE_DW && off % SLOT_SIZE === 0) {
    if (off > 0 || (off < 0 && facts.outgoingReadable)) return { kind: 'load', off, dst: insn.dst };
  }
  return invalid(base);
}
