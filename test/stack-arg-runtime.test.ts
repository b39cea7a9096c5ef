// Every stack-arg spec with a retval, run in the interpreter under its series (bypassing the
// verifier, which does not model the series yet): the layouts of both series, the argument
// passing of bpf-to-bpf and kfunc calls and the built-in kfuncs are checked against the
// retvals the specs state (those of the merged selftests where they mirror one). Programs of
// the same suite under the other series must fault in the interpreter on their first
// stack-arg instruction, as the verifier would reject them there.

import t from 'tap';
import { findSpecFiles, loadSuiteFile } from '../harness/spec/index.ts';
import { runProgram, type HelperFn } from '../engine/runtime/index.ts';
import { builtinKfuncImpls } from '../engine/runtime/kfuncs/index.ts';
import type { Series } from '../engine/program/types.ts';

const files = findSpecFiles(['specs/stack_arg']);
const kfuncs = builtinKfuncImpls();
/** bpf_sk_lookup_tcp/udp and bpf_skc_lookup_tcp returning a non-NULL socket (never read). */
const fakeSocket = new Map<number, HelperFn>([84, 85, 99].map((id) => [id, (m) => m.setR0(0x1000n)]));

t.ok(files.length >= 8, `spec files found (${files.length})`);

let withRetval = 0;
let crossSeries = 0;
for (const file of files) {
  const suite = loadSuiteFile(file);
  t.test(file, async (t) => {
    for (const test of suite.tests) {
      const series: Series = test.series ?? suite.series ?? 'none';
      const retval = test.priv?.retval;
      if (test.priv?.result === 'success' && retval?.kind === 'value') {
        withRetval++;
        const r = runProgram(test.program, { series, kfuncs });
        t.ok(r.ok, `${test.name} (${series}) runs${r.ok ? '' : `: ${r.fault}`}`);
        t.equal(Number(BigInt.asIntN(32, r.retval)), retval.value, `${test.name} (${series}) retval`);
      } else if (test.priv?.result === 'failure' && series !== suite.series && test.priv.msgs.some((m) => /R1[12] is invalid/.test(m.text))) {
        // A program written for the suite's series, run under another: its base register is
        // not a stack-arg register there.
        crossSeries++;
        // A socket lookup finds nothing in a test run; here it must find one, or a program
        // that branches on it would exit before reaching its base register.
        const r = runProgram(test.program, { series, kfuncs, helpers: fakeSocket });
        t.notOk(r.ok, `${test.name} (${series}) faults`);
        // The interpreter lacks a few helpers (skb_pull_data); a program that calls one first
        // stops there, before reaching its base register.
        if (/unknown helper/.test(r.fault ?? '')) continue;
        t.match(r.fault ?? '', /R1[12] is invalid/, `${test.name} (${series}) faults on the register`);
      }
    }
  });
}

t.test('coverage of the retval set', async (t) => {
  // bpf2bpf 7 x 2 series, kfunc 8 x 2 series, plus our own retval tests.
  t.ok(withRetval >= 30, `retval tests run (${withRetval})`);
  t.ok(crossSeries >= 40, `other-series runs checked (${crossSeries})`);
});
