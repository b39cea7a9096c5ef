// Differential test: our verdict, errno and log (levels 1 and 2) against the live 6.18
// kernel's, recorded in test/fixtures/verifier-kernel-logs.json by
// scripts/record-verifier-oracle.ts. Programs whose features we do not model yet must throw
// NotImplementedError (counted, never passed). Exact-log agreement is tracked as a floor
// (KNOWN_LOG_MISMATCH lists the programs whose text still differs, with the reason); a
// mismatch outside that list fails, and so does a listed one that starts to match.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { verify, NotImplementedError } from '../engine/verifier/index.ts';
import { PROGRAMS, toProgram } from './fixtures/verifier-programs/index.ts';
import { maskLog, loadInKernel } from '../scripts/record-verifier-oracle.ts';
import type { OracleRecord } from '../scripts/record-verifier-oracle.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/verifier-kernel-logs.json', import.meta.url), 'utf8')) as { records: OracleRecord[] };
const byName = new Map(PROGRAMS.map((p) => [p.name, p]));

/** name@level -> why our text differs (verdict and errno must still agree); the text
 *  without the lines `dropUnmodelled` removes must still match. */
const KNOWN_LOG_MISMATCH: Record<string, string> = {};
/** name@level -> why the text differs beyond those lines (verdict and errno must still agree). */
const KNOWN_LOG_DIFFERS: Record<string, string> = {};
/** name -> the feature our model reports as not implemented. */
const KNOWN_NOT_IMPLEMENTED: Record<string, string> = {
};

/** Drop mark_precise lines, 6.18 stack-liveness lines, and the state line the kernel prints
 *  after a decided branch once mark_precise lines separate it from the insn (`1: R0=0`),
 *  folding our `insn ; state` form back to the bare insn. */
function dropUnmodelled(log: string): string {
  return log
    .split('\n')
    .filter((l) => !l.startsWith('mark_precise: ') && !/^\(\d+\) (frame \d+ insn \d+ [+]|live stack update)/.test(l) && !/^\d+: R\d+=/.test(l))
    .map((l) => l.replace(/^(\d+: \(\w\w\) if .*?) +; .*$/, '$1'))
    .join('\n');
}

let verdictOk = 0;
let logOk = 0;
let processedOk = 0;
let notImpl = 0;
const processed = (log: string): string | undefined => /^processed (\d+) insns/m.exec(log)?.[1];
for (const rec of fixture.records) {
  const p = byName.get(rec.name);
  if (!p) continue;
  const key = `${rec.name}@${rec.level}`;
  t.test(key, async (tt) => {
    let ours;
    try {
      // Unprivileged programs were loaded keeping CAP_BPF (39) only.
      ours = verify(toProgram(p), { logLevel: rec.level, unpriv: !!p.unpriv, ...(p.unpriv ? { capsUnpriv: [39] } : {}), ...(p.funcInfo ? { funcInfo: true } : {}), series: 'none' });
    } catch (e) {
      if (e instanceof NotImplementedError) {
        notImpl++;
        tt.ok(KNOWN_NOT_IMPLEMENTED[rec.name] && e.message.startsWith(KNOWN_NOT_IMPLEMENTED[rec.name]), `not implemented: ${e.message}`);
        return;
      }
      throw e;
    }
    tt.notOk(KNOWN_NOT_IMPLEMENTED[rec.name], 'listed as not implemented but now verifies: update the list');
    tt.equal(ours.accepted, rec.accepted, 'verdict');
    tt.equal(ours.errno, rec.errno, 'errno');
    if (ours.accepted === rec.accepted && ours.errno === rec.errno) verdictOk++;
    const same = maskLog(ours.log) === rec.log;
    if (same) logOk++;
    if (processed(ours.log) === processed(rec.log)) processedOk++;
    if (KNOWN_LOG_DIFFERS[key]) {
      tt.notOk(same, `known log difference still differs (${KNOWN_LOG_DIFFERS[key]})`);
    } else if (KNOWN_LOG_MISMATCH[key]) {
      tt.notOk(same, `known log mismatch still differs (${KNOWN_LOG_MISMATCH[key]})`);
      // Everything but the unmodelled lines must still agree.
      tt.equal(dropUnmodelled(maskLog(ours.log)), dropUnmodelled(rec.log), 'log without the unmodelled lines');
    } else tt.equal(maskLog(ours.log), rec.log, 'log');
  });
}

// With root on Linux, re-load a sample live: the fixture must still describe this kernel.
const live = process.platform === 'linux' && process.getuid?.() === 0;
t.test('fixture matches the live kernel (sample)', { skip: live ? false : 'needs root on Linux' }, async (tt) => {
  const sample = fixture.records.filter((_, i) => i % 7 === 0);
  for (const rec of sample) {
    const p = byName.get(rec.name);
    if (!p) continue;
    const now = loadInKernel(p, rec.level);
    tt.same([now.accepted, now.errno, now.log], [rec.accepted, rec.errno, rec.log], `${rec.name}@${rec.level} live`);
  }
});

t.teardown(() => {
  console.log(`# verifier vs kernel: ${fixture.records.length} loads, verdict+errno agree ${verdictOk}, exact log ${logOk}, processed-insn count ${processedOk}, not implemented ${notImpl}`);
});
