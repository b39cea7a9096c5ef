// Native execution of the JIT's output in child processes, against the interpreter.

import t from 'tap';
import { NativePool } from '../engine/jit/native/pool.ts';
import { runProgram } from '../engine/runtime/index.ts';
import type { Program } from '../engine/program/types.ts';
import { jitCases } from './fixtures/jit-programs.ts';
import { ldImm64 } from '../engine/isa/insn.ts';

const noNative = process.arch !== 'x64' || process.platform !== 'linux' ? 'native x86-64 execution needs linux/x64' : false;

const NATIVE_OK = /^(alu|end_|ld_imm64|ret_|uses_|stx_|st_|ldx_|stack_depth|atomic_|acq_rel|jmp|jcc_|ja_|loop_|gotol|multi_exit|jump_chain|helper_prandom|subprog_|map_array_lookup)/;

const prog = (name: string, insns: Program['insns']): Program => ({ name, progType: 'SOCKET_FILTER', insns, maps: [], funcs: [], license: 'GPL', flags: 0 });

t.test('native runs agree with the interpreter', { skip: noNative }, async (t) => {
  const pool = new NativePool({ size: 1 });
  t.teardown(() => pool.close());
  const cases = jitCases().filter((c) => NATIVE_OK.test(c.prog.name));
  t.ok(cases.length >= 150, `${cases.length} programs`);
  let agree = 0;
  for (const c of cases) {
    const want = runProgram(c.prog, { seed: 1 });
    const got = await pool.run(c.prog, { seed: 1 });
    if (got.ok === want.ok && got.retval === want.retval) agree++;
    else t.fail(`${c.prog.name}: interpreter ${want.ok ? want.retval : want.fault}, native ${got.ok ? got.retval : got.error}`);
  }
  t.equal(agree, cases.length, `${agree}/${cases.length} agree`);
});

t.test('division edge cases: by zero, INT_MIN / -1, 32-bit zero extension', { skip: noNative }, async (t) => {
  const pool = new NativePool();
  t.teardown(() => pool.close());
  const I = (code: number, dst: number, src: number, off: number, imm: number) => ({ code, dst, src, off, imm });
  const progs: Program[] = [];
  for (const [a, b] of [[7n, 0n], [-(1n << 63n), -1n], [-(1n << 31n), -1n], [-7n, 2n], [0xffffffff_00000005n, 0n]]) {
    for (const code of [0x3f, 0x9f, 0x3c, 0x9c]) { // div/mod by register, 64 and 32 bit
      for (const off of [0, 1]) { // unsigned, signed
        progs.push(prog(`op_${code.toString(16)}_s${off}_${a}_${b}`, [ldImm64(0, a), ldImm64(1, b), I(code, 0, 1, off, 0), I(0x95, 0, 0, 0, 0)]));
      }
    }
  }
  for (const p of progs) {
    const want = runProgram(p);
    const got = await pool.run(p);
    t.same({ ok: got.ok, retval: got.retval }, { ok: want.ok, retval: want.retval }, p.name);
  }
});

t.test('a crash in native code is a failed result naming the signal; the pool carries on', { skip: noNative }, async (t) => {
  const pool = new NativePool();
  t.teardown(() => pool.close());
  // Not verified: loads through address 16.
  const bad = prog('segv', [{ code: 0xb7, dst: 1, src: 0, off: 0, imm: 16 }, { code: 0x79, dst: 0, src: 1, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
  const r = await pool.run(bad);
  t.equal(r.ok, false);
  t.equal(r.signal, 'SIGSEGV', r.error ?? 'no error text');
  const good = await pool.run(prog('after', [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 42 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]));
  t.same({ ok: good.ok, retval: good.retval }, { ok: true, retval: 42n }, 'the next program runs in a fresh worker');
  const unsupported = await pool.run({ ...prog('no_such_helper', [{ code: 0x85, dst: 0, src: 0, off: 0, imm: 199 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]) });
  t.equal(unsupported.ok, false, 'an unsupported helper is an error, not a crash');
  t.match(unsupported.error ?? '', /helper #199 is not available/);
});
