// The verifier's public API. The model itself lands with the verifier-core issue; until then
// verify() reports that it is not implemented, and the harness fails every test that needs a
// verdict (never a fake pass).

import type { Program, Series } from '../program/types.ts';

export interface VerifyOptions {
  /** Log level bits as bpf_attr.log_level: 1, 2, 4 (stats), combinable. */
  readonly logLevel: number;
  /** Run as an unprivileged loader (no CAP_BPF/PERFMON/NET_ADMIN). */
  readonly unpriv: boolean;
  readonly series: Series;
}

export interface SubprogFacts {
  readonly start: number;
  readonly stackDepth: number;
  readonly argCount: number;
  /** v4: bytes; merged: slot counts. */
  readonly stackArgIn: number;
  readonly stackArgOut: number;
}

export interface VerifyResult {
  readonly accepted: boolean;
  /** 0 on success, else EACCES (13), EINVAL (22), E2BIG (7), ... */
  readonly errno: number;
  readonly log: string;
  readonly xlated?: Program['insns'];
  readonly subprogs: readonly SubprogFacts[];
  readonly stats: { readonly processedInsns: number; readonly totalStates: number; readonly peakStates: number };
}

export class NotImplementedError extends Error {
  constructor(what: string) {
    super(`${what} not implemented`);
    this.name = 'NotImplementedError';
  }
}

export function verify(_prog: Program, _opts: VerifyOptions): VerifyResult {
  throw new NotImplementedError('verifier');
}
