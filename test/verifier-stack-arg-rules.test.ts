// The stack-argument rules of both series (v4: r12, merged: r11) in the verifier: legal
// forms, slot layouts, call-site checks, slot lifetime, load order, limits, kfunc argument
// rules, depths. Expectations come from the merged selftests and the v4 seed
// (../shared/reference/stack-args.md); where the seed is silent, docs/series.md.

import t, { type Test } from 'tap';
import { NotImplementedError } from '../engine/verifier/index.ts';
import { HASH_8B, REGS5, lastLine, program, run, type Sub } from './lib/verifier-stack-arg-lib.ts';

const EINVAL = 22;
const EACCES = 13;
const EFAULT = 14;

// merged callee: arg6 + arg7 (r11+8, r11+16)
const m7: Sub = { name: 'sub7', nargs: 7, asm: 'r0 = *(u64 *)(r11 + 8); r1 = *(u64 *)(r11 + 16); r0 += r1; exit;' };
const m6: Sub = { name: 'sub6', nargs: 6, asm: 'r0 = *(u64 *)(r11 + 8); exit;' };
// v4 callee: the same reads through r12
const v7: Sub = { name: 'sub7', nargs: 7, asm: 'r0 = *(u64 *)(r12 + 8); r1 = *(u64 *)(r12 + 16); r0 += r1; exit;' };
// callees that dereference arg6
const m6deref: Sub = { name: 'sub6', nargs: 6, asm: 'r1 = *(u64 *)(r11 + 8); r0 = *(u64 *)(r1 + 0); exit;' };
const v7deref6: Sub = { name: 'sub7', nargs: 7, asm: 'r1 = *(u64 *)(r12 + 8); r0 = *(u64 *)(r1 + 0); r2 = *(u64 *)(r12 + 16); r0 += r2; exit;' };

function fails(tt: Test, src: ReturnType<typeof program>, series: 'v4' | 'merged' | 'none', text: string, errno: number): void {
  const r = run(src, series);
  tt.notOk(r.accepted, `${series}: rejected`);
  tt.equal(lastLine(r), text, `${series}: message`);
  tt.equal(r.errno, errno, `${series}: errno`);
}

function passes(tt: Test, src: ReturnType<typeof program>, series: 'v4' | 'merged'): ReturnType<typeof run> {
  const r = run(src, series);
  tt.ok(r.accepted, `${series}: accepted${r.accepted ? '' : `: ${lastLine(r)}`}`);
  return r;
}

t.test('merged: a 7-arg static call, depths in slots', async (tt) => {
  const r = passes(tt, program(`${REGS5} *(u64 *)(r11 - 8) = 6; *(u64 *)(r11 - 16) = 7; call sub7; exit;`, [m7]), 'merged');
  tt.same(r.subprogs.map((s) => [s.stackArgIn, s.stackArgOut]), [[0, 2], [2, 0]]);
});

t.test('v4: a 7-arg static call, last arg at r12-8, depths in bytes', async (tt) => {
  // arg6 (a pointer) at r12-16, arg7 (a scalar) at r12-8: the callee dereferences arg6.
  const src = `${REGS5} r6 = 0; *(u64 *)(r10 - 8) = r6; r6 = r10; r6 += -8; *(u64 *)(r12 - 16) = r6; *(u64 *)(r12 - 8) = 7; call sub7; exit;`;
  const r = passes(tt, program(src, [v7deref6]), 'v4');
  tt.same(r.subprogs.map((s) => [s.stackArgIn, s.stackArgOut]), [[0, 16], [16, 0]]);
  // The merged layout would put arg6 at -8: under v4 that slot is arg7, a scalar.
  const swapped = `${REGS5} r6 = 0; *(u64 *)(r10 - 8) = r6; r6 = r10; r6 += -8; *(u64 *)(r12 - 8) = r6; *(u64 *)(r12 - 16) = 7; call sub7; exit;`;
  fails(tt, program(swapped, [v7deref6]), 'v4', "R1 invalid mem access 'scalar'", EACCES);
});

