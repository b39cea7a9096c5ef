// The engine backend's `jited` text: our kernel-mode image of the verified program, in the
// selftests' LLVM AT&T format, comparable with what the kernel backend reports.

import t from 'tap';
import { BPF_ALU64, BPF_CALL, BPF_EXIT, BPF_JMP, BPF_K, BPF_MOV } from '../engine/isa/opcodes.ts';
import type { Insn } from '../engine/isa/insn.ts';
import type { Program } from '../engine/program/types.ts';
import type { VerifyResult } from '../engine/verifier/index.ts';
import type { RunRequest } from '../harness/backend.ts';
import { createEngineBackend } from '../harness/backends/engine.ts';
import { jitVerified } from '../engine/jit/jited.ts';

const I = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });
const mov = (dst: number, imm: number): Insn => I(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
const exit = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
const prog = (insns: Insn[]): Program => ({ name: 'p', progType: 'SOCKET_FILTER', insns, maps: [], funcs: [], license: 'GPL', flags: 0 });

function req(program: Program): RunRequest {
  return { program, auxiliary: [], logLevel: 0, flags: 0, unpriv: false, series: 'none', execute: false, wantXlated: false, wantJited: true };
}

const accepted = (xlated: Insn[] | undefined, depths: number[]): VerifyResult => ({
  accepted: true, errno: 0, log: '', ...(xlated ? { xlated } : {}),
  subprogs: depths.map((d, k) => ({ start: k, stackDepth: d, argCount: 0, stackArgIn: 0, stackArgOut: 0 })),
  stats: { processedInsns: 0, totalStates: 0, peakStates: 0 },
});

t.test('jited text of an accepted program: prologue, body, return thunk', async (t) => {
  const b = createEngineBackend({ verify: () => accepted([mov(0, 7), exit], [0]) });
  const o = await b.run(req(prog([mov(0, 7), exit])));
  t.equal(o.unsupported, undefined);
  const lines = (o.jited ?? '').split('\n').map((l) => l.split('\t').slice(2).join('\t').trim()).filter(Boolean);
  t.same(lines, ['nopl	(%rax,%rax)', 'nopl	(%rax)', 'pushq	%rbp', 'movq	%rsp, %rbp', 'movl	$0x7, %eax', 'leave', 'jmp	0x10000017'], 'instruction text');
  t.match(o.jited ?? '', /^func #0:\n0:\t0f 1f 44 00 00 /, 'header and offsets');
});

t.test('calls to kernel symbols point outside the image (no spurious labels)', async (t) => {
  const p = prog([I(BPF_JMP | BPF_CALL, 0, 0, 0, 7), exit]); // bpf_get_prandom_u32
  const j = jitVerified(p, accepted([...p.insns], [0]));
  t.notMatch(j.text, /L\d+:/, 'no label: the helper is not a branch into the image');
  t.match(j.text, /callq\t0x[0-9a-f]+\n/);
  t.equal(j.input, 'xlated');
});

t.test('bpf-to-bpf calls: the xlated dump form (target in off) and the loaded form (in imm)', async (t) => {
  // main: call sub; exit. sub: r0 = 3; exit.
  const dump = [I(BPF_JMP | BPF_CALL, 0, 1, 1, 1), exit, mov(0, 3), exit];
  const loaded = [I(BPF_JMP | BPF_CALL, 0, 1, 0, 1), exit, mov(0, 3), exit];
  const a = jitVerified(prog(loaded), accepted(dump, [0, 0]));
  const b = jitVerified(prog(loaded), accepted(undefined, [0, 0]));
  t.equal(a.input, 'xlated');
  t.equal(b.input, 'original');
  t.same(a.image.funcLens, b.image.funcLens, 'same functions either way');
  t.equal(a.text, b.text);
  t.match(a.text, /func #1:/);
});

t.test('a program the JIT cannot translate is unsupported, not a crash', async (t) => {
  const bad = prog([I(0xff, 0, 0, 0, 0), exit]);
  const o = await createEngineBackend({ verify: () => accepted([...bad.insns], [0]) }).run(req(bad));
  t.match(o.unsupported ?? '', /^JIT: unknown opcode ff/);
  t.equal(o.jited, undefined);
});
