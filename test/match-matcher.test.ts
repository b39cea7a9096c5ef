// The test_loader matcher rules, one by one (see the header of harness/match.ts).
import t from 'tap';
import { formatMatchReport, linePatterns, matchPatterns, type MatchReport } from '../harness/match.ts';
import type { PatternSpec } from '../harness/spec/types.ts';

const pos = (text: string): PatternSpec => ({ text, negative: false, anyLine: false });
const neg = (text: string): PatternSpec => ({ text, negative: true, anyLine: false });
const statuses = (r: MatchReport) => r.results.map((x) => x.status);

// Logs recorded from the live 6.18 kernel (BPF_PROG_LOAD of a socket filter that calls
// bpf_get_prandom_u32, branches on r0 == 0, returns 0 on the fall-through path and reads an
// uninitialised r2 on the taken path), at log levels 1 and 2. Level 0 gives "".
const LEVEL1_FAIL =
  '0: R1=ctx() R10=fp0\n0: (85) call bpf_get_prandom_u32#7    ; R0=scalar()\n1: (15) if r0 == 0x0 goto pc+2 4: R0=0 R10=fp0\n4: (79) r0 = *(u64 *)(r2 +0)\nR2 !read_ok\nprocessed 5 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n';
const LEVEL2_FAIL =
  'func#0 @0\nLive regs before insn:\n      0: .......... (85) call bpf_get_prandom_u32#7\n      1: 0.2....... (15) if r0 == 0x0 goto pc+2\n      2: .......... (b7) r0 = 0\n      3: 0......... (95) exit\n      4: ..2....... (79) r0 = *(u64 *)(r2 +0)\n      5: 0......... (95) exit\n0: R1=ctx() R10=fp0\n0: (85) call bpf_get_prandom_u32#7    ; R0=scalar()\n1: (15) if r0 == 0x0 goto pc+2        ; R0=scalar(umin=1)\n2: (b7) r0 = 0                        ; R0=0\n3: (95) exit\n\nfrom 1 to 4: R0=0 R10=fp0\n4: R0=0 R10=fp0\n4: (79) r0 = *(u64 *)(r2 +0)\nR2 !read_ok\nprocessed 5 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n';
const LEVEL1_OK = 'processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n';

t.test('positives are searched in order, each after the previous match', async (t) => {
  const log = 'a b c a\n';
  t.ok(matchPatterns(log, [pos('a'), pos('c'), pos('a')], 'msgs').ok, 'a, then c, then the second a');
  const r = matchPatterns(log, [pos('c'), pos('b')], 'msgs');
  t.notOk(r.ok, 'b comes before c: not found after it');
  t.same(statuses(r), ['MATCHED', 'EXPECTED']);
  t.equal(r.failedIndex, 1);
  // The same text cannot satisfy two patterns.
  t.notOk(matchPatterns('x\n', [pos('x'), pos('x')], 'msgs').ok);
  // A positive that is not found does not move the search position (later ones still match).
  const r2 = matchPatterns('a b\n', [pos('zzz'), pos('a')], 'msgs');
  t.same(statuses(r2), ['EXPECTED', 'NOT REACHED']);
  t.equal(r2.results[1].start, 0, 'the later pattern was still searched from the same place');
});

t.test('substring vs regex: literal text outside {{ }} is escaped', async (t) => {
  t.ok(matchPatterns('R1 invalid mem access (x)\n', [pos('invalid mem access (x)')], 'msgs').ok, 'parentheses are literal in a substring');
  t.ok(matchPatterns('R7 invalid mem access (x)\n', [pos('R{{[0-9]}} invalid mem access (x)')], 'msgs').ok, 'and in the verbatim part of a regex');
  t.notOk(matchPatterns('R7 invalid mem access x\n', [pos('R{{[0-9]}} invalid mem access (x)')], 'msgs').ok);
  t.notOk(matchPatterns('aXb\n', [pos('a.b{{}}')], 'msgs').ok, '"." outside an island is a literal dot');
  t.ok(matchPatterns('a.b\n', [pos('a.b{{}}')], 'msgs').ok);
  const r = matchPatterns('x\n', [pos('R{{[0-9]'), pos('x')], 'msgs');
  t.notOk(r.ok, 'an unclosed {{ fails the whole list');
  t.match(r.error, /open '\{\{' but no closing '\}\}'/);
});

