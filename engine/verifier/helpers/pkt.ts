// Prototypes of the helpers that change packet data (skb/xdp resizing, stores, checksum
// fixes) and a few skb helpers next to them; after any helper that may move the packet,
// every packet pointer the program holds is invalid (clear_all_pkt_pointers).

import { Arg, Ret } from './protos.ts';
import type { HelperProto } from './protos.ts';
import { RegType, baseType } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import { markNotInit, markUnknown } from '../state/regs.ts';
import type { VerifierEnv } from '../env.ts';

const TC = ['SCHED_CLS', 'SCHED_ACT'];
const LWT_OUT = ['LWT_IN', 'LWT_OUT', 'LWT_XMIT', 'LWT_SEG6LOCAL'];
const ctxOnly = (id: number, progTypes: readonly string[], more = 0): HelperProto =>
  ({ id, args: [Arg.PTR_TO_CTX, ...Array<Arg>(more).fill(Arg.ANYTHING)], ret: Ret.INTEGER, progTypes });

export function pktProtos(): readonly HelperProto[] {
  return [
    { id: 9, args: [Arg.PTR_TO_CTX, Arg.ANYTHING, Arg.PTR_TO_MEM_RDONLY, Arg.CONST_SIZE, Arg.ANYTHING], ret: Ret.INTEGER, progTypes: [...TC, 'SK_SKB', 'LWT_XMIT'] }, // skb_store_bytes
    ctxOnly(10, [...TC, 'LWT_XMIT'], 4), // l3_csum_replace
    ctxOnly(11, [...TC, 'LWT_XMIT'], 4), // l4_csum_replace
    ctxOnly(18, TC, 2), // skb_vlan_push
    ctxOnly(19, TC), // skb_vlan_pop
    ctxOnly(31, TC, 2), // skb_change_proto
    ctxOnly(34, [...TC, ...LWT_OUT]), // get_hash_recalc
    ctxOnly(38, [...TC, 'SK_SKB', 'LWT_XMIT'], 2), // skb_change_tail
    ctxOnly(39, [...TC, 'SK_SKB', ...LWT_OUT], 1), // skb_pull_data
    ctxOnly(40, [...TC, 'LWT_XMIT'], 1), // csum_update
    ctxOnly(41, [...TC, 'LWT_XMIT']), // set_hash_invalid
    ctxOnly(43, [...TC, 'SK_SKB', 'LWT_XMIT'], 2), // skb_change_head
    ctxOnly(44, ['XDP'], 1), // xdp_adjust_head
    ctxOnly(50, [...TC, 'SK_SKB'], 3), // skb_adjust_room
    ctxOnly(54, ['XDP'], 1), // xdp_adjust_meta
    ctxOnly(65, ['XDP'], 1), // xdp_adjust_tail
    ctxOnly(135, [...TC, 'LWT_XMIT'], 1), // csum_level
  ];
}

/** bpf_helper_changes_pkt_data. 6.18: bpf_tail_call is not in it (a failed tail call leaves
 *  the packet as it was, so the caller keeps its pointers); it only marks the subprogram as
 *  changing packet data for callers of a global one (calls/pkt-effects.ts). */
const CHANGES_PKT_DATA = new Set([
  9, 10, 11, 13, 18, 19, 31, 38, 39, 43, 50, // skb: store_bytes .. adjust_room, clone_redirect
  44, 54, 65, // xdp_adjust_head/meta/tail
  63, 90, 91, // msg_pull/push/pop_data
  73, 74, 75, 76, // lwt_push_encap, lwt_seg6_*
  143, // store_hdr_opt
]);

export const BPF_FUNC_tail_call = 12;

export const changesPktData = (id: number): boolean => CHANGES_PKT_DATA.has(id);

const isPktAny = (r: RegState): boolean => {
  const t = baseType(r.type);
  return t === RegType.PTR_TO_PACKET || t === RegType.PTR_TO_PACKET_META || t === RegType.PTR_TO_PACKET_END;
};

/** clear_all_pkt_pointers: registers and spilled registers of every frame (mark_reg_invalid:
 *  unknown scalars for loaders that may see pointers, uninitialised otherwise). */
export function clearAllPktPointers(env: VerifierEnv): void {
  const invalidate = (r: RegState): void => {
    if (!isPktAny(r)) return;
    if (env.allowPtrLeaks) markUnknown(r);
    else markNotInit(r);
  };
  for (const f of env.curState.frames) {
    f.regs.forEach(invalidate);
    for (const s of f.stack) if (s.slotType[7] === 1) invalidate(s.spilled);
  }
}
