// Kernel kfunc facts (6.18): which program types may call which kfuncs, prototypes read from
// the running kernel's vmlinux BTF, and the iterator slot text. The verdicts and logs of
// kfunc programs are checked against the live kernel in verifier-kernel.test.ts.

import t from 'tap';
import { hookOf, kernelKfuncFacts, kfuncAllowed, KF } from '../engine/verifier/kfunc/table.ts';
import { kernelKfunc, isIterNextCall } from '../engine/verifier/kfunc/meta.ts';
import { iterSlotText, iterSlotSafe } from '../engine/verifier/kfunc/iter-slot.ts';
import { vmlinuxBtf, idsByName } from '../engine/btf/index.ts';
import { newReg } from '../engine/verifier/state/regs.ts';

t.test('program types share hooks as 6.18 groups them', async (t) => {
  t.equal(hookOf('TRACEPOINT'), 'tracing');
  t.equal(hookOf('LSM'), 'tracing');
  t.equal(hookOf('CGROUP_SOCKOPT'), 'cgroup');
  t.equal(hookOf('RAW_TRACEPOINT'), undefined);
  const task = kernelKfuncFacts('bpf_task_acquire')!;
  t.ok(kfuncAllowed(task, 'SYSCALL'));
  t.ok(kfuncAllowed(task, 'PERF_EVENT'));
  t.notOk(kfuncAllowed(task, 'RAW_TRACEPOINT'));
  t.notOk(kfuncAllowed(task, 'SOCKET_FILTER'));
  // The common set reaches every program type.
  t.ok(kfuncAllowed(kernelKfuncFacts('bpf_iter_num_new')!, 'SOCKET_FILTER'));
  // The fs kfuncs are registered for LSM and filtered to LSM programs.
  const dpath = kernelKfuncFacts('bpf_path_d_path')!;
  t.ok(kfuncAllowed(dpath, 'LSM'));
  t.notOk(kfuncAllowed(dpath, 'TRACING'));
  t.equal(task.flags, KF.ACQUIRE | KF.RCU | KF.RET_NULL);
  t.equal(kernelKfuncFacts('bpf_no_such_kfunc'), undefined);
});

const btf = vmlinuxBtf();
t.test('prototypes come from vmlinux BTF', { skip: btf ? false : 'no /sys/kernel/btf/vmlinux' }, async (t) => {
  const id = (name: string): number => idsByName(btf!, name).find((i) => btf!.types[i].kind === 'FUNC')!;
  const bits = kernelKfunc(id('bpf_iter_bits_new'))!;
  t.equal(bits.name, 'bpf_iter_bits_new');
  t.equal(bits.params.length, 3);
  t.equal(bits.params[1].suffix, '__ign');
  t.equal(bits.decl.flagBits, KF.ITER_NEW);
  const dpath = kernelKfunc(id('bpf_path_d_path'))!;
  t.equal(dpath.params[2].suffix, '__sz');
  t.ok(isIterNextCall('SYSCALL', { imm: id('bpf_iter_bits_next'), off: 0 }));
  t.notOk(isIterNextCall('SYSCALL', { imm: id('bpf_iter_bits_new'), off: 0 }));
  // A FUNC the table does not list is not modelled.
  t.equal(kernelKfunc(id('bpf_prog_load') || 1), undefined);
  // Type ids that are not FUNCs are not kfuncs.
  t.equal(kernelKfunc(idsByName(btf!, 'task_struct')[0]), undefined);
});

t.test('iterator slots print and compare by kind, state and reference', async (t) => {
  const structId = btf ? idsByName(btf, 'bpf_iter_num').find((i) => btf.types[i].kind === 'STRUCT') : undefined;
  const a = Object.assign(newReg(), { refObjId: 3, iter: { btfId: structId ?? 1, state: 'active' as const, depth: 2 } });
  const b = Object.assign(newReg(), { refObjId: 5, iter: { btfId: structId ?? 1, state: 'active' as const, depth: 0 } });
  if (btf && structId) t.equal(iterSlotText(btf, a), 'iter_num(ref_id=3,state=active,depth=2)');
  t.equal(iterSlotText(btf, Object.assign(newReg(), { iter: a.iter })), undefined, 'only the main slot (with the reference) prints');
  t.ok(iterSlotSafe(a, b, () => true), 'depth is ignored');
  t.notOk(iterSlotSafe(a, Object.assign(newReg(), { refObjId: 5, iter: { ...b.iter, state: 'drained' as const } }), () => true));
  t.notOk(iterSlotSafe(a, b, () => false), 'references must map');
});
