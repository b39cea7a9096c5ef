// Fuzz the spec loader, part of 4 x 2,500 = 10,000 mutated suites (fixed seeds; the campaigns
// are described in spec-fuzz-lib.ts). Each input must load or throw an InputError located in
// the file (line and column >= 1): no other exception, no hang.
import t from 'tap';
import { structureCampaign, loadSuiteText, SEEDS } from './lib/spec-fuzz-lib.ts';

t.test('2,500 mutated suites (structure-1)', async (t) => {
  for (const s of SEEDS) t.doesNotThrow(() => loadSuiteText(s, 'fuzz.yaml'), 'the seeds are valid');
  const N = 2500;
  const r = structureCampaign(0x57c7, N);
  t.same(r.bad.slice(0, 3), [], 'only located InputErrors');
  t.equal(r.loaded + r.rejected + r.bad.length, N);
  t.ok(r.loaded > 25 && r.rejected > 500, `both outcomes occur (loaded ${r.loaded}, rejected ${r.rejected})`);
  t.comment(`${N} inputs in ${r.ms} ms`);
});
