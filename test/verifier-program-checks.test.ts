// Unit tests of the pre-do_check passes and log helpers, checked against facts recorded from
// the live 6.18 kernel (test/fixtures/verifier-kernel-logs.json).

import t from 'tap';
import { readFileSync } from 'node:fs';
import { opcodeKnown } from '../engine/verifier/cfg/opcodes-valid.ts';
import { vlogAlignment } from '../engine/verifier/log/log.ts';
import { verify, NotImplementedError } from '../engine/verifier/index.ts';
import type { Program } from '../engine/program/types.ts';
import type { Insn } from '../engine/isa/insn.ts';
import { LD_IMM64 } from '../engine/isa/opcodes.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/verifier-kernel-logs.json', import.meta.url), 'utf8')) as { unknownOpcodes: number[] };

const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });
const prog = (insns: Insn[], progType: Program['progType'] = 'SOCKET_FILTER'): Program => ({ name: 't', progType, insns, maps: [], funcs: [], license: 'GPL', flags: 0 });
const run = (p: Program, logLevel = 1) => verify(p, { logLevel, unpriv: false, series: 'none' });

t.test('opcode table equals the kernel\'s', async (tt) => {
  const unknown = new Set(fixture.unknownOpcodes);
  tt.ok(unknown.size > 50, `fixture lists ${unknown.size} unknown opcodes`);
  // The kernel checks LDX reserved fields before the opcode table, so compare what the
  // verifier says for `r0 = 0; <op>; exit`, as the recorder loaded it.
  let agree = 0;
  for (let code = 0; code < 256; code++) {
    if (code === LD_IMM64) continue;
    // Reaching do_check (where a feature may be unmodelled) means the pre-pass accepted it.
    let ours = false;
    try {
      ours = run(prog([I(0xb7), I(code), I(0x95)])).log.includes('unknown opcode');
    } catch (e) {
      if (!(e instanceof NotImplementedError)) throw e;
    }
    if (ours === unknown.has(code)) agree++;
    else tt.fail(`0x${code.toString(16)}: ours ${ours}, kernel ${unknown.has(code)}`);
    if (ours) tt.notOk(opcodeKnown(code));
  }
  tt.equal(agree, 255);
});

t.test('state column alignment', async (tt) => {
  // "0: (b7) r0 = 7\n" is 15 bytes: the ';' lands in column 39 (1-based) as in the kernel log.
  tt.equal(vlogAlignment(15), 24);
  tt.equal(vlogAlignment(37), 10);
  tt.equal(vlogAlignment(40), 7);
});

t.test('empty program: E2BIG, no log', async (tt) => {
  const r = run(prog([]));
  tt.same([r.accepted, r.errno, r.log], [false, 7, '']);
});

t.test('level 4 prints time and stack depth per subprog', async (tt) => {
  const r = run(prog([I(0xb7, 1, 0, 0, 5), I(0x85, 0, 1, 0, 2), I(0x07, 0, 0, 0, 1), I(0x95), I(0xbf, 0, 1), I(0x7a, 10, 0, -16, 1), I(0x95)]), 4);
  tt.equal(r.accepted, true);
  tt.match(r.log, /^verification time \d+ usec\nstack depth 0\+16\nprocessed 7 insns/);
  tt.same(r.subprogs.map((s) => [s.start, s.stackDepth]), [[0, 0], [4, 16]]);
});

t.test('the eighth nested call frame is refused', async (tt) => {
  // main calls f1 calls f2 ... each function calls the next; the last exits.
  const insns: Insn[] = [];
  for (let i = 0; i < 8; i++) insns.push(I(0x85, 0, 1, 0, 2), I(0xb7, 0, 0, 0, 0), I(0x95));
  insns.push(I(0xb7, 0, 0, 0, 0), I(0x95));
  const r = run(prog(insns));
  tt.equal(r.accepted, false);
  tt.equal(r.errno, 7);
  tt.match(r.log, /the call stack of 9 frames is too deep\n/);
});

t.test('a bounded loop is accepted when privileged', async (tt) => {
  const r = run(prog([I(0xb7, 0, 0, 0, 0), I(0x07, 0, 0, 0, 1), I(0xa5, 0, 0, -2, 10), I(0x95)]));
  tt.equal(r.accepted, true);
  tt.equal(r.stats.processedInsns, 22);
});
