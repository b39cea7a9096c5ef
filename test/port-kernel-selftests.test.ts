// scripts/kernel-selftests.ts: how engine failures are grouped into causes for
// not-passed-engine.txt (test-specific numbers and patterns dropped, unsupported reasons kept).

import t from 'tap';
import { causeOf } from '../scripts/kernel-selftests.ts';

t.test('causes group failures of the same kind', async (t) => {
  t.equal(causeOf('unsupported by this backend: helper bpf_strtoul#106 not implemented'), 'unsupported: helper bpf_strtoul#106 not implemented');
  t.equal(causeOf("verifier log does not match: EXPECTED 'stack depth 8'"), 'log mismatch');
  t.equal(causeOf("xlated text does not match: WRONG LINE '5: w0 = '"), 'xlated mismatch');
  t.equal(causeOf("jited text does not match: EXPECTED '\tendbr64'"), 'jited mismatch');
  t.equal(causeOf('unexpected retval: 3 != 0'), 'retval mismatch');
  t.equal(causeOf('expected the load to succeed, but it failed with errno 13 (EACCES)'), 'verdict: rejected (EACCES) where the test expects success');
  t.equal(causeOf('expected the load to fail, but it succeeded'), 'verdict: accepted where the test expects failure');
  t.equal(causeOf('the test crashed: TypeError: x is 3 (at foo.ts:1:2)'), causeOf('the test crashed: TypeError: x is 4 (at bar.ts:9:9)'));
  t.equal(causeOf('something odd 12'), causeOf('something odd 13'));
});
