// The engine backend's libbpf emulation, with a scripted verify() standing in for the model.
import t from 'tap';
import { BPF_ALU64, BPF_EXIT, BPF_JMP, BPF_K, BPF_MOV } from '../engine/isa/opcodes.ts';
import { ldImm64, type Insn } from '../engine/isa/insn.ts';
import type { Program } from '../engine/program/types.ts';
import { NotImplementedError, type VerifyOptions, type VerifyResult } from '../engine/verifier/index.ts';
import type { RunRequest } from '../harness/backend.ts';
import { createEngineBackend, formatXlated, retvalOf, verifyLikeLibbpf } from '../harness/backends/engine.ts';
import { BASE_FLAGS } from '../harness/run/plan.ts';
import { program } from './fixtures/harness/suites.ts';

const mov = (dst: number, imm: number): Insn => ({ code: BPF_ALU64 | BPF_MOV | BPF_K, dst, src: 0, off: 0, imm });
const exit: Insn = { code: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 };
const prog = (insns: Insn[]): Program => ({ ...program('p'), insns });

function req(r: Partial<RunRequest> = {}): RunRequest {
  return { program: prog([mov(0, 7), exit]), auxiliary: [], logLevel: 0, flags: BASE_FLAGS, unpriv: false, series: 'none', execute: false, wantXlated: false, wantJited: false, ...r };
}

/** A verify() that records its calls and answers `accepted` with a log naming the level. */
function scripted(accepted: boolean, extra: Partial<VerifyResult> = {}) {
  const calls: VerifyOptions[] = [];
  const fn = (p: Program, o: VerifyOptions): VerifyResult => {
    calls.push(o);
    return {
      accepted,
      errno: accepted ? 0 : 13,
      log: `log at level ${o.logLevel}\n`,
      xlated: p.insns,
      subprogs: [{ start: 0, stackDepth: 0, argCount: 0, stackArgIn: 0, stackArgOut: 16 }],
      stats: { processedInsns: 2, totalStates: 0, peakStates: 0 },
      ...extra,
    };
  };
  return { fn, calls };
}

t.test('level 0: accepted -> no log, one call', async (t) => {
  const v = scripted(true);
  const r = verifyLikeLibbpf(req(), v.fn);
  t.equal(r.log, '');
  t.same(v.calls.map((c) => c.logLevel), [0]);
});

t.test('level 0: rejected -> retried at level 1, that log is returned', async (t) => {
  const v = scripted(false);
  const r = verifyLikeLibbpf(req({ unpriv: true, series: 'merged' }), v.fn);
  t.equal(r.log, 'log at level 1\n');
  t.same(v.calls.map((c) => [c.logLevel, c.unpriv, c.series]), [[0, true, 'merged'], [1, true, 'merged']]);
});

t.test('explicit level: one call, its log kept on success and failure', async (t) => {
  for (const accepted of [true, false]) {
    const v = scripted(accepted);
    t.equal(verifyLikeLibbpf(req({ logLevel: 2 }), v.fn).log, 'log at level 2\n');
    t.same(v.calls.map((c) => c.logLevel), [2]);
  }
});

t.test('a verifier that is not implemented is unsupported, never a pass', async (t) => {
  const b = createEngineBackend({ verify: () => { throw new NotImplementedError('verifier'); } });
  const o = await b.run(req());
  t.equal(o.unsupported, 'verifier not implemented');
  t.equal(o.loaded, false);
});

t.test('other verifier exceptions propagate (the runner makes them a crash of that test)', async (t) => {
  const b = createEngineBackend({ verify: () => { throw new TypeError('bug'); } });
  await t.rejects(b.run(req()), TypeError);
});

t.test('outcome: rejection, xlated text, stack-arg depth, JIT text', async (t) => {
  const rej = await createEngineBackend({ verify: scripted(false).fn }).run(req());
  t.same(rej, { loaded: false, errno: 13, log: 'log at level 1\n' });
  const ok = await createEngineBackend({ verify: scripted(true).fn }).run(req({ wantXlated: true }));
  t.equal(ok.loaded, true);
  t.equal(ok.xlated, '0: r0 = 7\n1: exit\n');
  t.same(ok.stackArgDepth, { 'func#0': { incoming: 0, outgoing: 16 } });
  const jit = await createEngineBackend({ verify: scripted(true).fn }).run(req({ wantJited: true }));
  t.match(jit.jited, /^func #0:\n/);
  t.equal(jit.unsupported, undefined);
});

t.test('execution through the interpreter: low 32 bits as a signed int', async (t) => {
  const b = createEngineBackend({ verify: scripted(true).fn });
  const o = await b.run(req({ execute: true }));
  t.same(o.retval, { ok: true, value: 7 });
  const neg = await b.run(req({ execute: true, program: prog([ldImm64(0, 0x1_ffff_fffen), exit]) }));
  t.same(neg.retval, { ok: true, value: -2 });
  t.same(retvalOf({ ok: true, retval: 0x8000_0000n }), { ok: true, value: -2147483648 });
  t.same(retvalOf({ ok: false, retval: 0n, fault: 'bad access' }), { ok: false, reason: 'bad access' });
});

t.test('formatXlated counts slots', async (t) => {
  const text = formatXlated([mov(1, 1), ldImm64(2, 5n), exit], () => 'x');
  t.equal(text, '0: x\n1: x\n3: x\n');
});