t.test('the other series rejects the base register', async (tt) => {
  const m = program(`${REGS5} *(u64 *)(r11 - 8) = 6; *(u64 *)(r11 - 16) = 7; call sub7; exit;`, [m7]);
  fails(tt, m, 'v4', 'R11 is invalid', EINVAL);
  fails(tt, m, 'none', 'R11 is invalid', EINVAL);
  const v = program(`${REGS5} *(u64 *)(r12 - 8) = 6; *(u64 *)(r12 - 16) = 7; call sub7; exit;`, [v7]);
  fails(tt, v, 'merged', 'R12 is invalid', EINVAL);
  fails(tt, v, 'none', 'R12 is invalid', EINVAL);
});

t.test('merged: only three r11 forms are legal', async (tt) => {
  const forms = [
    'r11 += 1;',
    '*(u32 *)(r11 - 8) = r1;',
    '*(u64 *)(r11 - 4) = r1;',
    '*(u64 *)(r11 + 8) = r1;',
    '*(u64 *)(r11 + 0) = r1;',
    'r0 = *(u64 *)(r11 - 8);',
    'r0 = *(u32 *)(r11 + 8);',
    '*(u32 *)(r11 - 8) = 1;',
  ];
  for (const f of forms) fails(tt, program(`r1 = 1; ${f} r0 = 0; exit;`), 'merged', 'R11 is invalid', EINVAL);
});

t.test('uninitialised and out-of-range reads', async (tt) => {
  fails(tt, program('r0 = *(u64 *)(r11 + 8); exit;'), 'merged', 'invalid read from stack arg off 8 depth 0', EACCES);
  fails(tt, program('r0 = *(u64 *)(r12 + 8); exit;'), 'v4', 'invalid read from stack arg off 8 depth 0', EACCES);
  // v4 reads back outgoing slots, but not unwritten ones.
  fails(tt, program('r0 = *(u64 *)(r12 - 8); exit;'), 'v4', 'invalid read from stack arg off -8 depth 0', EACCES);
  passes(tt, program('*(u64 *)(r12 - 8) = 3; r0 = *(u64 *)(r12 - 8); exit;'), 'v4');
  // A 6-arg callee reading arg7.
  const sub: Sub = { name: 'sub6', nargs: 6, asm: 'r0 = *(u64 *)(r11 + 16); exit;' };
  fails(tt, program(`${REGS5} *(u64 *)(r11 - 8) = 6; call sub6; exit;`, [sub]), 'merged', 'invalid read from stack arg off 16 depth 8', EACCES);
});

t.test('a missing stack argument at the call', async (tt) => {
  fails(tt, program(`${REGS5} *(u64 *)(r11 - 16) = 7; call sub7; exit;`, [m7]), 'merged', 'callee expects 7 args, stack arg1 is not initialized', EFAULT);
  // v4: only r12-16 (arg6) written; arg7 (index 6) lives at r12-8.
  fails(tt, program(`${REGS5} *(u64 *)(r12 - 16) = 7; call sub7; exit;`, [v7]), 'v4', 'stack arg#6 not properly initialized', EINVAL);
  // One branch forgets a store.
  const branchy = (b: number): string =>
    `${REGS5} r0 = 0; if r1 > 0 goto +1; *(u64 *)(r${b} - 8) = 1; *(u64 *)(r${b} - 16) = 2; call sub7; exit;`;
  fails(tt, program(branchy(11), [m7]), 'merged', 'callee expects 7 args, stack arg1 is not initialized', EFAULT);
  fails(tt, program(branchy(12), [v7]), 'v4', 'stack arg#6 not properly initialized', EINVAL);
});

