// BPF exceptions end to end on the engine: bpf_throw's verifier rules (kfunc/throw.ts), the
// hidden default callback in the xlated program, the interpreter's unwinding to the callback
// (runtime/throw.ts), the JIT's boundary and callback frames, and the replay facts
// (jit/x86_64/exceptions.ts). Programs come from specs/exceptions.yaml, whose expectations
// were confirmed on the live 6.18 kernel; here the engine's pieces are checked directly.

import t from 'tap';
import { loadSuiteFile } from '../harness/spec/index.ts';
import { planSuites } from '../harness/run/plan.ts';
import type { RunItem } from '../harness/run/plan.ts';
import { verify } from '../engine/verifier/index.ts';
import { testRun } from '../engine/runtime/test-run.ts';
import { jitVerified } from '../engine/jit/jited.ts';
import { exceptionFacts } from '../engine/jit/x86_64/exceptions.ts';
import { kernelBtfOrUndefined } from '../engine/verifier/btf-types.ts';

const items = planSuites([loadSuiteFile('specs/exceptions.yaml')], { backends: ['engine'] });
const item = (name: string): RunItem => {
  const it = items.find((i) => i.request.program.name === name && !i.request.unpriv);
  if (!it) throw new Error(`no test ${name}`);
  return it;
};
const verifyItem = (name: string, logLevel = 1) => {
  const req = item(name).request;
  return verify(req.program, { logLevel, unpriv: false, series: 'none', ...(req.funcInfo !== undefined ? { funcInfo: req.funcInfo } : {}) });
};
const run = (name: string) => {
  const req = item(name).request;
  return testRun(req.program, { ...(req.kfuncNames ? { kfuncs: req.kfuncNames } : {}) });
};

t.test('bpf_throw needs the kernel BTF', { skip: kernelBtfOrUndefined() ? false : 'no /sys/kernel/btf/vmlinux' }, async (t) => {
  t.test('default callback: hidden subprog, retval = cookie', async (t) => {
    const v = verifyItem('throw_default_cb', 4);
    t.ok(v.accepted);
    t.same(v.exception, { seen: true, cbSubprog: 1, hidden: true });
    t.equal(v.subprogs.length, 2, 'the hidden subprog counts as a subprog');
    t.match(v.log, /stack depth 0\+0\n/);
    const x = v.xlated!;
    t.equal(x.length, 4, 'the dead code after the throw is gone, the callback appended');
    t.same([x[2].code, x[2].dst, x[2].src], [0xbf, 0, 1], 'r0 = r1');
    t.equal(x[3].code, 0x95);
    t.equal(v.exceptionCbStart, 2);
    const r = run('throw_default_cb');
    t.ok(r.ok);
    t.equal(r.retval, 7n);
  });

  t.test('a failed load has no hidden subprog', async (t) => {
    const v = verifyItem('throw_with_reference', 4);
    t.notOk(v.accepted);
    t.match(v.log, /Unreleased reference id=2 alloc_insn=2\nbpf_throw would lead to reference leak\n/);
    t.match(v.log, /stack depth 0\n/);
  });

  t.test('rules at the throw point', async (t) => {
    const cases: [string, RegExp][] = [
      ['throw_in_rcu_section', /bpf_throw cannot be used inside bpf_rcu_read_lock-ed region/],
      ['throw_under_spin_lock', /function calls are not allowed while holding a lock/],
      ['throw_cookie_out_of_range', /At program exit the register R1 has smin=5 smax=5 should have been in \[0, 1\]/],
      ['throw_cookie_pointer', /R1 is not a scalar/],
      ['throw_in_callback', /bpf_throw kfunc \(insn 9\) cannot be called from callback subprog 1/],
      ['throw_in_socket_filter', /calling kernel function bpf_throw is not allowed/],
      ['custom_cb_pointer_arg', /exception cb only supports single integer argument/],
    ];
    for (const [name, re] of cases) {
      const v = verifyItem(name);
      t.notOk(v.accepted, `${name} refused`);
      t.match(v.log, re, name);
    }
  });

  t.test('conditional and subprogram throws in the interpreter', async (t) => {
    t.equal(run('throw_conditional').retval, 9n, 'skb->len is not 0: throws 9');
    t.equal(run('throw_from_subprog').retval, 20n, 'unwinds both frames');
    t.equal(run('throw_from_subprog_not_taken').retval, 5n, 'no throw: normal return');
    t.equal(run('throw_cookie_in_range').retval, 1n);
  });

  t.test('own callback: verified as a global function, runs on the cookie', async (t) => {
    const v = verifyItem('throw_custom_cb', 2);
    t.ok(v.accepted);
    t.same(v.exception, { seen: true, cbSubprog: 1, hidden: false });
    t.match(v.log, /Validating exc_cb\(\) func#1\.\.\./);
    t.equal(run('throw_custom_cb').retval, 105n, 'cb returns 100 + cookie');
    const quiet = verifyItem('custom_cb_without_throw');
    t.same(quiet.exception, { seen: false, cbSubprog: 1, hidden: false });
    t.equal(run('custom_cb_without_throw').retval, 3n);
  });

  t.test('JIT: boundary prologue, callback frame, hidden callback not shown', async (t) => {
    const req = item('throw_default_cb').request;
    const v = verifyItem('throw_default_cb');
    const j = jitVerified(req.program, v);
    t.equal(j.image.funcs.length, 2, 'the hidden callback is JITed');
    t.notMatch(j.text, /func #1/, 'but not shown');
    t.match(j.text, /pushq\t%r12\n.*pushq\t%rbx\n.*pushq\t%r13\n.*pushq\t%r14\n.*pushq\t%r15/);
    const own = jitVerified(item('throw_custom_cb').request.program, verifyItem('throw_custom_cb'));
    t.match(own.text, /func #1:[\s\S]*movq\t%rsi, %rsp\n.*movq\t%rdx, %rbp/);

    // Replay facts from what a kernel load reports (our own image standing in for it).
    const facts = exceptionFacts(v.xlated!, v.subprogs.map((s) => s.stackDepth), j.image.code, j.image.funcLens.slice(0, -1));
    t.same(facts, [{ exceptionBoundary: true, exceptionCbStart: 2, hidden: true }]);
    const vo = verifyItem('throw_custom_cb');
    const fo = exceptionFacts(vo.xlated!, vo.subprogs.map((s) => s.stackDepth), own.image.code, own.image.funcLens);
    t.ok(fo.some((f) => f.exceptionCbStart === vo.exceptionCbStart && f.exceptionBoundary), 'own callback among the candidates');
  });
});
