// print_verifier_state's text: ` R1=ctx() R10=fp0 fp-8=0000????` (6.18: no liveness marks),
// a ` frameN:` prefix for callee frames, and the per-register forms `5`, `P5`,
// `scalar(id=1,smin=...)`, `map_value(map=m,ks=4,vs=8,off=4)`, `fp-8`, `pkt(r=14)`.

import { RegType, SlotType, baseType, mayBeNull, MEM_RDONLY, MEM_RINGBUF, MEM_USER, MEM_PERCPU, MEM_RCU, PTR_UNTRUSTED, PTR_TRUSTED } from '../state/types.ts';
import type { FuncState, RegState, VerifierState } from '../state/types.ts';
import { btfTypeName, kernelBtfOrUndefined } from '../btf-types.ts';
import { iterSlotText } from '../kfunc/iter-slot.ts';
import { dynptrSlotText, type DynptrReg } from '../kfunc/dynptr-slot.ts';
import { fmtSnum, fmtTnum, fmtUnum, isConst, scalarRangeParts } from '../scalar-api.ts';
import { scalarIdStr } from '../state/scalar-id.ts';

const U64_MAX = (1n << 64n) - 1n;

const TYPE_NAMES: Record<number, string> = {
  [RegType.NOT_INIT]: '?',
  [RegType.SCALAR_VALUE]: 'scalar',
  [RegType.PTR_TO_CTX]: 'ctx',
  [RegType.CONST_PTR_TO_MAP]: 'map_ptr',
  [RegType.PTR_TO_MAP_VALUE]: 'map_value',
  [RegType.PTR_TO_STACK]: 'fp',
  [RegType.PTR_TO_PACKET]: 'pkt',
  [RegType.PTR_TO_PACKET_META]: 'pkt_meta',
  [RegType.PTR_TO_PACKET_END]: 'pkt_end',
  [RegType.PTR_TO_FLOW_KEYS]: 'flow_keys',
  [RegType.PTR_TO_SOCKET]: 'sock',
  [RegType.PTR_TO_SOCK_COMMON]: 'sock_common',
  [RegType.PTR_TO_TCP_SOCK]: 'tcp_sock',
  [RegType.PTR_TO_TP_BUFFER]: 'tp_buffer',
  [RegType.PTR_TO_XDP_SOCK]: 'xdp_sock',
  [RegType.PTR_TO_BTF_ID]: 'ptr_',
  [RegType.PTR_TO_MEM]: 'mem',
  [RegType.PTR_TO_ARENA]: 'arena',
  [RegType.PTR_TO_BUF]: 'buf',
  [RegType.PTR_TO_FUNC]: 'func',
  [RegType.PTR_TO_MAP_KEY]: 'map_key',
  [RegType.CONST_PTR_TO_DYNPTR]: 'dynptr_ptr',
};

/** reg_type_str: flag prefixes, the base name, and `_or_null`. */
export function regTypeStr(t: number): string {
  const base = baseType(t);
  let pre = '';
  if (t & MEM_RDONLY) pre += 'rdonly_';
  if (t & MEM_RINGBUF) pre += 'ringbuf_';
  if (t & MEM_USER) pre += 'user_';
  if (t & MEM_PERCPU) pre += 'percpu_';
  if (t & MEM_RCU) pre += 'rcu_';
  if (t & PTR_UNTRUSTED) pre += 'untrusted_';
  if (t & PTR_TRUSTED) pre += 'trusted_';
  const post = mayBeNull(t) ? (base === RegType.PTR_TO_BTF_ID ? 'or_null_' : '_or_null') : '';
  return `${pre}${TYPE_NAMES[base]}${post}`;
}

const isMapPtrType = (b: RegType): boolean =>
  b === RegType.CONST_PTR_TO_MAP || b === RegType.PTR_TO_MAP_KEY || b === RegType.PTR_TO_MAP_VALUE;
const isPktType = (b: RegType): boolean => b === RegType.PTR_TO_PACKET || b === RegType.PTR_TO_PACKET_META;

