// Print what the live kernel says for every unprivileged run of one spec file, loaded with
// CAP_BPF kept and CAP_PERFMON/SYS_ADMIN/NET_ADMIN dropped (the closest oracle while
// kernel.unprivileged_bpf_disabled=2), next to the spec's unpriv expectation and the
// engine's verdict. Used to confirm specs/unpriv.yaml.
// Run as root: node --import tsx scripts/unpriv-confirm.ts specs/unpriv.yaml [name regex]

import { verify } from '../engine/verifier/index.ts';
import { loadSuiteFile } from '../harness/spec/index.ts';
import { buildRequest } from '../harness/run/plan.ts';
import { loadProgram } from '../engine/kernel/load.ts';
import { withCapsDropped } from '../engine/kernel/caps.ts';
import { UNPRIV_KEEP_BPF } from './record-verifier-oracle.ts';

const CAP_BPF = 39;

/** The last lines of a log: where the verdict's reason is printed. */
function tail(log: string, n: number): string {
  return log.trimEnd().split('\n').filter((l) => !l.startsWith('processed ') && !l.startsWith('verification time')).slice(-n).join(' | ');
}

function main(): void {
  const file = process.argv[2] ?? 'specs/unpriv.yaml';
  const re = new RegExp(process.argv[3] ?? '.');
  const suite = loadSuiteFile(file);
  let agree = 0;
  let disagree = 0;
  for (const test of suite.tests) {
    if (!test.unpriv || !re.test(test.name)) continue;
    const req = buildRequest(suite, test, 'unpriv', 'none');
    const k = withCapsDropped(UNPRIV_KEEP_BPF, () =>
      loadProgram(req.program, { logLevel: 1, flags: req.flags, auxiliary: req.auxiliary, dropSysAdmin: false }));
    if (k.skip) { console.log(`SKIP ${test.name}: ${k.skip}`); continue; }
    const kernelOk = k.loaded ? 'success' : 'failure';
    // The spec's messages must each appear in the kernel log, in order.
    let at = 0;
    let msgsOk = true;
    for (const m of test.unpriv.msgs) {
      const text = m.text;
      const i = k.log.indexOf(text, at);
      if (i < 0) { msgsOk = false; break; }
      at = i + text.length;
    }
    const ok = kernelOk === test.unpriv.result && msgsOk;
    if (ok) agree++; else disagree++;
    let eng = '?';
    try {
      const r = verify(req.program, { logLevel: 1, unpriv: true, capsUnpriv: [CAP_BPF], series: 'none' });
      eng = r.accepted ? 'success' : `failure: ${tail(r.log, 1)}`;
    } catch (e) { eng = `throws: ${(e as Error).message}`; }
    console.log(`${ok ? 'OK  ' : 'DIFF'} ${test.name}: kernel ${kernelOk}${k.loaded ? '' : ` (${tail(k.log, 1)})`}; engine ${eng}`);
  }
  console.log(`unpriv expectations confirmed ${agree}, differ ${disagree}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
