// Fuzz, byte level: 5,000 suites with deleted, inserted and replaced characters and duplicated
// lines (fixed seed). Each loads or throws an InputError located in the file; nothing else.
// With test/spec-fuzz-structure.test.ts: 10,000 mutated inputs.
import t from 'tap';
import { fuzz, loadSuiteText, mutateBytes, reseed, SEEDS } from './spec-fuzz-lib.ts';

t.test('5,000 byte-mutated suites', async (t) => {
  for (const s of SEEDS) t.doesNotThrow(() => loadSuiteText(s, 'fuzz.yaml'), 'the seeds are valid');
  reseed(0xb17e5);
  const N = 5000;
  const r = fuzz(N, (i) => mutateBytes(SEEDS[i % SEEDS.length]));
  t.same(r.bad.slice(0, 3), [], 'only located InputErrors');
  t.equal(r.loaded + r.rejected + r.bad.length, N);
  t.ok(r.loaded > 100 && r.rejected > 1000, `both outcomes occur (loaded ${r.loaded}, rejected ${r.rejected})`);
  t.comment(`${N} inputs in ${r.ms} ms`);
});
