// Context layouts of perf_event (struct bpf_perf_event_data: pt_regs, then u64
// sample_period and addr) and flow_dissector (a few __sk_buff fields: the packet and the
// flow keys pointer), 6.18 UAPI offsets, and loads/stores through the flow keys pointer
// (struct bpf_flow_keys). Learnt from pe_prog_is_valid_access,
// flow_dissector_is_valid_access and check_flow_keys_access.

import { RegType } from '../state/types.ts';
import type { Program } from '../../program/types.ts';
import { reject, EACCES } from '../reject.ts';
import type { CtxAccess } from './ctx.ts';

const SCALAR: CtxAccess = { regType: RegType.SCALAR_VALUE };

type Check = (prog: Program, off: number, size: number, write: boolean, ldsx: boolean) => CtxAccess | undefined;

const PT_REGS_SIZE = 168; // x86-64 struct pt_regs
const PERF_EVENT_DATA_SIZE = PT_REGS_SIZE + 16;

/** perf_event: read only; sample_period and addr also take narrow loads, the registers
 *  only whole u64 loads. */
const perfEvent: Check = (_prog, off, size, write) => {
  if (off < 0 || off >= PERF_EVENT_DATA_SIZE || write || off % size !== 0) return undefined;
  if (off >= PT_REGS_SIZE) return size <= 8 && (size & (size - 1)) === 0 ? SCALAR : undefined;
  return size === 8 ? SCALAR : undefined;
};

const SKB_DATA = 76;
const SKB_DATA_END = 80;
const SKB_FLOW_KEYS = 144;
const SKB_SIZE = 192;

/** flow_dissector: read only; data/data_end as whole u32 loads (not sign-extended), the
 *  flow keys as a whole u64 load. */
const flowDissector: Check = (_prog, off, size, write, ldsx) => {
  if (off < 0 || off >= SKB_SIZE || off % size !== 0 || write) return undefined;
  if (off >= SKB_DATA && off < SKB_DATA + 4) return !ldsx && size === 4 ? { regType: RegType.PTR_TO_PACKET } : undefined;
  if (off >= SKB_DATA_END && off < SKB_DATA_END + 4) return !ldsx && size === 4 ? { regType: RegType.PTR_TO_PACKET_END } : undefined;
  if (off >= SKB_FLOW_KEYS && off < SKB_FLOW_KEYS + 8) return size === 8 ? { regType: RegType.PTR_TO_FLOW_KEYS } : undefined;
  return undefined;
};

export const MISC_CTX_CHECKS: Readonly<Record<string, Check>> = {
  PERF_EVENT: perfEvent,
  FLOW_DISSECTOR: flowDissector,
};

const FLOW_KEYS_SIZE = 56;

/** check_flow_keys_access: inside struct bpf_flow_keys. */
export function checkFlowKeysAccess(off: number, size: number): void {
  if (size < 0 || off < 0 || off + size > FLOW_KEYS_SIZE) throw reject(EACCES, `invalid access to flow keys off=${off} size=${size}`);
}
