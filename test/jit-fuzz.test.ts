// The JIT fuzzer (scripts/fuzz-jit.ts) on a fixed seed: verified random programs agree
// natively and in the interpreter on r0 and on all map memory; the comparison catches
// differences; generation is deterministic.

import t from 'tap';
import { NativePool } from '../engine/jit/native/pool.ts';
import { Rng, compare, fuzzOne, fuzzProgram, interpret } from '../scripts/fuzz-jit.ts';

const noNative = process.arch !== 'x64' || process.platform !== 'linux' ? 'native x86-64 execution needs linux/x64' : false;
const SEED = 20260513;

t.test('generation is deterministic per seed', async (t) => {
  const a = fuzzProgram(new Rng(SEED), 40, 'a');
  const b = fuzzProgram(new Rng(SEED), 40, 'a');
  const c = fuzzProgram(new Rng(SEED + 1), 40, 'a');
  t.same(a, b);
  t.notSame(a.insns, c.insns);
  t.ok(a.insns.length > 60, `${a.insns.length} instructions`);
});

t.test('comparison: r0, success and memory are all checked', async (t) => {
  const prog = fuzzProgram(new Rng(SEED), 20, 'p');
  const want = interpret(prog, 1);
  t.ok(want.ok, want.fault ?? 'interpreter ran');
  const same = { ok: true, retval: want.retval, maps: want.maps };
  t.equal(compare(want, same), undefined);
  t.match(compare(want, { ...same, retval: want.retval ^ 1n }) ?? '', /^r0:/);
  t.match(compare(want, { ok: false, retval: 0n, error: 'x', signal: 'SIGSEGV' }) ?? '', /native x/);
  const maps = JSON.parse(JSON.stringify(want.maps)) as Record<string, string[]>;
  maps.fuzz[0] = maps.fuzz[0].replace(/.$/, (c) => (c === '0' ? '1' : '0'));
  t.match(compare(want, { ...same, maps }) ?? '', /^memory differs/);
});

t.test('150 random verified programs agree natively and in the interpreter', { skip: noNative }, async (t) => {
  const pool = new NativePool();
  t.teardown(() => pool.close());
  const counts: Record<string, number> = {};
  for (let i = 0; i < 150; i++) {
    const prog = fuzzProgram(new Rng((SEED + Math.imul(i, 0x9e3779b1)) >>> 0), 40, `fuzz_${i}`);
    const o = await fuzzOne(pool, prog, i);
    counts[o.verdict] = (counts[o.verdict] ?? 0) + 1;
    if (o.verdict === 'differ') t.fail(`program ${i}: ${o.detail}`);
  }
  t.equal(counts.differ ?? 0, 0, 'no disagreement');
  t.ok((counts.agree ?? 0) >= 120, `${counts.agree} of 150 verified and agreeing (${JSON.stringify(counts)})`);
});