t.test('slot lifetime across calls', async (tt) => {
  const twice = (b: number): string =>
    `${REGS5} *(u64 *)(r${b} - 8) = 6; *(u64 *)(r${b} - 16) = 7; call sub7; ${REGS5} call sub7; exit;`;
  fails(tt, program(twice(11), [m7]), 'merged', 'callee expects 7 args, stack arg1 is not initialized', EFAULT);
  passes(tt, program(twice(12), [v7]), 'v4');
  // merged: a helper call kills them too.
  const helper = `${REGS5} *(u64 *)(r11 - 8) = 6; call %[bpf_ktime_get_ns]; ${REGS5} call sub6; exit;`;
  fails(tt, program(helper, [m6]), 'merged', 'callee expects 6 args, stack arg1 is not initialized', EFAULT);
  // One store shared by two branches, each storing the other slot, is fine.
  passes(tt, program(`${REGS5} *(u64 *)(r11 - 16) = 7; if r1 > 0 goto +2; *(u64 *)(r11 - 8) = 1; goto +1; *(u64 *)(r11 - 8) = 2; call sub7; r0 = 0; exit;`, [m7]), 'merged');
});

t.test('merged: r11 loads come before r11 stores and calls', async (tt) => {
  const afterStore: Sub = { name: 'sub6', nargs: 6, asm: '*(u64 *)(r11 - 8) = 1; r0 = *(u64 *)(r11 + 8); exit;' };
  fails(tt, program(`${REGS5} *(u64 *)(r11 - 8) = 6; call sub6; exit;`, [afterStore]), 'merged', 'r11 load must be before any r11 store or call insn', EINVAL);
  const afterCall: Sub = { name: 'sub6', nargs: 6, asm: 'call %[bpf_ktime_get_ns]; r0 = *(u64 *)(r11 + 8); exit;' };
  fails(tt, program(`${REGS5} *(u64 *)(r11 - 8) = 6; call sub6; exit;`, [afterCall]), 'merged', 'r11 load must be before any r11 store or call insn', EINVAL);
  // v4 has no such rule.
  const v4After: Sub = { name: 'sub6', nargs: 6, asm: 'call %[bpf_ktime_get_ns]; r0 = *(u64 *)(r12 + 8); exit;' };
  passes(tt, program(`${REGS5} *(u64 *)(r12 - 8) = 6; call sub6; exit;`, [v4After]), 'v4');
});

t.test('write limits', async (tt) => {
  fails(tt, program('*(u64 *)(r11 - 80) = 1; r0 = 0; exit;'), 'merged', 'stack arg write offset -80 exceeds max 7 stack args', EINVAL);
  fails(tt, program('*(u64 *)(r12 - 64) = 1; r0 = 0; exit;'), 'v4', 'stack arg write offset -64 exceeds max 7 stack args', EINVAL);
  fails(tt, program('*(u32 *)(r12 - 8) = 30; r0 = 0; exit;'), 'v4', 'stack arg write must be 8 bytes, got 4', EINVAL);
  fails(tt, program('r1 = 1; *(u16 *)(r12 - 8) = r1; r0 = 0; exit;'), 'v4', 'stack arg write must be 8 bytes, got 2', EINVAL);
  // merged: writes no call needs.
  const unused = `${REGS5} *(u64 *)(r11 - 40) = 1; *(u64 *)(r11 - 16) = 7; *(u64 *)(r11 - 8) = 6; call sub7; exit;`;
  fails(tt, program(unused, [m7]), 'merged', 'func#0 writes 5 stack arg slots, but calls only require 2', EINVAL);
  passes(tt, program(unused.replace(/r11/g, 'r12'), [v7]), 'v4');
});

t.test('null checks reach pointers in slots (merged)', async (tt) => {
  // The maybe-null map value goes into r11-8 before the check; on the null branch the slot
  // holds scalar 0 and the callee's dereference fails.
  const src = `r1 = 0; *(u64 *)(r10 - 8) = r1; r2 = r10; r2 += -8; r1 = %[map_hash_8b] ll; call %[bpf_map_lookup_elem];
    *(u64 *)(r11 - 8) = r0; if r0 != 0 goto +0; ${REGS5} call sub6; r0 = 0; exit;`;
  fails(tt, program(src, [m6deref], [HASH_8B]), 'merged', "R1 invalid mem access 'scalar'", EACCES);
});

