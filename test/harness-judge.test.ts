import t from 'tap';
import type { RunOutcome } from '../harness/backend.ts';
import { classify, clipLines, judgeOutcome, POINTER_VALUE, type Failure } from '../harness/run/judge.ts';
import { expect, pats, program } from './fixtures/harness/suites.ts';

const LOG = 'func#0 @0\n0: R1=ctx() R10=fp0\n0: (79) r0 = *(u64 *)(r2 +0)\nR2 !read_ok\nprocessed 1 insns (limit 1000000)\n';
const prog = program('p');
const ok = (o: Partial<RunOutcome> = {}): RunOutcome => ({ loaded: true, errno: 0, log: '', ...o });
const bad = (o: Partial<RunOutcome> = {}): RunOutcome => ({ loaded: false, errno: 13, log: LOG, ...o });
const kinds = (fs: readonly Failure[]) => fs.map((f) => f.kind);

t.test('verdict', async (t) => {
  t.same(judgeOutcome(expect(), prog, false, ok()), []);
  t.same(judgeOutcome(expect({ result: 'failure' }), prog, false, bad()), []);
  const f1 = judgeOutcome(expect(), prog, false, bad());
  t.same(kinds(f1), ['verdict']);
  t.match(f1[0].message, /expected the load to succeed, but it failed with errno 13 \(EACCES\)/);
  const f2 = judgeOutcome(expect({ result: 'failure', msgs: pats('nope') }), prog, false, ok());
  t.same(kinds(f2), ['verdict'], 'a wrong verdict ends the judging, as in test_loader');
  t.match(f2[0].message, /expected the load to fail, but it succeeded/);
});

t.test('msgs are matched on failure and on success', async (t) => {
  t.same(judgeOutcome(expect({ result: 'failure', msgs: pats('R2 !read_ok') }), prog, false, bad()), []);
  t.same(judgeOutcome(expect({ result: 'failure', msgs: pats('R{{[0-9]}} !read_ok', 'processed 1 insns') }), prog, false, bad()), []);
  const f = judgeOutcome(expect({ result: 'failure', msgs: pats('R2 !read_ok', 'R3 invalid') }), prog, false, bad());
  t.same(kinds(f), ['msgs']);
  t.match(f[0].message, /EXPECTED 'R3 invalid'/);
  t.match(f[0].report ?? '', /VERIFIER LOG:\n=+\n[^]*R2 !read_ok[^]*MATCHED +SUBSTR: 'R2 !read_ok'\nEXPECTED +SUBSTR: 'R3 invalid'/);
  // A successful level-0 load has an empty log, so a msg expectation on success fails.
  const g = judgeOutcome(expect({ msgs: pats('processed') }), prog, false, ok());
  t.same(kinds(g), ['msgs'], 'msgs on success are matched (against an empty log here)');
  t.same(judgeOutcome(expect({ msgs: pats('processed') }), prog, false, ok({ log: 'processed 2 insns' })), []);
});

t.test('order matters: positives are searched from the previous match', async (t) => {
  const f = judgeOutcome(expect({ result: 'failure', msgs: pats('R2 !read_ok', 'func#0') }), prog, false, bad());
  t.same(kinds(f), ['msgs']);
});

t.test('xlated and jited use line mode; text must exist', async (t) => {
  const xl = '0: r0 = 1\n1: r1 = 2\n2: exit\n';
  t.same(judgeOutcome(expect({ xlated: pats('r0 = 1', 'r1 = 2') }), prog, false, ok({ xlated: xl })), []);
  const wrong = judgeOutcome(expect({ xlated: pats('r0 = 1', 'exit') }), prog, false, ok({ xlated: xl }));
  t.same(kinds(wrong), ['xlated']);
  t.match(wrong[0].message, /WRONG LINE/);
  t.same(judgeOutcome(expect({ xlated: pats('r0 = 1', '...', 'exit') }), prog, false, ok({ xlated: xl })), []);
  t.same(kinds(judgeOutcome(expect({ xlated: pats('exit') }), prog, false, ok())), ['xlated'], 'no xlated text is a failure');
  t.same(kinds(judgeOutcome(expect({ jited: pats('retq') }), prog, false, ok())), ['jited']);
  t.same(kinds(judgeOutcome(expect({ result: 'failure', xlated: pats('exit') }), prog, false, bad())), ['xlated'], 'xlated on a failed load');
});

