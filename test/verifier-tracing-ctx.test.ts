// Iterator (and other BTF-typed) contexts: the slot arithmetic of btf_ctx_access, what each
// iterator target's fields read as, PTR_TO_BUF access rules, the trust a pointer field keeps
// (the kernel's __safe_* lists in vmlinux BTF), btf_struct_ids_match, the iter-only seq_file
// helpers, and whole programs from specs/tracing_ctx.yaml. The verdicts and logs of those
// programs were checked against the live 6.18 kernel (`check specs/tracing_ctx.yaml
// --backend both`); these tests pin the engine's side without needing the kernel.

import t from 'tap';
import { vmlinuxBtf, idsByName, findByName } from '../engine/btf/index.ts';
import type { Btf } from '../engine/btf/index.ts';
import { loadSuiteFile } from '../harness/spec/index.ts';
import { planSuites } from '../harness/run/plan.ts';
import type { RunItem } from '../harness/run/plan.ts';
import { verify } from '../engine/verifier/index.ts';
import { ctxArgIndex, ctxArgOffset, btfCtxAccess } from '../engine/verifier/checks/ctx-btf.ts';
import { iterTarget, ITER_TARGET_NAMES } from '../engine/verifier/checks/iter-targets.ts';
import { checkBufferAccess } from '../engine/verifier/checks/buf.ts';
import { isSafeField, inheritedTrust, isTrustedOrRcu } from '../engine/verifier/checks/btf-trust.ts';
import { btfStructIdsMatch } from '../engine/verifier/btf-walk.ts';
import { helperAllowed, helperProto } from '../engine/verifier/helpers/protos.ts';
import { rawTpArgNullable } from '../engine/verifier/checks/raw-tp-nullable.ts';
import { Reject } from '../engine/verifier/reject.ts';
import { newReg } from '../engine/verifier/state/regs.ts';
import { RegType, PTR_MAYBE_NULL, PTR_TRUSTED, PTR_UNTRUSTED, MEM_RDONLY, MEM_RCU } from '../engine/verifier/state/types.ts';
import { scalarOfSize, scalarConst } from '../engine/verifier/scalar-api.ts';
import type { Program } from '../engine/program/types.ts';

const btf = vmlinuxBtf();
const noBtf = btf ? false : 'no /sys/kernel/btf/vmlinux';

const structId = (b: Btf, name: string): number => findByName(b, name, 'STRUCT')!.id;
const funcProto = (b: Btf, name: string) => {
  const f = findByName(b, name, 'FUNC')!;
  const p = b.types[f.type];
  if (p.kind !== 'FUNC_PROTO') throw new Error(`${name} has no FUNC_PROTO`);
  return p;
};

/** A minimal iterator program: only the fields btf_ctx_access reads. */
const iterProg = (target: string, sleepable = false): Program =>
  ({ name: 't', progType: 'TRACING', expectedAttachType: 'TRACE_ITER', attachTo: target, insns: [], maps: [], license: 'GPL', flags: sleepable ? 16 : 0 }) as unknown as Program;

t.test('slot arithmetic: one u64 slot per pointer or small argument, the return slot after', { skip: noBtf }, async (t) => {
  const p = funcProto(btf!, 'bpf_iter_task_file'); // meta, task, fd, file
  t.same([0, 8, 16, 24, 32, 40].map((off) => ctxArgIndex(btf!, p.params, p.type, off)), [0, 1, 2, 3, 4, 5], 'int return: one slot, then past the end');
  t.equal(ctxArgOffset(btf!, p.params, 'file'), 24);
  t.equal(ctxArgOffset(btf!, p.params, 'nope'), -1);
});

t.test('every iterator target names real arguments of its bpf_iter_<target> FUNC', { skip: noBtf }, async (t) => {
  for (const name of ITER_TARGET_NAMES) {
    const p = funcProto(btf!, `bpf_iter_${name}`);
    t.equal(btf!.types[p.params[0].type].kind, 'PTR', `${name}: meta first`);
    for (const field of Object.keys(iterTarget(name)!)) t.ok(ctxArgOffset(btf!, p.params, field) > 0, `${name}.${field}`);
  }
  t.equal(iterTarget('get_info'), undefined, 'a bpf_iter_ function that is no target');
  t.equal(iterTarget('toString'), undefined, 'no prototype keys');
});

