// Byte parity of engine/jit/x86_64 (kernel mode) with the live 6.18 kernel's JIT.
// The fixture holds, per program, the kernel's xlated program (our JIT's input), the
// verifier's stack depths and the kernel's image. We JIT the kernel's xlated program and
// compare bytes, masking only fields that hold addresses of things outside the image
// (helpers, thunks, maps); bpf-to-bpf call offsets are checked exactly against the
// recorded function addresses. When run as root, a sample is also re-checked live.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { decode } from '../engine/isa/decode.ts';
import type { Insn } from '../engine/isa/insn.ts';
import { replayKernelJit, type ImageDiff, type KernelConfig, type Replay } from '../engine/jit/x86_64/index.ts';
import type { ProgType } from '../engine/program/types.ts';
import { environmentSkip } from '../engine/kernel/load.ts';
import { jitCases } from './fixtures/jit-programs.ts';
import type { OracleEntry, OracleFile } from '../scripts/record-jit-oracle.ts';
import { recordOne } from '../scripts/record-jit-oracle.ts';

const oracle = JSON.parse(readFileSync(new URL('./fixtures/jit-kernel-oracle.json', import.meta.url), 'utf8')) as OracleFile;

/** Programs we know we do not match yet, with the cause. Empty: every recorded program matches. */
const KNOWN_MISMATCHES: Record<string, string> = {};

const isTailCallDump = (i: Insn): boolean => i.code === 0x85 && i.src === 0 && i.imm === 12;

function replayFull(e: OracleEntry, config: Partial<KernelConfig> = {}): Replay {
  const xlated = new Uint8Array(Buffer.from(e.xlated!, 'hex'));
  const direct = new Set<number>();
  if (e.directTailCalls) decode(xlated).forEach((insn, k) => isTailCallDump(insn) && direct.add(k));
  return replayKernelJit({
    xlated, stackDepths: e.stackDepths!, jited: new Uint8Array(Buffer.from(e.jited!, 'hex')), funcLens: e.funcLens!,
    ksyms: e.ksyms!.map((a) => BigInt(a)), progType: (e.progType ?? 'SOCKET_FILTER') as ProgType,
    ...(e.expectedAttachType ? { expectedAttachType: e.expectedAttachType } : {}),
    arenaMapIds: new Set(e.arenaMapIds ?? []), directTailCalls: direct,
  }, { config });
}

const replay = (e: OracleEntry, config: Partial<KernelConfig> = {}): ImageDiff => replayFull(e, config).diff;

const loaded = oracle.entries.filter((e) => e.loaded);

t.test('the fixture covers the catalogue and specs/, and the kernel accepted every catalogue program', async (t) => {
  const catalogue = oracle.entries.filter((e) => !e.name.startsWith('spec/'));
  t.same(catalogue.map((e) => e.name), jitCases().map((c) => c.prog.name), 'one entry per program in test/fixtures/jit-programs.ts');
  t.same(catalogue.filter((e) => !e.loaded).map((e) => e.name), [], 'no rejected catalogue programs');
  const specs = oracle.entries.filter((e) => e.name.startsWith('spec/') && e.loaded);
  t.ok(specs.length >= 50, `${specs.length} accepted spec programs recorded`);
  t.ok(loaded.length >= 250, `${loaded.length} programs recorded`);
});

t.test('kernel-mode image equals the kernel JIT image (masked) for every recorded program', async (t) => {
  let equal = 0;
  const failures: string[] = [];
  for (const e of loaded) {
    let d: ImageDiff;
    try {
      d = replay(e);
    } catch (err) {
      failures.push(`${e.name}: ${(err as Error).message}`);
      continue;
    }
    if (d.equal) equal++;
    else if (!(e.name in KNOWN_MISMATCHES)) failures.push(`${e.name}: first difference at byte ${d.firstDiff} (func ${d.func}), lens ${d.ours} vs ${d.theirs}`);
  }
  t.same(failures, [], 'no unexpected mismatches');
  const rate = equal / loaded.length;
  t.ok(rate >= 0.95, `parity ${equal}/${loaded.length} = ${(rate * 100).toFixed(1)}%`);
  t.comment(`byte parity: ${equal}/${loaded.length}`);
});

