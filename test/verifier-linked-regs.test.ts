// Linked scalars with a constant delta (checks/linked-regs.ts): the link rule after `+= K`,
// its printing, copies breaking it, and sync_linked_regs shifting bounds. Whole programs (logs
// compared with the live 6.18 kernel) are in specs/linked_regs.yaml.

import t from 'tap';
import { BPF_ADD, BPF_SUB, BPF_MUL, BPF_MOV, BPF_AND } from '../engine/isa/opcodes.ts';
import {
  ADD_CONST32, ADD_CONST64, assignScalarIdBeforeMov, baseId, linkAfterAlu, scalarIdStr, syncLinked,
} from '../engine/verifier/checks/linked-regs.ts';
import { newVerifierState, markScalar } from '../engine/verifier/state/regs.ts';
import { scalarConst, scalarUnknown, scalarAlu } from '../engine/verifier/scalar-api.ts';
import type { ScalarBounds } from '../engine/verifier/scalar-api.ts';
import type { RegState } from '../engine/verifier/state/types.ts';
import type { VerifierEnv } from '../engine/verifier/env.ts';

// linkAfterAlu and assignScalarIdBeforeMov read only these two fields of the environment.
const envOf = (bpfCapable = true): VerifierEnv => ({ bpfCapable, idGen: 10 }) as unknown as VerifierEnv;

/** r = unknown scalar bounded by `s`, with link id `id`. */
function scalar(s: ScalarBounds, id = 0): RegState {
  const st = newVerifierState();
  const r = st.frames[0].regs[1];
  markScalar(r, s);
  r.id = id;
  return r;
}

const u32Range = (): ScalarBounds => scalarAlu(BPF_MOV, false, scalarUnknown(), scalarUnknown(), 0);

t.test('64-bit += K and -= K link with the signed constant', async (t) => {
  const env = envOf();
  const r = scalar(scalarUnknown());
  linkAfterAlu(env, r, BPF_ADD, true, 3, 0n, scalarConst(5n));
  t.equal(r.id, 3 | ADD_CONST64);
  t.equal(r.off, 5);
  t.equal(scalarIdStr(r), '3+5');
  const s = scalar(scalarUnknown());
  linkAfterAlu(env, s, BPF_SUB, true, 3, 0n, scalarConst(4n));
  t.equal(s.off, -4);
  t.equal(scalarIdStr(s), '3-4');
  const z = scalar(scalarUnknown());
  linkAfterAlu(env, z, BPF_ADD, true, 3, 0n, scalarConst(0n));
  t.equal(scalarIdStr(z), '3+0', 'a zero delta is still an offset link');
});

t.test('the link is dropped when it cannot be recorded', async (t) => {
  const env = envOf();
  const cases: [string, () => RegState][] = [
    ['second add', () => { const r = scalar(scalarUnknown()); linkAfterAlu(env, r, BPF_ADD, true, 3 | ADD_CONST64, 0n, scalarConst(1n)); return r; }],
    ['constant beyond s32', () => { const r = scalar(scalarUnknown()); linkAfterAlu(env, r, BPF_ADD, true, 3, 0n, scalarConst(0x80000000n)); return r; }],
    ['-= S32_MIN', () => { const r = scalar(scalarUnknown()); linkAfterAlu(env, r, BPF_SUB, true, 3, 0n, scalarConst(-0x80000000n)); return r; }],
    ['non-constant operand', () => { const r = scalar(scalarUnknown()); linkAfterAlu(env, r, BPF_ADD, true, 3, 0n, scalarUnknown()); return r; }],
    ['other op', () => { const r = scalar(scalarUnknown()); linkAfterAlu(env, r, BPF_MUL, true, 3, 0n, scalarConst(2n)); return r; }],
    ['unprivileged', () => { const r = scalar(scalarUnknown()); linkAfterAlu(envOf(false), r, BPF_ADD, true, 3, 0n, scalarConst(2n)); return r; }],
    ['alu32 on a 64-bit value', () => { const r = scalar(scalarUnknown()); linkAfterAlu(env, r, BPF_ADD, false, 3, (1n << 64n) - 1n, scalarConst(1n)); return r; }],
  ];
  for (const [what, run] of cases) {
    const r = run();
    t.equal(r.id, 0, what);
    t.equal(r.off, 0, what);
  }
});

