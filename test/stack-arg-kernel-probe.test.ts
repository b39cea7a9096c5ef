// The kernel backend's series probe: one load per series and process through the series'
// base register; "R11/R12 is invalid" means the kernel lacks the series and every request
// for it is a skip. Exercised with a fake loader, and once against the live kernel when
// bpf() is usable (the live 6.18 kernel has neither series).

import t from 'tap';
import { kernelSeriesSupport, probeSaysMissing, seriesProbe } from '../harness/backends/kernel.ts';
import { libcAvailable } from '../engine/kernel/syscall.ts';
import { loadProgram } from '../engine/kernel/load.ts';

t.test('the probe program stores through the base register', async (t) => {
  t.same(seriesProbe('v4').insns[0], { code: 0x7a, dst: 12, src: 0, off: -8, imm: 1 });
  t.same(seriesProbe('merged').insns[0], { code: 0x7a, dst: 11, src: 0, off: -8, imm: 1 });
});

t.test('reading a probe log', async (t) => {
  t.ok(probeSaysMissing('merged', '0: (7a) *(u64 *)(r11 -8) = 1\nR11 is invalid\n'));
  t.ok(probeSaysMissing('v4', 'R12 is invalid\n'));
  t.notOk(probeSaysMissing('merged', 'func#0 writes 1 stack arg slots, but calls only require 0\n'));
  t.notOk(probeSaysMissing('v4', 'R11 is invalid\n'), 'the other register says nothing about v4');
});

t.test('probe results: cached per series, a skipped probe is not cached', async (t) => {
  let loads = 0;
  const skipped = () => { loads++; return { log: '', skip: 'not root' }; };
  t.match(kernelSeriesSupport('v4', skipped), /cannot probe the v4 stack-argument series: not root/);
  t.match(kernelSeriesSupport('v4', skipped), /cannot probe/);
  t.equal(loads, 2, 'a skipped probe is retried');
  const missing = () => { loads++; return { log: 'R12 is invalid\n' }; };
  t.equal(kernelSeriesSupport('v4', missing), 'kernel lacks the v4 stack-argument series');
  t.equal(kernelSeriesSupport('v4', () => { throw new Error('cached: not called'); }), 'kernel lacks the v4 stack-argument series');
  t.equal(loads, 3);
});

t.test('the live kernel', { skip: process.getuid?.() !== 0 || !libcAvailable() ? 'needs root and bpf()' : false }, async (t) => {
  const r = loadProgram(seriesProbe('merged'), { logLevel: 1, flags: 0 });
  t.notOk(r.loaded);
  // 6.18 has no stack-argument series: the probe says so.
  if (/^6\.18\./.test((await import('node:os')).release())) t.match(r.log, /R11 is invalid/);
  else t.pass(`kernel ${(await import('node:os')).release()}: probe log not pinned`);
});
