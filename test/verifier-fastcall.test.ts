// bpf_fastcall on the engine: which calls count (clobber masks, inlining), the pattern marks
// and the stack contract, and the removal with its stack depth. Programs come from
// specs/fastcall.yaml, whose expectations were confirmed on the live 6.18 kernel; here the
// engine's pieces are checked directly.

import t from 'tap';
import { loadSuiteFile } from '../harness/spec/index.ts';
import { planSuites } from '../harness/run/plan.ts';
import type { RunItem } from '../harness/run/plan.ts';
import { verify } from '../engine/verifier/index.ts';
import { helperCallee, kfuncCallee } from '../engine/verifier/fastcall.ts';
import { kernelBtfOrUndefined } from '../engine/verifier/btf-types.ts';
import { kernelKfuncByName } from '../engine/verifier/kfunc/meta.ts';
import { VerifierEnv } from '../engine/verifier/env.ts';
import type { Program } from '../engine/program/types.ts';

const items = planSuites([loadSuiteFile('specs/fastcall.yaml')], { backends: ['engine'] });
const item = (name: string): RunItem => {
  const it = items.find((i) => i.request.program.name === name && !i.request.unpriv);
  if (!it) throw new Error(`no test ${name}`);
  return it;
};
const verifyItem = (name: string) => {
  const req = item(name).request;
  return verify(req.program, { logLevel: 4, unpriv: false, series: 'none', ...(req.funcInfo !== undefined ? { funcInfo: req.funcInfo } : {}) });
};
const STX_DW = 0x7b;
const LDX_DW = 0x79;
/** Spill/fill instructions through r10 left in the xlated program. */
const stackPairs = (x: readonly { code: number; dst: number; src: number }[]): number =>
  x.filter((i) => (i.code === STX_DW && i.dst === 10) || (i.code === LDX_DW && i.src === 10)).length;

t.test('clobber masks of helpers', async (t) => {
  const env = new VerifierEnv(item('five_pairs_removed').request.program, { logLevel: 0, unpriv: false, series: 'none' });
  t.same(helperCallee(env, 8), { clobbers: 0b1, inlined: true }, 'get_smp_processor_id: r0 only, inlined on x86-64');
  t.same(helperCallee(env, 7), { clobbers: 0b1, inlined: false }, 'get_prandom_u32: r0 only, a real call');
  t.same(helperCallee(env, 1), { clobbers: 0b111, inlined: false }, 'map_lookup_elem: r0, r1, r2');
  t.equal(helperCallee(env, 100000), undefined, 'an unknown helper is no pattern');
  const skb: Program = { ...env.prog, progType: 'SCHED_CLS' };
  const tc = new VerifierEnv(skb, { logLevel: 0, unpriv: false, series: 'none' });
  t.same(helperCallee(tc, 26), { clobbers: 0b11111, inlined: false }, 'skb_load_bytes: r0..r4');
  t.equal(helperCallee(env, 26), undefined, 'skb_load_bytes is not offered to raw_tp');
});

t.test('clobber masks of kfuncs', { skip: kernelBtfOrUndefined() ? false : 'no /sys/kernel/btf/vmlinux' }, async (t) => {
  const cast = kernelKfuncByName('bpf_cast_to_kern_ctx')!;
  const rd = kernelKfuncByName('bpf_rdonly_cast')!;
  const rel = kernelKfuncByName('bpf_task_release')!;
  t.same(kfuncCallee(cast.btfId, 0), { clobbers: 0b11, inlined: true }, 'cast_to_kern_ctx: r0, r1');
  t.same(kfuncCallee(rd.btfId, 0), { clobbers: 0b111, inlined: true }, 'rdonly_cast: r0, r1, r2');
  t.same(kfuncCallee(rel.btfId, 0), { clobbers: 0b10, inlined: false }, 'task_release: void, r1; not fastcall');
  t.equal(kfuncCallee(cast.btfId, 1), undefined, 'module BTF (off != 0) is not resolved');
});

t.test('removal and stack depth', async (t) => {
  const v = verifyItem('five_pairs_removed');
  t.ok(v.accepted);
  t.equal(stackPairs(v.xlated!), 0, 'all ten spills and fills are gone');
  t.equal(v.subprogs[0].stackDepth, 0);
  t.match(v.log, /stack depth 0\n/);

  const above = verifyItem('depth_keeps_slots_above');
  t.equal(above.subprogs[0].stackDepth, 8, 'the plain store at fp-8 stays above the pattern');
  t.equal(stackPairs(above.xlated!), 1);
});

t.test('the stack contract keeps the pattern', async (t) => {
  for (const name of ['store_imm_into_slot_keeps', 'var_off_write_keeps', 'helper_write_keeps', 'wrong_order_no_pattern']) {
    const v = verifyItem(name);
    t.ok(v.accepted, name);
    t.ok(stackPairs(v.xlated!) >= 2, `${name}: spill and fill kept`);
    t.ok(v.subprogs[0].stackDepth >= 8, `${name}: depth not reduced`);
  }
  // 6.18: helper reads and reads from another function are not checked against the slots.
  for (const name of ['helper_read_does_not_keep', 'subprog_reads_caller_slot', 'jump_into_pattern']) {
    const v = verifyItem(name);
    t.equal(v.subprogs[0].stackDepth, 0, `${name}: pattern removed`);
  }
});

t.test('a call that is not inlined keeps the function depth', async (t) => {
  const v = verifyItem('not_inlined_keeps_depth');
  t.equal(v.subprogs[0].stackDepth, 16);
  t.equal(stackPairs(v.xlated!), 2, 'only the pair around get_prandom_u32 is left');
});

t.test('functions are judged apart', async (t) => {
  const v = verifyItem('nested_subprogs');
  t.same(v.subprogs.map((s) => s.stackDepth), [0, 16, 16]);
  t.match(v.log, /stack depth 0\+16\+16\n/);
});

t.test('bpf_rdonly_cast', { skip: kernelBtfOrUndefined() ? false : 'no /sys/kernel/btf/vmlinux' }, async (t) => {
  const v = verifyItem('rdonly_cast_void');
  t.ok(v.accepted, 'a read at any offset of the void cast is allowed');
  const w = verifyItem('rdonly_cast_void_no_write');
  t.notOk(w.accepted);
  t.match(w.log, /R0 cannot write into rdonly_untrusted_mem/);
  const u = verifyItem('rdonly_cast_unknown_id');
  t.equal(u.errno, 22);
  const p = verifyItem('rdonly_cast_pair_removed');
  t.equal(stackPairs(p.xlated!), 0);
});