t.test('alu32 links a 32-bit value with its own flag', async (t) => {
  const r = scalar(u32Range());
  linkAfterAlu(envOf(), r, BPF_ADD, false, 7, 0xffffffffn, scalarConst(-1n));
  t.equal(r.id, 7 | ADD_CONST32);
  t.equal(r.off, -1, 'the low 32 bits of the operand, signed');
  t.equal(baseId(r.id), 7);
});

t.test('copying an offset register first breaks its link', async (t) => {
  const env = envOf();
  const r = scalar(scalarUnknown(), 2 | ADD_CONST64);
  r.off = 8;
  assignScalarIdBeforeMov(env, r);
  t.equal(r.id, 11, 'a fresh id for the source and its copy');
  t.equal(r.off, 0);
  const k = scalar(scalarConst(4n));
  assignScalarIdBeforeMov(env, k);
  t.equal(k.id, 0, 'constants need no link');
});

t.test('sync shifts the narrowed bounds by the difference of the constants', async (t) => {
  const st = newVerifierState();
  const regs = st.frames[0].regs;
  const narrowed = scalarAlu(BPF_AND, true, scalarUnknown(), scalarConst(7n), 0); // [0, 7]
  markScalar(regs[0], narrowed);
  regs[0].id = 1;
  markScalar(regs[1], scalarUnknown());
  regs[1].id = 1 | ADD_CONST64;
  regs[1].off = 4;
  markScalar(regs[2], scalarUnknown());
  regs[2].id = 1 | ADD_CONST64;
  regs[2].off = 0;
  markScalar(regs[3], scalarUnknown());
  regs[3].id = 1 | ADD_CONST32;
  regs[3].off = 1;
  markScalar(regs[4], scalarUnknown());
  regs[4].id = 2;
  const linked = [0, 1, 2, 3, 4].map((n) => ({ frameno: 0, n, isReg: true }));
  syncLinked(st, regs[0], linked);
  t.equal(regs[1].s.umin, 4n);
  t.equal(regs[1].s.umax, 11n);
  t.equal(regs[1].id, 1 | ADD_CONST64, 'a shifted member keeps its own id and constant');
  t.equal(regs[1].off, 4);
  t.equal(regs[2].id, 1, 'same distance: a plain copy of the known register');
  t.equal(regs[2].s.umax, 7n);
  t.equal(regs[3].s.umax, 8n, 'a 32-bit link syncs with a plain base (zero-extended)');
  t.equal(regs[4].s.umin, 0n);
  t.equal(regs[4].s.umax, (1n << 64n) - 1n, 'another link is untouched');

  // Known r3 (32-bit link, off 1) = 0: the base is 0xffffffff after the 32-bit wrap; a
  // 64-bit member of the same base is not synced across widths.
  const st2 = newVerifierState();
  const g = st2.frames[0].regs;
  markScalar(g[3], scalarConst(0n));
  g[3].id = 1 | ADD_CONST32;
  g[3].off = 1;
  markScalar(g[6], u32Range());
  g[6].id = 1;
  markScalar(g[8], u32Range());
  g[8].id = 1 | ADD_CONST64;
  g[8].off = 2;
  syncLinked(st2, g[3], [3, 6, 8].map((n) => ({ frameno: 0, n, isReg: true })));
  t.equal(g[6].s.umin, 0xffffffffn);
  t.equal(g[6].s.umax, 0xffffffffn);
  t.equal(g[8].s.umax, 0xffffffffn, 'mixed widths: left alone');
});