t.test('kfunc calls', async (tt) => {
  const ten = (b: number): string =>
    `${REGS5} *(u64 *)(r${b} - 8) = 6; *(u64 *)(r${b} - 16) = 7; *(u64 *)(r${b} - 24) = 8; *(u64 *)(r${b} - 32) = 9; *(u64 *)(r${b} - 40) = 10; call %[bpf_kfunc_call_stack_arg]; exit;`;
  const m = passes(tt, program(ten(11)), 'merged');
  tt.same([m.subprogs[0].stackArgIn, m.subprogs[0].stackArgOut], [0, 5]);
  const v = passes(tt, program(ten(12)), 'v4');
  tt.same([v.subprogs[0].stackArgIn, v.subprogs[0].stackArgOut], [0, 40]);
  fails(tt, program(ten(11).replace('*(u64 *)(r11 - 24) = 8; ', '')), 'merged', 'callee expects 10 args, stack arg3 is not initialized', EFAULT);
  // v4: r12-24 is arg8 (index 7) of a 10-arg call.
  fails(tt, program(ten(12).replace('*(u64 *)(r12 - 24) = 8; ', '')), 'v4', 'stack arg#7 not properly initialized', EINVAL);
  fails(tt, program(`${REGS5} call %[bpf_kfunc_call_stack_arg_13]; exit;`), 'merged', 'Function bpf_kfunc_call_stack_arg_13 has 13 > 12 args', EINVAL);
  // A pointer where a scalar is expected.
  fails(tt, program(ten(11).replace('*(u64 *)(r11 - 8) = 6;', '*(u64 *)(r11 - 8) = r10;')), 'merged', '*(R11-8) is not a scalar', EINVAL);
  // The seed's worked example shape: incoming 2 args, outgoing for 7 and 10 arg kfuncs.
  const foo: Sub = {
    name: 'foo', nargs: 7, asm: `r6 = *(u64 *)(r12 + 8); r7 = *(u64 *)(r12 + 16);
      *(u64 *)(r12 - 16) = r6; *(u64 *)(r12 - 8) = 1; r1 = 0; *(u64 *)(r10 - 8) = r1; r5 = r10; r5 += -8; r1 = 1; r2 = 2; r3 = 3; r4 = 4;
      call %[bpf_kfunc_call_stack_arg_mem_split];
      ${ten(12).replace(' exit;', '')} exit;`,
  };
  const seed = passes(tt, program(`${REGS5} *(u64 *)(r12 - 16) = 6; *(u64 *)(r12 - 8) = 7; call foo; exit;`, [foo]), 'v4');
  tt.same(seed.subprogs.map((s) => [s.stackArgIn, s.stackArgOut]), [[0, 16], [16, 40]]);
});

t.test('kfunc arguments that may not travel on the stack', async (tt) => {
  const six = (b: number, k: string): string => `${REGS5} *(u64 *)(r${b} - 8) = 0; call %[${k}]; exit;`;
  fails(tt, program(six(11, 'bpf_kfunc_call_stack_arg_prog_aux')), 'merged', '*(R11-8) prog->aux cannot be a stack argument', EINVAL);
  fails(tt, program(six(12, 'bpf_kfunc_call_stack_arg_prog_aux')), 'v4', 'arg#5 prog->aux cannot be a stack argument', EINVAL);
  fails(tt, program(six(11, 'bpf_kfunc_call_stack_arg_release')), 'merged', '*(R11-8) release arg cannot be a stack argument', EINVAL);
  fails(tt, program(six(12, 'bpf_kfunc_call_stack_arg_release')), 'v4', 'arg#5 release arg cannot be a stack argument', EINVAL);
  fails(tt, program(six(11, 'bpf_kfunc_call_stack_arg_big')), 'merged', 'Unrecognized *(R11-8) type STRUCT', EINVAL);
});