t.test('what the ctx fields of an iterator read as', { skip: noBtf }, async (t) => {
  const lines: string[] = [];
  const log = (s: string): void => void lines.push(s);
  const elem = iterProg('bpf_map_elem');
  t.same(btfCtxAccess(elem, 16, 8, false, log), { regType: RegType.PTR_TO_BUF | PTR_MAYBE_NULL | MEM_RDONLY });
  t.same(btfCtxAccess(elem, 24, 8, false, log), { regType: RegType.PTR_TO_BUF | PTR_MAYBE_NULL });
  t.same(lines, [], 'listed fields log nothing');
  // Fields the target does not list: trusted, never NULL, with the kernel's log line.
  const map = btfCtxAccess(elem, 8, 8, false, log)!;
  t.equal(map.regType, RegType.PTR_TO_BTF_ID | PTR_TRUSTED);
  t.equal(map.btfId, structId(btf!, 'bpf_map'));
  t.same(lines, [`func 'bpf_iter_bpf_map_elem' arg1 has btf_id ${map.btfId} type STRUCT 'bpf_map'\n`]);
  const task = btfCtxAccess(iterProg('task'), 8, 8, false)!;
  t.equal(task.regType, RegType.PTR_TO_BTF_ID | PTR_MAYBE_NULL | PTR_TRUSTED);
  t.equal(task.btfId, structId(btf!, 'task_struct'));
  t.equal(btfCtxAccess(iterProg('task_file'), 8, 8, false)!.regType, RegType.PTR_TO_BTF_ID | PTR_MAYBE_NULL, 'not trusted here');
  t.same(btfCtxAccess(iterProg('task_file'), 16, 8, false), { regType: RegType.SCALAR_VALUE }, 'fd');
  t.same(btfCtxAccess(iterProg('tcp'), 16, 4, false), { regType: RegType.SCALAR_VALUE }, 'a narrow load of a scalar');
});

t.test('btf_ctx_access refusals and their log lines', { skip: noBtf }, async (t) => {
  const task = iterProg('task');
  const refused = (off: number, size: number, write = false): string[] => {
    const lines: string[] = [];
    t.equal(btfCtxAccess(task, off, size, write, (s) => void lines.push(s)), undefined, `off=${off} size=${size}`);
    return lines;
  };
  t.same(refused(8, 4), ["func 'bpf_iter_task' size 4 must be 8\n"]);
  t.same(refused(4, 4), ["func 'bpf_iter_task' offset 4 is not multiple of 8\n"]);
  t.same(refused(16, 8), ["func 'bpf_iter_task' doesn't have 3-th argument\n"]);
  t.same(refused(24, 8), ["func 'bpf_iter_task' doesn't have 4-th argument\n"]);
  t.same(refused(8, 8, true), [], 'writes: no reason given');
  t.same(refused(96, 8), [], 'past the 12 slots');
  t.same(refused(-8, 8), []);
  t.same(refused(2, 4), [], 'misaligned for its size');
});

t.test('tp_btf: trusted pointer arguments, NULL-able where the kernel says so', { skip: noBtf }, async (t) => {
  const tp = (name: string): Program =>
    ({ name: 't', progType: 'TRACING', expectedAttachType: 'TRACE_RAW_TP', attachTo: name, insns: [], maps: [], license: 'GPL', flags: 0 }) as unknown as Program;
  t.ok(rawTpArgNullable('kfree_skb', 3));
  t.notOk(rawTpArgNullable('kfree_skb', 0));
  t.notOk(rawTpArgNullable('hasOwnProperty', 0));
  const lines: string[] = [];
  const sk = btfCtxAccess(tp('kfree_skb'), 24, 8, false, (s) => void lines.push(s))!;
  t.equal(sk.regType, RegType.PTR_TO_BTF_ID | PTR_TRUSTED | PTR_MAYBE_NULL);
  t.equal(btfCtxAccess(tp('kfree_skb'), 0, 8, false)!.regType, RegType.PTR_TO_BTF_ID | PTR_TRUSTED);
  t.same(lines, [`func 'kfree_skb' arg3 has btf_id ${structId(btf!, 'sock')} type STRUCT 'sock'\n`], 'named without btf_trace_');
  // Slots count the hidden `void *__data`: task_newtask(task, clone_flags) has no slot 2.
  const past: string[] = [];
  t.equal(btfCtxAccess(tp('task_newtask'), 16, 8, false, (s) => void past.push(s)), undefined);
  t.same(past, ["func 'task_newtask' doesn't have 3-th argument\n"]);
});