t.test('the comparison is not vacuous', async (t) => {
  const shifts = loaded.find((e) => e.name === 'alu64_lsh_x')!;
  t.ok(replay(shifts).equal, 'with BMI2 (as on the recording CPU) shifts by register match');
  t.notOk(replay(shifts, { bmi2: false }).equal, 'without BMI2 the shl-by-cl form does not');
  const ret = loaded.find((e) => e.name === 'ret_imm')!;
  const corrupted = { ...ret, jited: ret.jited!.replace('b807000000', 'b808000000') };
  t.not(corrupted.jited, ret.jited, 'the immediate is in the image');
  t.notOk(replay(corrupted).equal, 'a changed immediate is caught');
  t.notOk(replay(ret, { ibt: true }).equal, 'an IBT build would differ (endbr64)');
  const sub = loaded.find((e) => e.name === 'subprog_far')!;
  const wrongAddrs = { ...sub, ksyms: sub.ksyms!.map((a, k) => (k === 1 ? '0x' + (BigInt(a) + 16n).toString(16) : a)) };
  t.notOk(replay(wrongAddrs).equal, 'bpf-to-bpf call offsets are compared exactly');
});

t.test('forms the dump hides: recovered exactly where the catalogue says, and only there', async (t) => {
  const hidden = new Map(jitCases().map((c) => [c.prog.name, c.hiddenForms]));
  for (const e of loaded) {
    if (e.name.startsWith('spec/')) continue;
    const r = replayFull(e);
    const want = hidden.get(e.name);
    if (want) t.ok(r.recovered.length > 0 && r.diff.equal, `${e.name}: ${want} recovered (${r.recovered.join(', ')})`);
    else if (r.recovered.length) t.fail(`${e.name}: unexpected recovery ${r.recovered.join(', ')}`);
  }
  // Without recovery the hidden forms differ: the comparison sees them.
  for (const [name, want] of hidden) {
    if (!want) continue;
    const e = loaded.find((x) => x.name === name);
    if (!e) continue;
    const xlated = new Uint8Array(Buffer.from(e.xlated!, 'hex'));
    const direct = new Set<number>();
    if (e.directTailCalls) decode(xlated).forEach((insn, k) => isTailCallDump(insn) && direct.add(k));
    const plain = replayKernelJit({
      xlated, stackDepths: e.stackDepths!, jited: new Uint8Array(Buffer.from(e.jited!, 'hex')), funcLens: e.funcLens!,
      ksyms: e.ksyms!.map((a) => BigInt(a)), progType: e.progType as ProgType, arenaMapIds: new Set(e.arenaMapIds ?? []), directTailCalls: direct,
    }, { recover: false });
    t.notOk(plain.diff.equal, `${name}: the dump alone does not give the kernel's bytes`);
  }
});

t.test('private stack (6.18): decided from the program type and depths, never recovered', async (t) => {
  const byName = new Map(loaded.map((e) => [e.name, e]));
  const priv = (name: string): boolean[] => replayFull(byName.get(name)!).funcs.map((f) => !!f.privateStack);
  t.same(priv('priv_stack_tracepoint'), [true]);
  t.same(priv('priv_stack_kprobe_regs'), [true]);
  t.same(priv('priv_stack_depth_56'), [true], 'depth 56 rounds up to 64');
  t.same(priv('priv_stack_depth_48'), [false]);
  t.same(priv('priv_stack_subprog'), [false, true, true]);
  t.same(priv('priv_stack_off_tail_call'), [false], 'a tail call turns it off');
  t.same(priv('priv_stack_off_socket'), [false], 'not for socket filters');
  for (const n of ['priv_stack_tracepoint', 'priv_stack_subprog']) t.ok(replay(byName.get(n)!).equal, `${n} matches the kernel`);
});

t.test('convergence: short and long jump forms switch at +123 bytes as in the kernel', async (t) => {
  // jcc_fwd_N jumps over N 4-byte instructions: 30 -> 120 bytes (short), 31 -> 124 (long).
  for (const [name, short] of [['jcc_fwd_30', true], ['jcc_fwd_31', false]] as const) {
    const e = loaded.find((x) => x.name === name)!;
    const code = Buffer.from(e.jited!, 'hex');
    t.equal(code.includes(Buffer.from([0x0f, 0x87])), !short, `${name}: ${short ? 'ja rel8' : 'ja rel32'}`);
    t.ok(replay(e).equal, `${name} matches`);
  }
});

const skip = environmentSkip({});
t.test('live: JIT the kernel\'s own xlated output of a sample of programs', { skip: skip ?? false }, async (t) => {
  const cases = jitCases().filter((_, k) => k % 7 === 0);
  for (const c of cases) {
    const e = recordOne(c);
    t.ok(e.loaded, `${c.prog.name} loads`);
    if (!e.loaded) continue;
    const d = replay(e);
    t.ok(d.equal, `${c.prog.name} matches live (lens ${d.ours} vs ${d.theirs})`);
  }
});
