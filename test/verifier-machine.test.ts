// Machine facts the verifier depends on (engine/verifier/machine.ts): nr_cpu_ids bounds what
// bpf_get_smp_processor_id returns (6.18 do_refine_retval_range).

import t from 'tap';
import { nrCpuIdsOf, machineNrCpuIds } from '../engine/verifier/machine.ts';
import { verify } from '../engine/verifier/index.ts';
import { loadSuiteText } from '../harness/spec/index.ts';
import { planSuites } from '../harness/run/plan.ts';

t.test('nr_cpu_ids from a cpu list', async (t) => {
  t.equal(nrCpuIdsOf('0-1\n'), 2);
  t.equal(nrCpuIdsOf('0'), 1);
  t.equal(nrCpuIdsOf('0-3,6'), 7);
  t.equal(nrCpuIdsOf('0,2-5'), 6);
  t.equal(nrCpuIdsOf(''), undefined, 'empty');
  t.equal(nrCpuIdsOf('zero'), undefined, 'not a list');
  t.ok(machineNrCpuIds() >= 1, `this machine: ${machineNrCpuIds()}`);
});

const SUITE = `suite: smp
tests:
  - name: smp_id
    section: socket
    asm: |
      call %[bpf_get_smp_processor_id];
      exit;
    expect: {result: success}
`;

t.test('bpf_get_smp_processor_id returns [0, nr_cpu_ids - 1]', async (t) => {
  const [item] = planSuites([loadSuiteText(SUITE, 'smp.yaml')], { backends: ['engine'] }).filter((i) => i.mode === 'priv');
  for (const [n, text] of [[4, 'R0=scalar(smin=smin32=0,smax=umax=smax32=umax32=3,var_off=(0x0; 0x3))'], [1, 'R0=0']] as const) {
    const v = verify(item.request.program, { logLevel: 2, unpriv: false, series: 'none', nrCpuIds: n });
    t.ok(v.accepted);
    t.match(v.log, text, `nr_cpu_ids ${n}: ${text}`);
  }
});
