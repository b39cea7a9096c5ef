// Unprivileged verification: the loader-capability mapping, and the rules that need a
// loader without CAP_BPF (the live-kernel differential in verifier-kernel.test.ts can only
// drop CAP_PERFMON here, since unprivileged_bpf_disabled refuses CAP_BPF-less loads).

import t from 'tap';
import { verify } from '../engine/verifier/index.ts';
import { loaderCaps, CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN } from '../engine/verifier/unpriv/caps.ts';
import { assemble } from '../engine/isa/asm/index.ts';
import type { Program, ProgType } from '../engine/program/types.ts';

const prog = (text: string, progType: ProgType = 'SOCKET_FILTER'): Program => ({
  name: 't', progType, insns: assemble(text, { bindings: {} }), maps: [], funcs: [], license: 'GPL', flags: 0,
});
const run = (p: Program, caps?: number[]) => verify(p, { logLevel: 1, unpriv: true, series: 'none', ...(caps ? { capsUnpriv: caps } : {}) });
const lastLine = (log: string): string => log.trimEnd().split('\n').at(-2) ?? '';

t.test('loader capabilities', async (tt) => {
  tt.same(loaderCaps({ unpriv: false }), { bpf: true, perfmon: true });
  tt.same(loaderCaps({ unpriv: true }), { bpf: false, perfmon: false });
  tt.same(loaderCaps({ unpriv: true, capsUnpriv: [CAP_BPF] }), { bpf: true, perfmon: false });
  tt.same(loaderCaps({ unpriv: true, capsUnpriv: [CAP_PERFMON] }), { bpf: false, perfmon: true });
  tt.same(loaderCaps({ unpriv: true, capsUnpriv: [CAP_SYS_ADMIN] }), { bpf: true, perfmon: true });
});

t.test('loops need CAP_BPF', async (tt) => {
  const loop = prog('r0 = 0;\nl0:\nr0 += 1;\nif r0 < 3 goto l0;\nexit;');
  const r = run(loop);
  tt.same([r.accepted, r.errno], [false, 22]);
  tt.equal(lastLine(r.log), 'back-edge from insn 2 to 1');
  // With CAP_BPF the loop is walked, and its speculative exit path (r0 unknown there) never
  // ends: 6.18 says so too (oracle program unpriv-loop-const-bound).
  const capBpf = run(loop, [CAP_BPF]);
  tt.notMatch(capBpf.log, /back-edge/);
  tt.match(capBpf.log, /infinite loop detected at insn 1/);
});

t.test('bpf-to-bpf calls need CAP_BPF', async (tt) => {
  const call = prog('call l1;\nexit;\nl1:\nr0 = 0;\nexit;');
  const r = run(call);
  tt.same([r.accepted, r.errno], [false, 1]);
  tt.match(r.log, /loading\/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN/);
  tt.equal(run(call, [CAP_BPF]).accepted, true);
});

t.test('cgroup_skb packet data needs CAP_BPF', async (tt) => {
  const data = prog('r2 = *(u32 *)(r1 + 76);\nr0 = 1;\nexit;', 'CGROUP_SKB');
  const r = run(data);
  tt.same([r.accepted, r.errno], [false, 13]);
  tt.equal(lastLine(r.log), 'invalid bpf_context access off=76 size=4');
  tt.equal(run(data, [CAP_BPF]).accepted, true);
  const tstamp = run(prog('r2 = 0;\n*(u64 *)(r1 + 152) = r2;\nr0 = 1;\nexit;', 'CGROUP_SKB'));
  tt.equal(lastLine(tstamp.log), 'invalid bpf_context access off=152 size=8');
});

t.test('a speculative failure becomes a barrier, not a rejection', async (tt) => {
  // The branch to l1 is never taken, but is walked speculatively: the uninitialised read
  // there is logged and the program still loads (6.18).
  const r = verify(prog('r0 = 0;\nif r0 != 0 goto l1;\nexit;\nl1:\nr0 = *(u64 *)(r10 - 8);\nexit;'), { logLevel: 2, unpriv: true, series: 'none' });
  tt.equal(r.accepted, true);
  tt.match(r.log, /from 1 to 3 \(speculative execution\): R0=Pscalar\(\)/);
  tt.match(r.log, /invalid read from stack R10 off=-8 size=8/);
  tt.equal(r.xlated, undefined, 'no privileged-looking xlated dump');
  tt.match(r.xlatedMissing ?? '', /unprivileged rewrites/);
});