t.test('PTR_TO_BUF: constant non-negative offsets; read-only buffers refuse writes', async (t) => {
  // Pointers carry their variable offset in `s`: a known 0 here.
  const buf = Object.assign(newReg(), { type: RegType.PTR_TO_BUF, s: scalarConst(0n) });
  const ro = Object.assign(newReg(), { type: RegType.PTR_TO_BUF | MEM_RDONLY, s: scalarConst(0n) });
  const msg = (f: () => void): string => {
    try {
      f();
    } catch (e) {
      if (e instanceof Reject) return `${e.errno}: ${e.text}`;
      throw e;
    }
    return 'ok';
  };
  t.equal(msg(() => checkBufferAccess(2, buf, 1 << 20, 8, true)), 'ok', 'no upper bound at load time');
  t.equal(msg(() => checkBufferAccess(2, ro, 100, 4, false)), 'ok');
  t.equal(msg(() => checkBufferAccess(2, ro, 0, 4, true)), '13: R2 cannot write into rdonly_buf');
  t.equal(msg(() => checkBufferAccess(2, ro, -4, 4, false)), '13: R2 invalid rdonly buffer access: off=-4, size=4');
  t.equal(msg(() => checkBufferAccess(3, buf, -1, 1, true)), '13: R3 invalid rdwr buffer access: off=-1, size=1');
  const varOff = Object.assign(newReg(), { type: RegType.PTR_TO_BUF });
  varOff.s = scalarOfSize(1); // an unknown byte added to the pointer
  t.match(msg(() => checkBufferAccess(2, varOff, 0, 1, false)), /^13: R2 invalid variable buffer offset: off=0, var_off=\(0x0; 0xff\)$/);
});

t.test('pointer fields through trusted pointers: the kernel safe lists decide', { skip: noBtf }, async (t) => {
  const meta = structId(btf!, 'bpf_iter_meta');
  const seq = structId(btf!, 'seq_file');
  const map = structId(btf!, 'bpf_map');
  const task = structId(btf!, 'task_struct');
  t.ok(isSafeField(btf!, meta, 'seq', seq, '__safe_trusted'));
  t.notOk(isSafeField(btf!, meta, 'seq', map, '__safe_trusted'), 'the pointee type must match too');
  t.ok(isSafeField(btf!, task, 'real_parent', task, '__safe_rcu'));
  t.notOk(isSafeField(btf!, map, 'inner_map_meta', map, '__safe_trusted'));

  const trustedMeta = Object.assign(newReg(), { type: RegType.PTR_TO_BTF_ID | PTR_TRUSTED, btfId: meta });
  const trustedMap = Object.assign(newReg(), { type: RegType.PTR_TO_BTF_ID | PTR_TRUSTED, btfId: map });
  const trustedTask = Object.assign(newReg(), { type: RegType.PTR_TO_BTF_ID | PTR_TRUSTED, btfId: task });
  t.ok(isTrustedOrRcu(trustedMeta));
  t.notOk(isTrustedOrRcu(Object.assign(newReg(), { type: RegType.PTR_TO_BTF_ID | PTR_TRUSTED | PTR_UNTRUSTED })));
  t.ok(isTrustedOrRcu(Object.assign(newReg(), { type: RegType.PTR_TO_BTF_ID, refObjId: 4 })), 'referenced');
  // Listed as trusted: kept in or out of an RCU section.
  t.equal(inheritedTrust(btf!, trustedMeta, 'seq', seq, 0, false), PTR_TRUSTED);
  // Unlisted: a plain pointer under RCU, untrusted outside.
  t.equal(inheritedTrust(btf!, trustedMap, 'inner_map_meta', map, 0, true), 0);
  t.equal(inheritedTrust(btf!, trustedMap, 'inner_map_meta', map, 0, false), PTR_UNTRUSTED);
  // RCU-listed: MEM_RCU inside a section only.
  t.equal(inheritedTrust(btf!, trustedTask, 'real_parent', task, 0, true), MEM_RCU);
  t.equal(inheritedTrust(btf!, trustedTask, 'real_parent', task, 0, false), PTR_UNTRUSTED);
  // An __rcu-tagged field that is not listed: RCU but NULL-able.
  t.equal(inheritedTrust(btf!, trustedMap, 'x', map, MEM_RCU, true), MEM_RCU | PTR_MAYBE_NULL);
});

