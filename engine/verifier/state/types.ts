// Abstract state of the verifier: what it knows about every register and stack slot on one
// path. Plain mutable records for speed; `cloneState` copies structurally and is only called
// at branch and prune points (the scalar bounds objects are immutable and shared).

import type { ScalarBounds } from '../scalar-api.ts';
import type { MapDef } from '../../program/types.ts';

/** Base register types, in the kernel's enum bpf_reg_type order (names kept for
 *  cross-checking; the numbers are ours). */
export const enum RegType {
  NOT_INIT = 0,
  SCALAR_VALUE,
  PTR_TO_CTX,
  CONST_PTR_TO_MAP,
  PTR_TO_MAP_VALUE,
  PTR_TO_MAP_KEY,
  PTR_TO_STACK,
  PTR_TO_PACKET_META,
  PTR_TO_PACKET,
  PTR_TO_PACKET_END,
  PTR_TO_FLOW_KEYS,
  PTR_TO_SOCKET,
  PTR_TO_SOCK_COMMON,
  PTR_TO_TCP_SOCK,
  PTR_TO_TP_BUFFER,
  PTR_TO_XDP_SOCK,
  PTR_TO_BTF_ID,
  PTR_TO_MEM,
  PTR_TO_ARENA,
  PTR_TO_BUF,
  PTR_TO_FUNC,
  CONST_PTR_TO_DYNPTR,
}

/** Type flags, or-ed above the base type (values are ours; only the meaning matters). */
export const PTR_MAYBE_NULL = 1 << 8;
export const MEM_RDONLY = 1 << 9;
export const MEM_RINGBUF = 1 << 10;
export const MEM_USER = 1 << 11;
export const MEM_PERCPU = 1 << 12;
export const MEM_RCU = 1 << 13;
export const PTR_UNTRUSTED = 1 << 14;
export const PTR_TRUSTED = 1 << 15;
export const BASE_TYPE_MASK = 0xff;

export const baseType = (t: number): RegType => (t & BASE_TYPE_MASK) as RegType;
export const mayBeNull = (t: number): boolean => (t & PTR_MAYBE_NULL) !== 0;

/** A map as the verifier sees it: its definition plus the index it has in Program.maps. */
export interface MapRef {
  readonly index: number;
  readonly def: MapDef;
}

export interface RegState {
  /** Base type | flags. */
  type: number;
  /** Fixed offset of a pointer (reg->off). Scalars: the constant of an offset link (6.18
   *  BPF_ADD_CONST, checks/linked-regs.ts), 0 otherwise. */
  off: number;
  /** Scalars: the value. Pointers: the variable part of the offset (var_off and ranges). */
  s: ScalarBounds;
  /** Pointers: identity shared by copies (null checks, packet ranges). Scalars: link id
   *  for bounds propagation between copies, with an ADD_CONST flag when the register is a
   *  copy plus `off` (checks/linked-regs.ts). */
  id: number;
  refObjId: number;
  /** CONST_PTR_TO_MAP, PTR_TO_MAP_VALUE(_OR_NULL), PTR_TO_MAP_KEY. */
  map: MapRef | undefined;
  /** PTR_TO_PACKET(_META): bytes known to be readable past the pointer. */
  range: number;
  /** PTR_TO_STACK: which frame's stack it points into. */
  frameno: number;
  /** PTR_TO_MEM: size of the region. */
  memSize: number;
  /** Precision mark for scalars (printed as a `P` prefix). */
  precise: boolean;
  /** PTR_TO_BTF_ID: the pointee's type id in vmlinux BTF (0 or absent otherwise). */
  btfId?: number;
  /** PTR_TO_FUNC: the subprog it names. */
  subprogno?: number;
  /** CONST_PTR_TO_DYNPTR: the dynptr kind as the log names it (`local`, `skb`, ...). */
  dynptrType?: string;
}