t.test('retval: 32-bit compare, POINTER_VALUE not checked, run errors fail', async (t) => {
  const e = (value: number) => expect({ retval: { kind: 'value', value } });
  const rv = (value: number): Partial<RunOutcome> => ({ retval: { ok: true, value } });
  t.same(judgeOutcome(e(7), prog, true, ok(rv(7))), []);
  t.same(kinds(judgeOutcome(e(7), prog, true, ok(rv(8)))), ['retval']);
  t.match(judgeOutcome(e(7), prog, true, ok(rv(8)))[0].message, /unexpected retval: 8 != 7/);
  t.same(judgeOutcome(e(0xffffffff), prog, true, ok(rv(-1))), [], '0xffffffff is int -1');
  t.same(judgeOutcome(e(-2147483648), prog, true, ok(rv(0x80000000))), [], 'INT_MIN');
  t.same(judgeOutcome(expect({ retval: { kind: 'pointer' } }), prog, true, ok(rv(12345))), []);
  t.same(judgeOutcome(e(POINTER_VALUE), prog, true, ok(rv(99))), [], 'a literal POINTER_VALUE is "don\'t check" too');
  t.same(kinds(judgeOutcome(e(0), prog, true, ok())), ['retval'], 'no retval when one was due');
  const run = judgeOutcome(e(0), prog, true, ok({ retval: { ok: false, reason: 'EINVAL' } }));
  t.match(run[0].message, /test run failed: EINVAL/);
  t.same(judgeOutcome(e(1), prog, false, ok()), [], 'not executed: nothing to compare');
});

t.test('stack-arg depth by func#N or by function name', async (t) => {
  const p = { ...program('main'), funcs: [{ start: 9, name: 'callee', linkage: 'static' as const }, { start: 0, name: 'main', linkage: 'global' as const }] };
  const depth = { 'func#0': { incoming: 0, outgoing: 16 }, 'func#1': { incoming: 16, outgoing: 0 } };
  t.same(judgeOutcome(expect({ stackArgDepth: { 'func#0': { incoming: 0, outgoing: 16 }, callee: { incoming: 16, outgoing: 0 } } }), p, false, ok({ stackArgDepth: depth })), []);
  const f = judgeOutcome(expect({ stackArgDepth: { callee: { incoming: 8, outgoing: 0 } } }), p, false, ok({ stackArgDepth: depth }));
  t.same(kinds(f), ['stack_arg_depth']);
  t.match(f[0].message, /callee: stack-argument depth incoming 16, outgoing 0; expected incoming 8, outgoing 0/);
  t.same(kinds(judgeOutcome(expect({ stackArgDepth: { 'func#2': { incoming: 0, outgoing: 0 } } }), p, false, ok({ stackArgDepth: depth }))), ['stack_arg_depth']);
});

t.test('unsupported is a failure that says what is missing', async (t) => {
  const f = judgeOutcome(expect(), prog, false, { loaded: false, errno: 0, log: '', unsupported: 'verifier not implemented' });
  t.same(kinds(f), ['unsupported']);
  t.match(f[0].message, /verifier not implemented/);
});

t.test('counting rule', async (t) => {
  const fail: Failure[] = [{ kind: 'verdict', message: 'x' }];
  t.same(classify([], undefined, undefined).status, 'pass');
  t.same(classify(fail, undefined, undefined).status, 'fail');
  t.same(classify([], 'no root', undefined), { status: 'skip', reason: 'no root', failures: [] });
  t.same(classify(fail, 'no root', 'r'), { status: 'skip', reason: 'no root', failures: [] }, 'skip wins over xfail');
  const xf = classify(fail, undefined, 'known bug');
  t.same([xf.status, xf.reason], ['xfail', 'known bug']);
  const xp = classify([], undefined, 'known bug');
  t.same([xp.status, xp.reason], ['fail', 'xfail passed: remove the xfail']);
  t.same(kinds(xp.failures), ['xfail_passed']);
});

t.test('clipLines keeps short texts and cuts long ones in the middle', async (t) => {
  t.equal(clipLines('a\nb\nc', 3), 'a\nb\nc');
  const long = Array.from({ length: 100 }, (_, i) => `l${i}`).join('\n');
  const c = clipLines(long, 20).split('\n');
  t.equal(c.length, 21);
  t.equal(c[0], 'l0');
  t.equal(c[2], '... 80 lines omitted ...');
  t.equal(c[20], 'l99');
});
