// Native retval parity: every test with a __retval in specs/ (stack_arg/ in its series)
// runs in the interpreter and as
// native x86-64 (child-process pool) and the two agree on r0 (all 64 bits) and on whether
// the run succeeded. A POINTER_VALUE retval only requires both runs to succeed: the two
// address spaces differ by design. The ported 6.12 corpus (make kernel-selftests, in
// .cache/) is checked the same way when it is present.

import t, { type Test } from 'tap';
import { existsSync } from 'node:fs';
import { NativePool } from '../engine/jit/native/pool.ts';
import { runProgram, type RunResult } from '../engine/runtime/index.ts';
import { findSpecFiles, loadSuiteFile } from '../harness/spec/load.ts';
import type { NativeResult } from '../engine/jit/native/run.ts';
import type { Program, Series } from '../engine/program/types.ts';
import { testRunEnv } from '../engine/runtime/test-run.ts';

const noNative = process.arch !== 'x64' || process.platform !== 'linux' ? 'native x86-64 execution needs linux/x64' : false;
const SPECS = new URL('../specs', import.meta.url).pathname;
const CORPUS = new URL('../.cache/kernel-selftests/specs', import.meta.url).pathname;

interface Case {
  readonly id: string;
  readonly prog: Program;
  readonly aux: readonly Program[];
  readonly pointer: boolean;
  readonly series: Series;
  readonly kfuncs: ReadonlyMap<number, string>;
}

function retvalCases(root: string): Case[] {
  const out: Case[] = [];
  for (const file of findSpecFiles([root])) {
    const suite = loadSuiteFile(file);
    const aux = suite.tests.filter((x) => x.auxiliary).map((x) => x.program);
    const kfuncs = new Map((suite.kfuncs ?? []).filter((k) => k.btfId).map((k) => [k.btfId, k.name] as const));
    for (const test of suite.tests) {
      const rv = test.priv?.retval;
      if (!rv || test.auxiliary) continue;
      const series = test.series ?? suite.series ?? 'none';
      out.push({ id: `${file.slice(root.length + 1)}:${test.name}`, prog: test.program, aux, pointer: rv.kind === 'pointer', series, kfuncs });
    }
  }
  return out;
}

type Verdict = 'agree' | 'interpreter-limit' | 'differ' | 'known-gap';

/** Runtime features the native side does not mirror yet, by test id, with the reason. They
 *  must still disagree: a fix shows up here as a failure asking to drop the entry. */
// None today: every spec and corpus retval agrees natively.
const KNOWN_GAPS: Readonly<Record<string, string>> = {};

/** The interpreter stops at its instruction budget (10M) where the kernel's x86 JIT uses a
 *  timed may_goto: such a run has no reference value, only the native run's success. */
const hitLimit = (r: RunResult): boolean => !r.ok && /instruction limit/.test(r.fault ?? '');

function judge(c: Case, want: RunResult, got: NativeResult): Verdict {
  if (hitLimit(want)) return got.ok ? 'interpreter-limit' : 'differ';
  if (want.ok !== got.ok) return 'differ';
  if (!want.ok || c.pointer) return 'agree';
  return want.retval === got.retval ? 'agree' : 'differ';
}

async function check(t: Test, cases: readonly Case[]): Promise<Record<Verdict, number>> {
  const pool = new NativePool({ size: 1 });
  t.teardown(() => pool.close());
  const counts: Record<Verdict, number> = { agree: 0, 'interpreter-limit': 0, differ: 0, 'known-gap': 0 };
  for (const c of cases) {
    // test_loader's input (engine/runtime/test-run.ts), the same for both sides.
    const env = testRunEnv(c.prog, { auxiliary: c.aux, series: c.series, kfuncs: c.kfuncs });
    const want = runProgram(c.prog, { ...env, seed: 1 });
    const got = await pool.run(c.prog, {
      seed: 1, progs: env.progs, series: c.series, kfuncIds: [...c.kfuncs],
      ...(env.data ? { data: env.data } : {}), ...(env.ctx ? { ctx: env.ctx } : {}),
    });
    let v = judge(c, want, got);
    const gap = KNOWN_GAPS[c.id];
    if (gap !== undefined) {
      if (v !== 'differ') t.fail(`${c.id} agrees now: drop it from KNOWN_GAPS`);
      v = 'known-gap';
    }
    counts[v]++;
    if (v === 'differ') t.fail(`${c.id}: interpreter ${want.ok ? want.retval : want.fault}, native ${got.ok ? got.retval : got.error}`);
  }
  return counts;
}

t.test('specs/: every __retval test agrees natively and in the interpreter', { skip: noNative, timeout: 120_000 }, async (t) => {
  const cases = retvalCases(SPECS);
  t.ok(cases.length >= 80, `${cases.length} tests with a retval`);
  const counts = await check(t, cases);
  t.equal(counts.differ, 0, 'no disagreement');
  const gaps = Object.keys(KNOWN_GAPS).filter((id) => cases.some((c) => c.id === id)).length;
  t.equal(counts['known-gap'], gaps, `${gaps} known gaps`);
  t.equal(counts.agree + counts['known-gap'], cases.length, `${counts.agree}/${cases.length} agree`);
});

t.test('ported 6.12 corpus: every __retval test agrees', { timeout: 120_000, skip: noNative || (existsSync(CORPUS) ? false : 'corpus not ported here (make kernel-selftests)') }, async (t) => {
  const cases = retvalCases(CORPUS);
  t.ok(cases.length >= 500, `${cases.length} tests with a retval`);
  const counts = await check(t, cases);
  t.equal(counts.differ, 0, 'no disagreement');
  t.ok(counts['interpreter-limit'] <= 10, `${counts['interpreter-limit']} runs past the interpreter's instruction budget succeed natively`);
  t.equal(counts['known-gap'], Object.keys(KNOWN_GAPS).filter((id) => cases.some((c) => c.id === id)).length, `${counts['known-gap']} known gaps${counts['known-gap'] ? ` (${Object.values(KNOWN_GAPS).join('; ')})` : ''}`);
  t.equal(counts.agree + counts['interpreter-limit'] + counts['known-gap'], cases.length,
    `${counts.agree} agree, ${counts['interpreter-limit']} interpreter-limit, ${counts['known-gap']} known gaps, of ${cases.length}`);
});