/** Byte-level stack slot kinds (print characters in parentheses). */
export const enum SlotType {
  INVALID = 0, // '?'
  SPILL, // 'r'
  MISC, // 'm'
  ZERO, // '0'
  DYNPTR, // 'd'
  ITER, // 'i'
  IRQ_FLAG, // 'f'
}

export interface StackSlot {
  /** One kind per byte; index 0 is the lowest address byte of the 8-byte slot. */
  slotType: Uint8Array;
  /** The spilled register, when slotType[7] is SPILL. */
  spilled: RegState;
}

export interface FuncState {
  regs: RegState[];
  frameno: number;
  /** Instruction (slot index) of the call that created this frame, -1 for frame 0. */
  callsite: number;
  subprogno: number;
  /** stack[i] covers fp-8*(i+1) .. fp-8*i-1. */
  stack: StackSlot[];
  /** Bytes of stack ever touched (allocated_stack), a multiple of 8. */
  allocatedStack: number;
  /** Outgoing stack-argument slots (stack-arg/): slot i is at base-8*(i+1); NOT_INIT when
   *  unwritten or invalidated. Empty under series `none`. */
  stackArgs: RegState[];
  /** merged: an r11 store or a call happened in this frame, so r11 loads are over. */
  noStackArgLoad: boolean;
  /** A callback's frame (in_callback_fn / in_async_callback_fn): calls/callback.ts. */
  callback?: CallbackFrame;
  /** Callback passes queued from this frame's current call (callback_depth). */
  callbackDepth?: number;
}

/** What a callback frame must return, and whether it runs later on its own (async). */
export interface CallbackFrame {
  readonly async: boolean;
  readonly retMin: number;
  readonly retMax: number;
  /** An async callback's frame 0: how many async entries lead here (async_entry_cnt);
   *  calls/timer.ts. */
  readonly entryCnt?: number;
}

export interface RefState {
  id: number;
  insnIdx: number;
  /** Absent: an acquired pointer (REF_TYPE_PTR). 'lock': a held bpf_spin_lock, `id` being
   *  the locked map value's id and `ptr` its map's index (checks/refs.ts). 'rcu': inside a
   *  bpf_rcu_read_lock section (kfunc/rcu.ts). */
  kind?: 'lock' | 'rcu';
  ptr?: number;
}

/** One jmp-history record (bpf_jmp_history_entry): how the path reached `idx` (from
 *  `prevIdx`), whether the insn spilled/filled a stack slot, and which scalars a
 *  conditional jump linked. Backtracking walks these in reverse. */
export interface HistEntry {
  readonly idx: number;
  readonly prevIdx: number;
  /** Stack slot the insn spilled to / filled from: frame and spi; undefined otherwise. */
  stack: { frameno: number; spi: number } | undefined;
  /** Stack-argument slot the insn wrote (own frame) or read (caller's frame): stack-arg/. */
  stackArg?: { frameno: number; spi: number };
  /** Registers / spilled slots sharing a scalar id at a conditional jump (live ones only). */
  linked: readonly LinkedReg[] | undefined;
  /** A conditional jump's operands that were stack pointers (HIST_DST_STACK, HIST_SRC_STACK):
   *  backtracking leaves them out (6.18). */
  regStack?: number;
}

export const HIST_DST_STACK = 1;
export const HIST_SRC_STACK = 2;

export interface LinkedReg {
  readonly frameno: number;
  /** Register number, or stack slot index when !isReg. */
  readonly n: number;
  readonly isReg: boolean;
}

export interface VerifierState {
  frames: FuncState[];
  curframe: number;
  refs: RefState[];
  /** Not-yet-explored descendants sharing this state as parent (pruning bookkeeping). */
  branches: number;
  insnIdx: number;
  /** may_goto depth (6.18), kept for states_equal. */
  mayGotoDepth: number;
  /** Callback bodies entered on this path (callback_unroll_depth): an otherwise identical
   *  state one callback pass later is progress, not an infinite loop. */
  callbackUnrollDepth: number;
  speculative: boolean;
  /** The checkpoint this path last passed (shared, not copied): its `branches` counts the
   *  unfinished paths below it; only finished checkpoints may prune. */
  parent: Checkpoint | undefined;
  /** First insn of this state's segment (after its parent checkpoint). */
  firstInsnIdx: number;
  /** Insn processed just before the checkpoint was taken (last_insn_idx). */
  lastInsnIdx: number;
  /** Jumps and stack accesses since the parent checkpoint. */
  jmpHistory: HistEntry[];
  /** Dead registers and stack slots already cleared (clean_verifier_state). */
  cleaned: boolean;
}

