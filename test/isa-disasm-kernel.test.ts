// printInsn against the live kernel's own text: first the recorded fixture
// (scripts/record-disasm-oracle.ts), then, as root on Linux, the same corpus loaded again
// into the running kernel, which is the real oracle.

import t from 'tap';
import { decodeHex } from '../engine/isa/decode.ts';
import { printInsn } from '../engine/isa/disasm.ts';
import type { DisasmOptions } from '../engine/isa/disasm.ts';
import { ADDR, readFixture } from '../scripts/record-disasm-oracle.ts';
import type { OracleEntry } from '../scripts/record-disasm-oracle.ts';

const fixture = readFixture();

/** What the verifier would pass: the BTF name for kfuncs, the resolved address for pointers
 *  (the fixture writes every kernel address as ADDR). */
const optsFor = (e: OracleEntry): DisasmOptions => ({
  kfuncName: () => e.btf,
  immText: e.text.includes(ADDR) ? () => ADDR : undefined,
});

t.test('fixture: printInsn matches every recorded kernel text', async (t) => {
  t.ok(fixture.length >= 300, `corpus has ${fixture.length} distinct instructions (need >= 300)`);
  t.equal(new Set(fixture.map((e) => e.hex)).size, fixture.length, 'encodings are distinct');
  const mismatches: string[] = [];
  for (const e of fixture) {
    const [insn] = decodeHex([e.hex]);
    const ours = printInsn(insn, optsFor(e));
    if (ours !== e.text) mismatches.push(`${e.hex}: kernel ${JSON.stringify(e.text)}, ours ${JSON.stringify(ours)}`);
  }
  t.same(mismatches, [], `${fixture.length - mismatches.length}/${fixture.length} fixture entries match`);
  t.comment(`matched ${fixture.length - mismatches.length} of ${fixture.length} kernel-recorded instructions`);
});

t.test('fixture: covers every instruction form', async (t) => {
  const texts = fixture.map((e) => e.text);
  const has = (re: RegExp) => texts.some((x) => re.test(x));
  const forms: [string, RegExp][] = [
    ['alu32 imm', /^\(04\) w\d+ \+= -?\d+$/], ['alu64 reg', /^\(0f\) r\d+ \+= r\d+$/],
    ['neg32', /^\(84\) w(\d+) = -w\1$/], ['neg64', /^\(87\) r(\d+) = -r\1$/],
    ['sdiv', / s\/= /], ['smod', / s%= /], ['movsx8', /= \(s8\)r/], ['movsx16', /= \(s16\)w/],
    ['movsx32', /= \(s32\)r/], ['le', /= le16 r/], ['be', /= be64 r/], ['bswap', /= bswap32 r/],
    ['addr_space_cast', /addr_space_cast\(/], ['percpu', /&\(void __percpu \*\)/],
    ['jmp imm', /^\(35\) if r\d+ >= 0x[0-9a-f]+ goto pc[+-]\d+$/],
    ['jmp32 reg', /^\(ce\) if w\d+ s< w\d+ goto/], ['goto', /^\(05\) goto pc-32768$/],
    ['gotol', /^\(06\) gotol pc-40000$/], ['may_goto', /^\(e5\) may_goto pc-3$/],
    ['helper', /^\(85\) call bpf_map_lookup_elem#1$/], ['unspec', /call bpf_unspec#0/],
    ['unknown helper', /call unknown#212$/], ['pseudo call', /^\(85\) call pc-5$/],
    ['kfunc', /call bpf_cast_to_kern_ctx#\d+$/], ['exit', /^\(95\) exit$/],
    ['ld_imm64', /^\(18\) r\d+ = 0xffffffffffffffff$/], ['ld_imm64 map', /^\(18\) r\d+ = \{\{addr\}\}$/],
    ['ld_imm64 func', /^\(18\) r\d+ = 0x9$/], ['ldx', /^\(79\) r\d+ = \*\(u64 \*\)\(r\d+ [+-]\d+\)$/],
    ['ldsx', /\(s16 \*\)/], ['st', /^\(72\) \*\(u8 \*\)/], ['stx', /^\(7b\) \*\(u64 \*\)\(r10 -8\) = r1$/],
    ['lock', /^\(c3\) lock \*\(u32 \*\)\(r\d+ [+-]\d+\) \^= r\d+$/],
    ['fetch', /atomic64_fetch_and\(\(u64 \*\)/], ['xchg', /= atomic_xchg\(\(u16 \*\)/],
    ['cmpxchg', /r0 = atomic64_cmpxchg\(/], ['load_acquire', /= load_acquire\(\(u8 \*\)/],
    ['store_release', /store_release\(\(u32 \*\)/], ['atomic BUG', /^BUG_db$/],
    ['ld_abs', /skb\[-2147483648\]/], ['ld_ind', /skb\[r\d+ \+ -12\]/],
    ['r11', /\br11\b/], ['r12', /\br12\b/], ['r15', /\br15\b/], ['jcond (null)', /\(null\)/],
  ];
  for (const [name, re] of forms) t.ok(has(re), `fixture has ${name}`);
});

// ---- the live kernel ----

// Root on Linux is where CI runs; there a failing bpf() is a failure, not a skip.
const liveSkip = process.platform !== 'linux' ? 'live re-check needs Linux'
  : process.getuid?.() !== 0 ? 'live re-check needs root (bpf() as root)' : false;

t.test('live kernel: the corpus loaded again prints as printInsn says', { skip: liveSkip }, async (t) => {
  const oracle = await import('../scripts/record-disasm-oracle.ts');
  const btfIds = oracle.lookupBtfIds(oracle.KFUNC_NAMES);
  const items = oracle.itemsOf(fixture, btfIds);
  const kfuncs = fixture.filter((e) => e.btf !== undefined).length;
  t.equal(items.length, fixture.length, `every fixture entry is loadable here (${kfuncs} need BTF names, ${btfIds.size} resolved)`);
  const t0 = Date.now();
  const live = oracle.recordKernelTexts(items);
  const ms = Date.now() - t0;
  t.equal(live.length, items.length, 'the kernel listed every corpus instruction');
  const byHex = new Map(fixture.map((e) => [e.hex, e]));
  // kfunc and BTF ids are this kernel's: match those entries by name and opcode, text sans id.
  const recorded = (e: OracleEntry) => e.btf === undefined
    ? byHex.get(e.hex)
    : fixture.find((f) => f.btf === e.btf && f.hex.slice(0, 4) === e.hex.slice(0, 4));
  const sansId = (s: string) => s.replace(/#\d+$/, '');
  const bad: string[] = [];
  let same = 0;
  for (const e of live) {
    const [insn] = decodeHex([e.hex]);
    const ours = printInsn(insn, optsFor(e));
    if (ours !== e.text) bad.push(`${e.hex}: kernel ${JSON.stringify(e.text)}, ours ${JSON.stringify(ours)}`);
    const rec = recorded(e);
    if (rec && sansId(rec.text) === sansId(e.text)) same++;
    else bad.push(`${e.hex}: kernel now prints ${JSON.stringify(e.text)}, fixture has ${JSON.stringify(rec?.text)}`);
  }
  t.same(bad, [], 'live texts match printInsn and the fixture');
  t.equal(same, live.length, `the running kernel still prints what the fixture recorded (${same}/${live.length})`);
  t.comment(`live: ${live.length} instructions re-checked in ${ms} ms`);
});
