// Fuzz, structure level: 5,000 suites whose YAML tree had keys deleted, values replaced by
// values of other types, unknown keys added and list items duplicated (some after a byte
// mutation too; fixed seed). Each loads or throws an InputError located in the file.
import t from 'tap';
import { fuzz, mutateBytes, mutateStructure, reseed, SEEDS } from './spec-fuzz-lib.ts';

t.test('5,000 structure-mutated suites', async (t) => {
  reseed(0x57c7);
  const N = 5000;
  const r = fuzz(N, (i) => {
    const seed = SEEDS[i % SEEDS.length];
    const s = mutateStructure(seed);
    return i % 5 === 0 ? mutateBytes(s) : s;
  });
  t.same(r.bad.slice(0, 3), [], 'only located InputErrors');
  t.equal(r.loaded + r.rejected + r.bad.length, N);
  t.ok(r.loaded > 100 && r.rejected > 1000, `both outcomes occur (loaded ${r.loaded}, rejected ${r.rejected})`);
  t.comment(`${N} inputs in ${r.ms} ms`);
});
