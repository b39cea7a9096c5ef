// Facts of the machine the modelled kernel runs on that change what the verifier concludes.

import { readFileSync } from 'node:fs';

/** The kernel's NR_CPUS bound, for when the machine's count cannot be read. */
const NR_CPUS_FALLBACK = 8192;

/** nr_cpu_ids from a cpu list such as `0-3,6` (the highest CPU + 1). */
export function nrCpuIdsOf(list: string): number | undefined {
  let max = -1;
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    max = Math.max(max, Number(m[2] ?? m[1]));
  }
  return max >= 0 ? max + 1 : undefined;
}

let cached: number | undefined;

/** nr_cpu_ids of this machine (/sys/devices/system/cpu/possible). */
export function machineNrCpuIds(): number {
  if (cached === undefined) {
    let text = '';
    try {
      text = readFileSync('/sys/devices/system/cpu/possible', 'utf8');
    } catch {
      // no sysfs: the kernel's compile-time bound
    }
    cached = nrCpuIdsOf(text) ?? NR_CPUS_FALLBACK;
  }
  return cached;
}
