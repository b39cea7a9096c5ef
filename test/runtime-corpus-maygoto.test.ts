// The corpus retval cases that use may_goto (see runtime-corpus-retval.test.ts): the kernel's
// x86-64 JIT bounds may_goto by time (6.18: refills of 0xffff until about 250 ms pass), the
// interpreter by the counted budget of 8M per frame (BPF_MAX_LOOPS), so the two differ in
// how many iterations a run makes but not in these tests' results, which hold for any budget
// large enough (cond_break1 needs 1M iterations). Each run spends whole budgets: slow.

import t from 'tap';
import { judgeCase, runCaseInInterpreter, usesMayGoto } from '../engine/runtime/run-case.ts';
import { BPF_MAX_LOOPS } from '../engine/runtime/index.ts';
import { loadCorpusRetvalCases } from './lib/corpus-retval.ts';

const loaded = loadCorpusRetvalCases();
/** Without the recorded cases every test here is skipped with the reason. */
const skip = loaded.ok ? false : loaded.reason;
const cases = loaded.ok ? loaded.fixture.cases.filter(usesMayGoto) : [];

t.test('every may_goto case: the interpreter returns the kernel retval', { skip }, async (t) => {
  t.ok(cases.length >= 10, `${cases.length} cases`);
  let spent = 0;
  for (const c of cases) {
    const r = runCaseInInterpreter(c);
    const j = judgeCase(c, r);
    t.equal(j.verdict, 'agree', `${c.id}: kernel ${c.kernel ?? 'pointer'}, interpreter ${r.ok ? j.got : r.fault}`);
    if (r.insnsExecuted > 2 * BPF_MAX_LOOPS) spent++;
  }
  // The point of this file: runs that exhaust a frame's budget complete under the default bound.
  t.ok(spent >= 7, `${spent} runs spent at least one whole may_goto budget`);
});
