// Compare every unprivileged run of the ported selftest corpus with the live 6.18 kernel,
// loading (maps included) without CAP_PERFMON/SYS_ADMIN/NET_ADMIN but keeping CAP_BPF:
// the closest oracle this machine allows (unprivileged_bpf_disabled refuses CAP_BPF-less
// loads). Verdict, errno and the level-1 log must agree; rules that need CAP_BPF gone
// (loops, calls, some helpers and ctx fields) are not covered.
// Run as root: node --import tsx scripts/unpriv-oracle-sweep.ts [specs dir] [name regex]

import { verify } from '../engine/verifier/index.ts';
import { NotImplementedError } from '../engine/verifier/not-implemented.ts';
import { loadSuiteFile, findSpecFiles } from '../harness/spec/index.ts';
import { buildRequest } from '../harness/run/plan.ts';
import { loadProgram } from '../engine/kernel/load.ts';
import { withCapsDropped } from '../engine/kernel/caps.ts';
import { maskLog, UNPRIV_KEEP_BPF } from './record-verifier-oracle.ts';

const CAP_BPF = 39;

function main(): void {
  const dir = process.argv[2] ?? '.cache/kernel-selftests/specs';
  const re = new RegExp(process.argv[3] ?? '.');
  const counts = { same: 0, logOnly: 0, verdict: 0, notImplemented: 0 };
  for (const file of findSpecFiles([dir])) {
    const suite = loadSuiteFile(file);
    for (const test of suite.tests) {
      if (!test.unpriv || !re.test(`${suite.suite}/${test.name}`)) continue;
      const req = buildRequest(suite, test, 'unpriv', 'none');
      const k = withCapsDropped(UNPRIV_KEEP_BPF, () =>
        loadProgram(req.program, { logLevel: 1, flags: req.flags, auxiliary: req.auxiliary, dropSysAdmin: false, ...(suite.funcInfo ? { funcInfo: true } : {}) }));
      if (k.skip) continue;
      const name = `${suite.suite}/${test.name}`;
      let ours;
      try {
        ours = verify(req.program, { logLevel: 1, unpriv: true, capsUnpriv: [CAP_BPF], series: 'none' });
      } catch (e) {
        // Not implemented yet, or a crash: listed, the sweep goes on.
        counts.notImplemented++;
        console.log(`${e instanceof NotImplementedError ? 'NOT-IMPLEMENTED' : 'CRASH'} ${name}: ${(e as Error).message}`);
        continue;
      }
      const kv = `${k.loaded} ${k.errno}`;
      const ov = `${ours.accepted} ${ours.errno}`;
      const kl = maskLog(k.log);
      const ol = maskLog(ours.log).replace(/verification time <T> usec\n/, '');
      if (kv === ov && kl === ol) counts.same++;
      else if (kv === ov) {
        counts.logOnly++;
        console.log(`LOG ${name}: ${kv}`);
      } else {
        counts.verdict++;
        console.log(`VERDICT ${name}: kernel ${kv}, engine ${ov} (6.12 expected ${test.unpriv.result})`);
      }
    }
  }
  console.log(`same ${counts.same}, log differs ${counts.logOnly}, verdict differs ${counts.verdict}, not implemented or crashed ${counts.notImplemented}`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
