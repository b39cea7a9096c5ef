// Context fields only a CAP_BPF loader may use (cg_skb_is_valid_access): a cgroup_skb
// program without it cannot see packet data nor write the timestamp.

import type { VerifierEnv } from '../env.ts';

// struct __sk_buff offsets (6.18 UAPI).
const DATA = 76;
const DATA_END = 80;
const TSTAMP = 152;

const within = (off: number, start: number, size: number): boolean => off >= start && off < start + size;

/** True when the access is refused for want of CAP_BPF (the generic ctx message follows). */
export function ctxDeniedUnpriv(env: VerifierEnv, off: number, write: boolean): boolean {
  if (env.bpfCapable || env.prog.progType !== 'CGROUP_SKB') return false;
  if (within(off, DATA, 4) || within(off, DATA_END, 4)) return true;
  return write && within(off, TSTAMP, 8);
}
