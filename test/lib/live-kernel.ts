// Test-running planned spec items on the live kernel (as root, with vmlinux BTF): the tests
// whose expected values come from the kernel re-check them there, so they cannot drift.

import type { Test } from 'tap';
import type { RunItem } from '../../harness/run/plan.ts';
import { vmlinuxBtf } from '../../engine/btf/vmlinux.ts';

/** The skip reason when the live kernel cannot be asked here, else false. */
export function liveKernelSkip(): string | false {
  const root = process.getuid?.() === 0;
  return root && vmlinuxBtf() ? false : 'needs root and vmlinux BTF';
}

/** Each item loads on the kernel and its test run returns `want(item)`. */
export async function checkKernelRetvals(t: Test, items: readonly RunItem[], want: (it: RunItem) => number): Promise<void> {
  const { createKernelBackend } = await import('../../harness/backends/kernel.ts');
  const backend = createKernelBackend();
  for (const it of items) {
    const out = await backend.run(it.request);
    t.ok(out.loaded, `${it.test} loads${out.loaded ? '' : `: ${out.log.split('\n').slice(-3).join(' | ')}`}`);
    if (!out.loaded) continue;
    t.same(out.retval, { ok: true, value: want(it) }, `${it.test} kernel retval`);
  }
  await backend.close?.();
}