t.test('REG_NEWLINE: "." and negated lists stop at newlines; ^ and $ are line anchors', async (t) => {
  t.notOk(matchPatterns('ab\ncd\n', [pos('{{b.c}}')], 'msgs').ok);
  t.notOk(matchPatterns('ab\ncd\n', [pos('{{b[^x]c}}')], 'msgs').ok);
  t.ok(matchPatterns('ab\ncd\n', [pos('{{^cd$}}')], 'msgs').ok);
  t.notOk(matchPatterns('ab cd\n', [pos('{{^cd}}')], 'msgs').ok);
  t.ok(matchPatterns('a\rb\n', [pos('{{a.b}}')], 'msgs').ok, 'POSIX "." matches \\r (JS "." would not)');
  // ^ also matches where the search starts (test_loader passes the rest of the log, no REG_NOTBOL).
  t.ok(matchPatterns('xy z\n', [pos('x'), pos('{{^y}}')], 'msgs').ok);
});

t.test('negatives are span-limited between their positive neighbours', async (t) => {
  const log = 'A bad B good C\n';
  t.ok(matchPatterns(log, [pos('B'), neg('bad'), pos('C')], 'msgs').ok, '"bad" is before B: outside the span');
  const r = matchPatterns(log, [pos('A'), neg('bad'), pos('B')], 'msgs');
  t.same(statuses(r), ['MATCHED', 'UNEXPECTED', 'NOT REACHED']);
  t.ok(matchPatterns(log, [neg('good'), pos('B')], 'msgs').ok, 'before the first positive the span starts at the log start and ends at B');
  t.notOk(matchPatterns(log, [pos('B'), neg('good')], 'msgs').ok, 'after the last positive it runs to the end');
  // A negative must end at or before the next positive's start.
  t.ok(matchPatterns('xAB\n', [neg('AB'), pos('B')], 'msgs').ok, 'AB overlaps the B match: no hit');
  // If the next positive is not found, no negative hits; the positive is reported.
  const r2 = matchPatterns('bad\n', [neg('bad'), pos('missing')], 'msgs');
  t.same(statuses(r2), ['MATCHED', 'EXPECTED']);
  // A failed positive does not move the span start.
  t.notOk(matchPatterns('bad ok\n', [pos('nope'), neg('bad')], 'msgs').ok);
});

t.test('kernel quirk: only the first negative of a run is checked', async (t) => {
  const log = 'A second B\n';
  const pats = [pos('A'), neg('first'), neg('second'), pos('B')];
  t.ok(matchPatterns(log, pats, 'msgs').ok, 'the 2nd negative of the run is not checked (6.18 behaviour)');
  const strict = matchPatterns(log, pats, 'msgs', { everyNegative: true });
  t.same(statuses(strict), ['MATCHED', 'MATCHED', 'UNEXPECTED', 'NOT REACHED'], 'everyNegative checks each');
  // When the first negative hits, the report names the first member of the run.
  const r = matchPatterns('A first B\n', [pos('A'), neg('first'), neg('zzz'), pos('B')], 'msgs');
  t.equal(r.failedIndex, 1);
  t.equal(r.results[2].start, 2, 'the whole run is marked with the first pattern\'s match');
});