t.test('btf_struct_ids_match: nested first members stand for the outer struct', { skip: noBtf }, async (t) => {
  const lines: string[] = [];
  const log = (s: string): void => void lines.push(s);
  const sockCommon = structId(btf!, 'sock_common');
  t.ok(btfStructIdsMatch(btf!, structId(btf!, 'sock'), 0, sockCommon, false, log), 'sock starts with sock_common');
  t.ok(btfStructIdsMatch(btf!, structId(btf!, 'tcp_sock'), 0, sockCommon, false, log), 'several levels down');
  t.notOk(btfStructIdsMatch(btf!, structId(btf!, 'sock'), 0, sockCommon, true, log), 'strict: no walking');
  t.same(lines, []);
  t.notOk(btfStructIdsMatch(btf!, structId(btf!, 'bpf_iter_meta'), 0, sockCommon, false, log));
  t.same(lines, ['cannot access ptr member seq with moff 0 in struct (anon) with off 0 size 1\n']);
  t.ok(idsByName(btf!, 'sock_common').length > 0);
});

t.test('the seq_file helpers are for iterators only', async (t) => {
  for (const id of [126, 127, 128]) {
    const p = helperProto(id)!;
    t.ok(helperAllowed(p, 'TRACING', 'TRACE_ITER'), `#${id} in an iterator`);
    t.notOk(helperAllowed(p, 'TRACING', 'TRACE_FENTRY'), `#${id} in fentry`);
    t.notOk(helperAllowed(p, 'RAW_TRACEPOINT'), `#${id} in raw_tp`);
    t.ok(p.gplOnly);
  }
  t.ok(helperAllowed(helperProto(1)!, 'TRACING', 'TRACE_ITER'), 'helpers without attach limits');
});

// Whole programs from the spec suite, through the engine.
const items: RunItem[] = planSuites([loadSuiteFile('specs/tracing_ctx.yaml')], { backends: ['engine'] });
const run = (name: string, logLevel = 1) => {
  const it = items.find((i) => i.request.program.name === name && !i.request.unpriv);
  if (!it) throw new Error(`no test ${name}`);
  return verify(it.request.program, { logLevel, unpriv: false, series: 'none' });
};

t.test('spec programs: verdicts and the lines that explain them', { skip: noBtf }, async (t) => {
  const ok = run('iter_map_elem_buffers', 2);
  t.ok(ok.accepted, ok.log);
  t.match(ok.log, /1: \(79\) r3 = \*\(u64 \*\)\(r1 \+16\) +; R1=ctx\(\) R3=rdonly_buf_or_null\(id=1\)\n/);
  t.match(ok.log, /R4=buf\(off=8\)/);
  for (const [name, errno, re] of [
    ['iter_key_write', 13, /R2 cannot write into rdonly_buf/],
    ['iter_buf_no_null_check', 13, /R2 invalid mem access 'buf_or_null'/],
    ['iter_ctx_narrow_pointer', 13, /func 'bpf_iter_task' size 4 must be 8\ninvalid bpf_context access off=8 size=4/],
    ['iter_seq_write_meta', 13, /R1 is of type bpf_iter_meta but seq_file is expected/],
    ['raw_tp_seq_write', 22, /program of this type cannot use helper bpf_seq_write#127/],
    ['iter_sockmap_update_meta', 13, /struct \(anon\) with off 0 size 1\nR3 is of type bpf_iter_meta but sock_common is expected/],
  ] as const) {
    const r = run(name);
    t.notOk(r.accepted, name);
    t.equal(r.errno, errno, name);
    t.match(r.log, re, name);
  }
  const none = run('iter_unregistered_target');
  t.same([none.accepted, none.errno], [false, 22], 'an unregistered target: EINVAL');
  t.match(none.log, /^processed 0 insns [^\n]*\n$/, 'no reason logged, only the stats line (as the kernel at level 1)');
  for (const name of ['iter_get_task_stack', 'iter_sockmap_update', 'iter_seq_printf', 'iter_probe_read_into_value']) {
    const r = run(name);
    t.ok(r.accepted, `${name}: ${r.log.split('\n').slice(-3).join(' | ')}`);
  }
  const sl = run('iter_map_fields_sleepable', 2);
  t.match(sl.log, /R4=untrusted_ptr_bpf_map\(\)/);
  t.match(sl.log, /R5=trusted_ptr_seq_file\(\)/);
});
