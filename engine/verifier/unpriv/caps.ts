// Which privileges a load runs with. The verifier asks two questions of the loader
// (6.18): bpf_capable (CAP_BPF or CAP_SYS_ADMIN) gates loops, bpf-to-bpf and kfunc calls,
// some helpers and map types; perfmon_capable (CAP_PERFMON or CAP_SYS_ADMIN) gates pointer
// leaks, reads of uninitialised stack and the Spectre v1/v4 bypasses (mitigations=auto on
// the reference machine, so cpu_mitigations_off() is false).

export const CAP_NET_ADMIN = 12;
export const CAP_SYS_ADMIN = 21;
export const CAP_PERFMON = 38;
export const CAP_BPF = 39;

export interface LoaderCaps {
  readonly bpf: boolean;
  readonly perfmon: boolean;
}

/** Root keeps everything; an unprivileged run keeps only the listed capabilities. */
export function loaderCaps(opts: { readonly unpriv: boolean; readonly capsUnpriv?: readonly number[] }): LoaderCaps {
  if (!opts.unpriv) return { bpf: true, perfmon: true };
  const kept = new Set(opts.capsUnpriv ?? []);
  const admin = kept.has(CAP_SYS_ADMIN);
  return { bpf: admin || kept.has(CAP_BPF), perfmon: admin || kept.has(CAP_PERFMON) };
}