export function printRegState(reg: RegState, frameno: number): string {
  const t = reg.type;
  const base = baseType(t);
  let out = '';
  if (t === RegType.SCALAR_VALUE && reg.precise) out += 'P';
  if (t === RegType.SCALAR_VALUE && isConst(reg.s)) return out + fmtSnum(BigInt.asIntN(64, reg.s.varOff.value));
  out += regTypeStr(t);
  // A BTF pointer names its pointee: `trusted_ptr_task_struct(...)`.
  if (base === RegType.PTR_TO_BTF_ID) out += btfTypeName(reg.btfId ?? 0);
  if (t === RegType.PTR_TO_ARENA) return out;
  if (t === RegType.PTR_TO_STACK) {
    if (reg.frameno !== frameno) out += `[${reg.frameno}]`;
    if (isConst(reg.s)) return out + fmtSnum(BigInt.asIntN(64, reg.s.varOff.value + BigInt(reg.off)));
  }
  const parts: string[] = [];
  // A scalar linked at a constant distance prints it: `id=1+4` (checks/linked-regs.ts).
  if (reg.id) parts.push(`id=${t === RegType.SCALAR_VALUE ? scalarIdStr(reg) : reg.id}`);
  if (reg.refObjId) parts.push(`ref_obj_id=${reg.refObjId}`);
  if (isMapPtrType(base) && reg.map) {
    if (reg.map.def.name) parts.push(`map=${kernelMapName(reg.map.def.name)}`);
    parts.push(`ks=${reg.map.def.keySize},vs=${reg.map.def.valueSize}`);
  }
  if (t !== RegType.SCALAR_VALUE && reg.off) parts.push(`off=${fmtSnum(BigInt(reg.off))}`);
  if (isPktType(base)) parts.push(`r=${fmtUnum(BigInt.asUintN(64, BigInt(reg.range)))}`);
  if (base === RegType.PTR_TO_MEM) parts.push(`sz=${fmtUnum(BigInt(reg.memSize))}`);
  if (t === RegType.CONST_PTR_TO_DYNPTR) parts.push(`type=${reg.dynptrType ?? ''}`);
  if (isConst(reg.s)) {
    if (reg.s.varOff.value) parts.push(`imm=${fmtSnum(BigInt.asIntN(64, reg.s.varOff.value))}`);
  } else {
    parts.push(...scalarRangeParts(reg.s));
    if (reg.s.varOff.mask !== U64_MAX) parts.push(`var_off=${fmtTnum(reg.s.varOff)}`);
  }
  return `${out}(${parts.join(',')})`;
}

/** The name the kernel keeps for a map (bpf_obj_name_cpy: at most 15 chars). */
export const kernelMapName = (name: string): string => name.slice(0, 15);

const SLOT_CHARS = '?rm0dif';

/** Which registers / stack slots the last instructions touched (the kernel's scratch marks). */
export class Scratch {
  regs = 0;
  /** Bit i: stack slot i (fp-8*(i+1)); bigint because there are 64 slots. */
  slots = 0n;
  markReg(r: number): void {
    this.regs |= 1 << r;
  }
  markSlot(spi: number): void {
    this.slots |= 1n << BigInt(spi);
  }
  markAll(): void {
    this.regs = 0xffff;
    this.slots = U64_MAX;
  }
  clear(): void {
    this.regs = 0;
    this.slots = 0n;
  }
  get any(): boolean {
    return this.regs !== 0 || this.slots !== 0n;
  }
}

/** ` R0=... fp-8=...` for one frame, then refs, then "\n". */
export function printVerifierState(vstate: VerifierState, frame: FuncState, printAll: boolean, scratch: Scratch): string {
  let out = '';
  if (frame.frameno) out += ` frame${frame.frameno}:`;
  for (let i = 0; i < frame.regs.length; i++) {
    const reg = frame.regs[i];
    if (reg.type === RegType.NOT_INIT) continue;
    if (!printAll && !(scratch.regs & (1 << i))) continue;
    out += ` R${i}=${printRegState(reg, frame.frameno)}`;
  }
  const nslots = frame.allocatedStack / 8;
  for (let i = 0; i < nslots; i++) {
    if (!printAll && !(scratch.slots & (1n << BigInt(i)))) continue;
    const slot = frame.stack[i];
    const off = -(i + 1) * 8;
    if (slot.slotType[7] === SlotType.ITER) {
      // Only an iterator's main slot is printed (kfunc/iter.ts).
      const it = iterSlotText(kernelBtfOrUndefined(), slot.spilled);
      if (it) out += ` fp${off}=${it}`;
      continue;
    }
    if (slot.slotType[7] === SlotType.DYNPTR) {
      // A dynptr prints once, at its first (higher) slot (kfunc/dynptr.ts).
      if ((slot.spilled as DynptrReg).dynptrFirst) out += ` fp${off}=${dynptrSlotText(slot.spilled)}`;
      continue;
    }
    const text = stackSlotText(slot.slotType);
    if (text === undefined) continue;
    if (slot.slotType[7] === SlotType.SPILL) {
      out += ` fp${off}=${text}${printRegState(slot.spilled, frame.frameno)}`;
    } else {
      out += ` fp${off}=${text}`;
    }
  }
  // The RCU section is our own bookkeeping entry (kfunc/rcu.ts), not a kernel reference.
  const refs = vstate.refs.filter((r) => r.kind !== 'rcu');
  if (refs.length) out += ` refs=${refs.map((r) => r.id).join(',')}`;
  if (frame.callback) out += frame.callback.async ? ' async_cb' : ' cb';
  return out + '\n';
}

/** The slot-type characters; for a spill, only those below the first spilled byte.
 *  Undefined when every byte is invalid (the slot is not printed). */
function stackSlotText(types: Uint8Array): string | undefined {
  let valid = false;
  let s = '';
  for (let j = 0; j < 8; j++) {
    if (types[j] !== SlotType.INVALID) valid = true;
    s += SLOT_CHARS[types[j]];
  }
  if (!valid) return undefined;
  if (types[7] === SlotType.SPILL) {
    let j = 0;
    while (j < 8 && types[j] !== SlotType.SPILL) j++;
    return s.slice(0, j);
  }
  return s;
}
