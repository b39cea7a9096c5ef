// Differential test: our xlated program (VerifyResult.xlated printed as test_loader prints
// it) against the live 6.18 kernel's, recorded in test/fixtures/verifier-xlated-kernel.json by
// scripts/record-xlated-oracle.ts. The kernel's map ids and kernel-image constants from the
// recording are passed in, so the text must match exactly (only RND_HI32's random values are
// masked on both sides). Programs the kernel accepts but whose rewrites we do not model must
// say so (xlatedMissing / NotImplementedError) and be listed below; a listed one that starts
// to match fails, so the list only shrinks.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { verify, NotImplementedError } from '../engine/verifier/index.ts';
import { printXlatedInsn } from '../engine/isa/disasm.ts';
import { formatXlated } from '../harness/backends/engine.ts';
import { ALL_CASES, toProgram } from './fixtures/verifier-xlated-programs.ts';
import { loadXlated, maskRnd, type XlatedFixture } from '../scripts/record-xlated-oracle.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/verifier-xlated-kernel.json', import.meta.url), 'utf8')) as XlatedFixture;
const byName = new Map(ALL_CASES.map((p) => [p.name, p]));
const consts = { jiffiesAddr: BigInt(fixture.consts.jiffiesAddr), cpuNumberOffset: fixture.consts.cpuNumberOffset };

/** Rewrites we report as not modelled (by message prefix); any other reason fails. */
const KNOWN_NOT_MODELLED = ['context rewrites for '];
/** name@flags -> why our xlated text differs (the verdict must still agree). */
const KNOWN_XLATED_DIFFERS: Record<string, string> = {};

let compared = 0;
let exact = 0;
let missing = 0;
const missingWhy = new Map<string, number>();

/** Our xlated text for `name` loaded with `flags`, or the reason there is none. */
function ours(name: string, flags: number, mapIds: readonly number[]): { text?: string; why?: string; accepted: boolean } {
  const p = byName.get(name)!;
  let res;
  try {
    res = verify(toProgram(p, flags), { logLevel: 0, unpriv: false, series: 'none', xlated: { mapIds, kernelConsts: consts } });
  } catch (e) {
    if (e instanceof NotImplementedError) return { why: `verifier: ${e.message}`, accepted: false };
    throw e;
  }
  if (!res.accepted) return { accepted: false };
  if (!res.xlated) return { why: res.xlatedMissing ?? 'no xlated', accepted: true };
  return { text: maskRnd(formatXlated(res.xlated, (i) => printXlatedInsn(i))), accepted: true };
}

for (const rec of fixture.records) {
  if (!rec.loaded || !byName.has(rec.name)) continue;
  const key = `${rec.name}@${rec.flags}`;
  t.test(key, async (tt) => {
    const o = ours(rec.name, rec.flags, rec.mapIds);
    if (o.why) {
      missing++;
      const k = o.why.replace(/\d+/g, 'N');
      missingWhy.set(k, (missingWhy.get(k) ?? 0) + 1);
      tt.ok(KNOWN_NOT_MODELLED.some((k) => o.why!.startsWith(k)), `not modelled: ${o.why}`);
      return;
    }
    tt.ok(o.accepted, 'we accept what the kernel accepted');
    if (!o.accepted) return;
    compared++;
    const same = o.text === rec.xlated;
    if (same) exact++;
    if (KNOWN_XLATED_DIFFERS[key]) tt.notOk(same, `known difference still differs (${KNOWN_XLATED_DIFFERS[key]})`);
    else tt.equal(o.text, rec.xlated, 'xlated text');
  });
}

t.test('the fixture knows every case', async (tt) => {
  const recorded = new Set(fixture.records.map((r) => r.name));
  tt.same(ALL_CASES.map((p) => p.name).filter((n) => !recorded.has(n)), [], 'run scripts/record-xlated-oracle.ts');
});

// With root on Linux, re-load a sample live: the fixture must still describe this kernel.
const live = process.platform === 'linux' && process.getuid?.() === 0;
t.test('fixture matches the live kernel (sample)', { skip: live ? false : 'needs root on Linux' }, async (tt) => {
  const sample = fixture.records.filter((r, i) => r.loaded && i % 9 === 0);
  for (const rec of sample) {
    const now = loadXlated(byName.get(rec.name)!, rec.flags);
    // Map ids are new on every load: compare with the recorded ids swapped for the new ones.
    let text = rec.xlated;
    rec.mapIds.forEach((id, k) => {
      text = text.replaceAll(`= 0x${id.toString(16)}\n`, `= 0x${now.mapIds[k].toString(16)}\n`);
    });
    tt.equal(now.xlated, text, `${rec.name}@${rec.flags} live`);
  }
});

t.teardown(() => {
  const why = [...missingWhy].map(([k, n]) => `${k} x${n}`).join('; ');
  console.log(`# xlated vs kernel: ${compared} compared, ${exact} exact, ${missing} not modelled${why ? ` (${why})` : ''}`);
});
