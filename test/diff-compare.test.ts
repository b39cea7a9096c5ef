// harness/diff/compare.ts: the first error line, log normalisation, JIT byte masking and the
// per-kind comparison of two outcomes.

import t from 'tap';
import { compareOutcomes, firstDifferentLine, firstErrorLine, jitBytes, jitDifference, normalizeLog } from '../harness/diff/compare.ts';
import type { OutcomeDigest } from '../harness/run/judge.ts';
import { formatJited } from '../engine/jit/x86-disasm.ts';

// Logs as the live 6.18 kernel writes them (level 1 after libbpf's retry, and level 2).
const LEVEL1 = '0: R1=ctx() R10=fp0\n0: (79) r0 = *(u64 *)(r2 +0)\nR2 !read_ok\nprocessed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n';
const TWO_LINES = '0: R1=ctx() R10=fp0\n; asm\n3: (7a) *(u64 *)(r0 +0) = 1\ninvalid access to map value, value_size=8 off=8 size=8\nR0 min value is outside of the allowed memory range\nprocessed 4 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n';
const NO_TRACE = 'last insn is not an exit or jmp\nprocessed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n';
const STATS4 = 'func#0 @0\n0: R1=ctx() R10=fp0\n0: (b7) r0 = 0                        ; R0_w=0\n1: (95) exit\nverification time 12 usec\nstack depth 0\nprocessed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n';

t.test('firstErrorLine', async (t) => {
  t.equal(firstErrorLine(LEVEL1), 'R2 !read_ok');
  t.equal(firstErrorLine(TWO_LINES), 'invalid access to map value, value_size=8 off=8 size=8', 'the first line of the message block');
  t.equal(firstErrorLine(NO_TRACE), 'last insn is not an exit or jmp', 'an error before any instruction');
  t.equal(firstErrorLine(STATS4), undefined, 'a successful log has none');
  t.equal(firstErrorLine(''), undefined);
  t.equal(firstErrorLine('from 4 to 6: R0=1 R10=fp0\n6: (95) exit\nR0 !read_ok\n'), 'R0 !read_ok', 'without stats');
});

t.test('normalizeLog masks only what differs between two good runs', async (t) => {
  t.equal(normalizeLog('verification time 12 usec\n'), 'verification time N usec\n');
  t.equal(normalizeLog('4: (18) r1 = 0xffff88815cf49000       ; R1=map_ptr(map=hash_8b,ks=8,vs=8)'),
    '4: (18) r1 = <kernel address>       ; R1=map_ptr(map=hash_8b,ks=8,vs=8)');
  t.equal(normalizeLog('0: (18) r1 = 0x1234\n'), '0: (18) r1 = 0x1234\n', 'a plain constant stays');
  t.equal(normalizeLog(LEVEL1), LEVEL1);
});

t.test('firstDifferentLine', async (t) => {
  t.equal(firstDifferentLine('a\nb\n', 'a\nb\n'), undefined);
  t.same(firstDifferentLine('a\nb\n', 'a\nc\n'), { line: 2, a: 'b', b: 'c' });
  t.same(firstDifferentLine('a\n', 'a\nb\n'), { line: 2, a: '', b: 'b' });
  t.same(firstDifferentLine('a', 'a\nb'), { line: 2, a: '(end of text)', b: 'b' });
  t.same(firstDifferentLine('', 'x\ny\n'), { line: 1, a: '(empty)', b: 'x' });
});

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));

t.test('JIT bytes: rel32 of calls and jumps out of the function are masked', async (t) => {
  // call out, jne in, jmp out (the return thunk)
  const a = formatJited(bytes('e8 11223344 7505 90 e9 aabbccdd'), [13]);
  const b = formatJited(bytes('e8 55667788 7505 90 e9 01020304'), [13]);
  t.same(jitBytes(a), [[0xe8, -1, -1, -1, -1, 0x75, 0x05, 0x90, 0xe9, -1, -1, -1, -1]]);
  t.equal(jitDifference(a, b), undefined, 'only out-of-image targets differ: equal');
  const c = formatJited(bytes('e8 11223344 7504 90 e9 aabbccdd'), [13]);
  t.same(jitDifference(a, c), { at: 'func #0 +0x6', a: '05 90 e9 .. .. .. ..', b: '04 90 e9 .. .. .. ..' });
  const two = formatJited(bytes('c3 c3'), [1, 1]);
  t.same(jitDifference(formatJited(bytes('c3'), [1]), two), { at: 'functions', a: '1 functions', b: '2 functions' });
  t.same(jitDifference(formatJited(bytes('90 c3'), [2]), formatJited(bytes('90'), [1])), { at: 'func #0 +0x1', a: 'c3', b: '(end of function)' });
});

const out = (o: Partial<OutcomeDigest> = {}): OutcomeDigest => ({ loaded: true, errno: 0, log: '', ...o });

t.test('compareOutcomes: one difference per kind', async (t) => {
  t.same(compareOutcomes(out(), out()), { compared: ['verdict', 'errno', 'log'], differences: [], absent: [] });

  const rejected = out({ loaded: false, errno: 13, log: LEVEL1 });
  const c = compareOutcomes(out(), rejected);
  t.same(c.differences.map((d) => d.kind), ['verdict', 'errno', 'first_error_line', 'log']);
  t.same(c.differences[0], { kind: 'verdict', engine: 'loaded', kernel: 'rejected' });
  t.same(c.differences[2], { kind: 'first_error_line', engine: '(none)', kernel: 'R2 !read_ok' });
  t.same(c.differences[3], { kind: 'log', engine: '(empty)', kernel: '0: R1=ctx() R10=fp0', at: 'line 1' });

  const other = compareOutcomes(out({ loaded: false, errno: 22, log: NO_TRACE }), rejected);
  t.same(other.differences.map((d) => d.kind), ['errno', 'first_error_line', 'log'], 'same verdict, other errno and message');

  const rv = compareOutcomes(out({ retval: { ok: true, value: 1 } }), out({ retval: { ok: true, value: 2 } }));
  t.same(rv.differences, [{ kind: 'retval', engine: '1', kernel: '2' }]);
  t.same(compareOutcomes(out({ retval: { ok: true, value: 0xffffffff } }), out({ retval: { ok: true, value: -1 } })).differences, [], 'retval is a 32-bit int');
  t.same(compareOutcomes(out({ retval: { ok: false, reason: 'EINVAL' } }), out({ retval: { ok: true, value: 0 } })).differences,
    [{ kind: 'retval', engine: 'run failed: EINVAL', kernel: '0' }]);

  const xl = compareOutcomes(out({ xlated: '0: r0 = 1\n1: exit\n' }), out({ xlated: '0: r0 = 2\n1: exit\n' }));
  t.same(xl.differences, [{ kind: 'xlated', engine: '0: r0 = 1', kernel: '0: r0 = 2', at: 'line 1' }]);
  t.ok(xl.compared.includes('xlated'));
});

t.test('compareOutcomes: a field one side lacks is absent, not different', async (t) => {
  const jited = formatJited(bytes('55 c9 c3'), [3]);
  const c = compareOutcomes(out(), out({ jited }));
  t.same(c.differences, []);
  t.same(c.absent, [{ kind: 'jited', backend: 'engine' }]);
  t.notOk(c.compared.includes('jited'));
  t.same(compareOutcomes(out({ retval: { ok: true, value: 0 } }), out()).absent, [{ kind: 'retval', backend: 'kernel' }]);
  t.same(compareOutcomes(out({ log: 'verification time 3 usec\n' }), out({ log: 'verification time 9 usec\n' })).differences, [], 'timing is not a difference');
});