t.test('lines mode: next-line adjacency and "..."', async (t) => {
  const x = '0: r0 = 1\n1: r1 = 2\n2: r2 = 3\n3: exit\n';
  t.ok(matchPatterns(x, linePatterns(['r0 = 1', 'r1 = 2', 'r2 = 3']), 'lines').ok);
  const r = matchPatterns(x, linePatterns(['r0 = 1', 'r2 = 3']), 'lines');
  t.same(statuses(r), ['MATCHED', 'WRONG LINE']);
  t.equal(r.expectedLine, 1);
  t.equal(r.actualLine, 2);
  t.ok(matchPatterns(x, linePatterns(['r0 = 1', '...', 'exit']), 'lines').ok, '"..." lets the next pattern skip lines');
  t.ok(matchPatterns(x, linePatterns(['r2 = 3', 'exit']), 'lines').ok, 'the first pattern may match anywhere');
  t.notOk(matchPatterns(x, linePatterns(['r0 = 1', '...', 'r1 = 2', 'exit']), 'lines').ok, 'after a pattern, the next line is required again');
  // Two patterns on the same line: the second is on line +0, which is wrong.
  t.notOk(matchPatterns(x, linePatterns(['r0', '= 1']), 'lines').ok);
  // The same list in msgs mode has no adjacency.
  t.ok(matchPatterns(x, [pos('r0 = 1'), pos('r2 = 3')], 'msgs').ok);
  // A missing positive with adjacency reports WRONG LINE against line 0, like the kernel.
  const miss = matchPatterns(x, linePatterns(['r0 = 1', 'nope']), 'lines');
  t.same(statuses(miss), ['MATCHED', 'WRONG LINE']);
  t.equal(miss.actualLine, 0);
});

t.test('log levels: what a pattern can see', async (t) => {
  const fallThrough = [pos('2: (b7) r0 = 0')];
  t.ok(matchPatterns(LEVEL2_FAIL, fallThrough, 'msgs').ok, 'level 2 keeps the explored fall-through path');
  t.notOk(matchPatterns(LEVEL1_FAIL, fallThrough, 'msgs').ok, 'level 1 keeps only the failing path');
  const err = [pos('4: (79) r0 = *(u64 *)(r2 +0)'), pos('R2 !read_ok')];
  t.ok(matchPatterns(LEVEL1_FAIL, err, 'msgs').ok);
  t.ok(matchPatterns(LEVEL2_FAIL, err, 'msgs').ok);
  t.ok(matchPatterns(LEVEL2_FAIL, [pos('2: (b7) r0 = 0{{ +}}; R0=0')], 'msgs').ok, 'level-2 state comments after column padding');
  t.notOk(matchPatterns('', [pos('processed')], 'msgs').ok, 'a success at level 0 has an empty log');
  t.ok(matchPatterns(LEVEL1_OK, [pos('processed 2 insns')], 'msgs').ok, 'level 1 success: only the stats line');
  t.notOk(matchPatterns(LEVEL1_OK, [pos('(b7) r0 = 0')], 'msgs').ok);
  t.ok(matchPatterns('', [], 'msgs').ok, 'no patterns: always ok');
  t.ok(matchPatterns('', [neg('x')], 'msgs').ok, 'a negative on an empty log');
});

t.test('formatMatchReport prints like test_loader', async (t) => {
  const r = matchPatterns(LEVEL1_FAIL, [pos('R2 !read_ok'), pos('R{{[0-9]}} oops')], 'msgs');
  t.equal(
    formatMatchReport(r, LEVEL1_FAIL),
    `VERIFIER LOG:\n=============\n${LEVEL1_FAIL}=============\nMATCHED    SUBSTR: 'R2 !read_ok'\nEXPECTED    REGEX: 'R{{[0-9]}} oops'\n`,
  );
  const x = '0: r0 = 1\n1: r1 = 2\n2: exit\n';
  const w = matchPatterns(x, linePatterns(['r0 = 1', 'exit']), 'lines');
  t.equal(
    formatMatchReport(w, x, { title: 'XLATED' }),
    `XLATED:\n=============\n${x}=============\nMATCHED    SUBSTR: 'r0 = 1'\nWRONG LINE SUBSTR: 'exit'\nexpecting match at line 1, actual match is at line 2\n`,
  );
  const u = matchPatterns('A bad B\n', [pos('A'), neg('bad'), pos('B')], 'msgs');
  t.match(formatMatchReport(u, 'A bad B\n'), /UNEXPECTED SUBSTR: 'bad'\n$/);
  const ok = matchPatterns('A\n', [pos('A')], 'msgs');
  t.equal(formatMatchReport(ok, 'A\n'), "MATCHED    SUBSTR: 'A'\n", 'a pass lists the patterns without the log');
});