export interface Checkpoint {
  readonly st: VerifierState;
  branches: number;
  readonly parent: Checkpoint | undefined;
  hit: number;
  miss: number;
  /** Evicted from the explored list by the miss heuristic; freed once finished. */
  inFreeList: boolean;
}

/** A field by field copy, in newReg's field order (state/regs.ts): every register then shares
 *  one hidden class, which a spread copy would not give. An iterator slot's `iter`
 *  (kfunc/iter-slot.ts) is the one field outside the interface. */
export function cloneReg(r: RegState): RegState {
  const c: RegState = {
    type: r.type, off: r.off, s: r.s, id: r.id, refObjId: r.refObjId, map: r.map, range: r.range, frameno: r.frameno, memSize: r.memSize,
    precise: r.precise, btfId: r.btfId, subprogno: r.subprogno, dynptrType: r.dynptrType,
  };
  const iter = (r as { iter?: unknown }).iter;
  if (iter !== undefined) (c as { iter?: unknown }).iter = iter;
  // A dynptr slot's first-slot mark (kfunc/dynptr-slot.ts).
  const first = (r as { dynptrFirst?: boolean }).dynptrFirst;
  if (first !== undefined) (c as { dynptrFirst?: boolean }).dynptrFirst = first;
  const did = (r as { dynptrId?: number }).dynptrId;
  if (did !== undefined) (c as { dynptrId?: number }).dynptrId = did;
  return c;
}

function cloneSlot(s: StackSlot): StackSlot {
  return { slotType: s.slotType.slice(), spilled: cloneReg(s.spilled) };
}

/** History entries are written only while their insn is being checked (env.curHistEnt, always
 *  the last entry): earlier ones are shared between copies, the last one is copied. */
function cloneHistory(h: readonly HistEntry[]): HistEntry[] {
  const c = h.slice();
  const n = c.length;
  if (n) {
    const e = c[n - 1];
    c[n - 1] = { idx: e.idx, prevIdx: e.prevIdx, stack: e.stack, stackArg: e.stackArg, linked: e.linked, regStack: e.regStack };
  }
  return c;
}

export function cloneFunc(f: FuncState): FuncState {
  return {
    regs: f.regs.map(cloneReg),
    frameno: f.frameno,
    callsite: f.callsite,
    subprogno: f.subprogno,
    stack: f.stack.map(cloneSlot),
    allocatedStack: f.allocatedStack,
    stackArgs: f.stackArgs.map(cloneReg),
    noStackArgLoad: f.noStackArgLoad,
    ...(f.callback ? { callback: f.callback } : {}),
    ...(f.callbackDepth ? { callbackDepth: f.callbackDepth } : {}),
  };
}

export function cloneState(st: VerifierState): VerifierState {
  return {
    frames: st.frames.map(cloneFunc),
    curframe: st.curframe,
    refs: st.refs.map((r) => ({ ...r })),
    branches: st.branches,
    insnIdx: st.insnIdx,
    mayGotoDepth: st.mayGotoDepth,
    callbackUnrollDepth: st.callbackUnrollDepth,
    speculative: st.speculative,
    parent: st.parent,
    firstInsnIdx: st.firstInsnIdx,
    lastInsnIdx: st.lastInsnIdx,
    jmpHistory: cloneHistory(st.jmpHistory),
    cleaned: st.cleaned,
  };
}

export const curFunc = (st: VerifierState): FuncState => st.frames[st.curframe];
