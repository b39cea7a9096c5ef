// Running a load with fewer capabilities, the way test_loader does for "unpriv" runs and
// prog_tests/verifier.c does for every verifier_* run (no CAP_SYS_ADMIN).
//
// How: capset(2) on the calling thread, clearing bits from the *effective* set only. The
// permitted set is untouched, so the bits can be raised again afterwards. Node runs JS and
// koffi's synchronous calls on the main thread, and credentials are per thread, so the bpf()
// calls made in between see exactly the reduced set while libuv's worker threads keep theirs.
// Nothing asynchronous may run between drop and restore: withCapsDropped takes a sync fn.

import { sysCapget, sysCapset } from './syscall.ts';

/** Capability numbers (uapi linux/capability.h). */
export const CAP = {
  NET_ADMIN: 12,
  SYS_ADMIN: 21,
  SYSLOG: 34,
  PERFMON: 38,
  BPF: 39,
} as const;

/** What test_loader drops for an unprivileged run. */
export const UNPRIV_DROP: readonly number[] = [CAP.SYS_ADMIN, CAP.NET_ADMIN, CAP.PERFMON, CAP.BPF];

const bit = (cap: number): bigint => 1n << BigInt(cap);

export function effectiveCaps(): bigint {
  const r = sysCapget();
  if (r.errno) throw new Error(`capget failed: errno ${r.errno}`);
  return r.caps.effective;
}

export function hasCap(cap: number): boolean {
  return (effectiveCaps() & bit(cap)) !== 0n;
}

/** Run fn with `caps` cleared from this thread's effective set, then put back exactly the
 *  bits that were cleared (also when fn throws). */
export function withCapsDropped<T>(caps: readonly number[], fn: () => T): T {
  const before = sysCapget();
  if (before.errno) throw new Error(`capget failed: errno ${before.errno}`);
  let mask = 0n;
  for (const c of caps) mask |= bit(c);
  const dropped = before.caps.effective & mask;
  if (dropped === 0n) return fn();
  const e = sysCapset({ ...before.caps, effective: before.caps.effective & ~dropped });
  if (e) throw new Error(`capset (drop) failed: errno ${e}`);
  try {
    return fn();
  } finally {
    const now = sysCapget();
    const r = sysCapset({ ...now.caps, effective: now.caps.effective | dropped });
    if (r) throw new Error(`capset (restore) failed: errno ${r}`);
  }
}

/** Run fn with `caps` raised again inside a withCapsDropped region (test_loader restores caps
 *  before fetching prog info and running the program). Only bits in the permitted set. */
export function withCapsRaised<T>(caps: readonly number[], fn: () => T): T {
  const before = sysCapget();
  if (before.errno) throw new Error(`capget failed: errno ${before.errno}`);
  let mask = 0n;
  for (const c of caps) mask |= bit(c);
  const raised = mask & before.caps.permitted & ~before.caps.effective;
  if (raised === 0n) return fn();
  const e = sysCapset({ ...before.caps, effective: before.caps.effective | raised });
  if (e) throw new Error(`capset (raise) failed: errno ${e}`);
  try {
    return fn();
  } finally {
    const now = sysCapget();
    const r = sysCapset({ ...now.caps, effective: now.caps.effective & ~raised });
    if (r) throw new Error(`capset (re-drop) failed: errno ${r}`);
  }
}