t.test('kfunc __k and __sz from slots: precision per series', async (tt) => {
  const src = (b: number): string => `${REGS5} r6 = 7; *(u64 *)(r${b} - 8) = r6; call %[bpf_kfunc_call_stack_arg_const]; exit;`;
  const m = run(program(src(11)), 'merged', 2);
  tt.ok(m.accepted);
  // merged backtracks from the slot to the store and on to r6's definition.
  tt.match(m.log, /mark_precise: frame0: regs= stack= before 6: \(7b\) \*\(u64 \*\)\(r11 -8\) = r6\nmark_precise: frame0: regs=r6 stack= before 5: \(b7\) r6 = 7/);
  // v4 (seed): a constant taken from a slot is not marked precise.
  const v = run(program(src(12)), 'v4', 2);
  tt.ok(v.accepted);
  tt.notMatch(v.log, /mark_precise/);
  fails(tt, program(`${REGS5} call %[bpf_ktime_get_ns]; *(u64 *)(r11 - 8) = r0; ${REGS5} call %[bpf_kfunc_call_stack_arg_const]; exit;`), 'merged', '*(R11-8) must be a known constant', EINVAL);
  // The mem/size pair straddling r5 and the first slot: the size bounds the access.
  const split = (size: number): string =>
    `r1 = 0; *(u64 *)(r10 - 8) = r1; r1 = 1; r2 = 2; r3 = 3; r4 = 4; r5 = r10; r5 += -8; *(u64 *)(r11 - 8) = ${size}; call %[bpf_kfunc_call_stack_arg_mem_split]; exit;`;
  passes(tt, program(split(8)), 'merged');
  fails(tt, program(split(16)), 'merged', 'invalid indirect access to stack R5 off=-8 size=16', EACCES);
});

t.test('precision through an incoming slot into the caller', async (tt) => {
  // The callee forwards incoming arg6 as the kfunc's size (outgoing arg7 of a 7-arg kfunc):
  // backtracking crosses the call into the caller's r11-8 store (stack_arg_precision).
  const callee: Sub = {
    name: 'sub6', nargs: 6, asm: `r6 = *(u64 *)(r11 + 8); r1 = 0; *(u64 *)(r10 - 8) = r1; r1 = r10; r1 += -8;
      *(u64 *)(r11 - 8) = r1; *(u64 *)(r11 - 16) = r6; r1 = 1; r2 = 2; r3 = 3; r4 = 4; r5 = 5; call %[bpf_kfunc_call_stack_arg_mem]; exit;`,
  };
  const r = run(program(`${REGS5} *(u64 *)(r11 - 8) = 4; call sub6; exit;`, [callee]), 'merged', 2);
  tt.ok(r.accepted, lastLine(r));
  tt.match(r.log, /mark_precise: frame1: regs=r6 stack= before \d+: \(79\) r6 = \*\(u64 \*\)\(r11 \+8\)/);
  tt.match(r.log, /mark_precise: frame0: regs= stack= before 5: \(7a\) \*\(u64 \*\)\(r11 -8\) = 4/);
});

t.test('plain 6.18 does not model kfuncs', async (tt) => {
  tt.throws(() => run(program(`${REGS5} call %[bpf_kfunc_call_stack_arg_const]; exit;`), 'none'), NotImplementedError);
});

t.test('xlated: the v4 kfunc call carries its stack-arg count in off', async (tt) => {
  const src = (b: number): string =>
    `${REGS5} *(u64 *)(r${b} - 8) = 6; *(u64 *)(r${b} - 16) = 7; *(u64 *)(r${b} - 24) = 8; *(u64 *)(r${b} - 32) = 9; *(u64 *)(r${b} - 40) = 10; call %[bpf_kfunc_call_stack_arg]; r0 = 0; ${REGS5} call %[bpf_kfunc_call_stack_arg_mem_split]; exit;`
      .replace(`r0 = 0; ${REGS5}`, `r1 = 0; *(u64 *)(r10 - 8) = r1; r1 = 1; r2 = 2; r3 = 3; r4 = 4; r5 = r10; r5 += -8; *(u64 *)(r${b} - 8) = 8;`);
  const kcalls = (r: ReturnType<typeof run>): number[] => (r.xlated ?? []).filter((i) => i.code === 0x85 && i.src === 2).map((i) => i.off);
  const v = run(program(src(12)), 'v4');
  tt.ok(v.accepted, lastLine(v));
  tt.same(kcalls(v), [5, 1], 'v4: 10-arg call off 5, 6-arg call off 1');
  const m = run(program(src(11)), 'merged');
  tt.ok(m.accepted, lastLine(m));
  tt.same(kcalls(m), [0, 0], 'merged: off untouched');
});
