// Unit tests of the assembler's less obvious rules: operands and bindings, clang's "r"
// operand register choice, the kernel-log dialect, stack-argument registers, linking in
// libbpf order, and error messages with their file positions.

import t from 'tap';
import { assemble, assembleFunction, linkProgram, type Binding } from '../engine/isa/asm/index.ts';
import { InputError } from '../engine/errors.ts';
import { encodeHex } from '../engine/isa/encode.ts';

const hex = (text: string, bindings: Record<string, Binding> = {}): string[] => encodeHex(assemble(text, { bindings }));

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof InputError) return e.format();
    throw e;
  }
  return 'no error';
}

t.test('bindings', async (t) => {
  const b: Record<string, Binding> = {
    map: { kind: 'map', index: 3 },
    c: { kind: 'const', value: -8n },
    insn: { kind: 'const', value: 0x00000007000001b7n },
    kf: { kind: 'kfunc', btfId: 4242, name: 'bpf_kfunc_call_test1' },
    cb: { kind: 'func', label: 'cb' },
  };
  t.same(hex('r1 = %[map] ll', b), ['1811000003000000', '0000000000000000'], 'map -> BPF_PSEUDO_MAP_FD, imm = index');
  t.same(hex('call %[bpf_map_lookup_elem]', b), ['8500000001000000'], 'helper operands bind by name');
  t.same(hex('r0 = *(u64 *)(r10 %[c])', b), ['79a0f8ff00000000'], 'a const operand is substituted like a number');
  t.same(hex('r0 = *(u64 *)(r10 + %[c])', b), ['79a0f8ff00000000'], '`+ -8` is accepted');
  t.same(hex('.8byte %[insn]', b), ['b701000007000000'], '.8byte of an __imm_insn value is the raw instruction');
  t.same(hex('call %[kf]', b), ['8520000092100000'], 'kfunc -> BPF_PSEUDO_KFUNC_CALL with the BTF id');
  t.same(hex('call %[cb]; exit; cb: r0 = 0; exit', b), ['8510000001000000', '9500000000000000', 'b700000000000000', '9500000000000000'],
    'func -> pseudo call to the label');
  t.same(hex('r2 = %[cb] ll; exit; cb: exit', b), ['1842000002000000', '0000000000000000', '9500000000000000', '9500000000000000'],
    'func ll -> BPF_PSEUDO_FUNC ld_imm64, imm relative like a call');
  t.match(errorOf(() => assemble('call %[nope]')), /^1:6: unbound operand %\[nope\]$/);
  t.match(errorOf(() => assemble('r1 = %[map]', { bindings: b })), /needs 'll'/);
});

t.test('clang "r" operands: the register is picked like clang-19 does', async (t) => {
  const b: Record<string, Binding> = { cb: { kind: 'func', label: 'cb' }, cb2: { kind: 'func', label: 'cb2' } };
  const text = 'r2 = %[cb]; r3 = %[cb2]; exit; cb: exit; cb2: exit';
  const common = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'memory'];
  const p = assemble(text, { bindings: b, clobbers: common });
  t.same(p.slice(0, 4).map((i) => [i.code, i.dst, i.src]), [[0x18, 6, 4], [0x18, 7, 4], [0xbf, 2, 6], [0xbf, 3, 7]],
    '__clobber_common: r6 and r7 are loaded first, then moved');
  const none = assemble(text, { bindings: b });
  t.same([none[0].dst, none[1].dst], [1, 2], 'no clobbers: r1, r2 (clang order r1..r5, r0, r6..r9)');
  const noR1to5 = assemble(text, { bindings: b, clobbers: ['r1', 'r2', 'r3', 'r4', 'r5'] });
  t.same([noR1to5[0].dst, noR1to5[1].dst], [0, 6], 'r0 comes after r5');
  t.match(errorOf(() => assemble(text, { bindings: b, clobbers: ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9'] })),
    /requires more registers than available/);
});

t.test('kernel log dialect', async (t) => {
  t.same(hex('0: (b7) r0 = 7\n1: (95) exit'), ['b700000007000000', '9500000000000000'], 'index and opcode prefixes');
  t.same(hex('(18) r1 = 0x5'), ['1801000005000000', '0000000000000000'], '(18) makes a small constant an ld_imm64');
  t.same(hex('r1 = 0x5'), ['b701000005000000'], 'without the prefix it is a mov, as in llvm-mc');
  t.same(hex('r1 = map[id:7]'), ['1811000007000000', '0000000000000000'], 'map[id:N] is map index N');
  t.same(hex('r1 = map[id:7][0]+16'), ['1821000007000000', '0000000010000000'], 'map[id:N][0]+M is a map value');
  t.same(hex('if w1 s> 0xfffffffb goto pc-2'), ['6601fefffbffffff'], 'log hex immediates wrap to 32 bits');
  t.same(hex('call bpf_map_lookup_elem#1; call unknown#300; call kernel-function#77; call pc+2'),
    ['8500000001000000', '850000002c010000', '852000004d000000', '8510000002000000'], 'call texts');
  t.match(errorOf(() => assemble('call bpf_map_lookup_elem#2')), /has id 1, not 2/);
  t.same(hex('r0 = atomic64_fetch_add((u64 *)(r10 -8), r0)'), ['db0af8ff01000000'], 'fetch-add text');
  t.same(hex('lock *(u32 *)(r10 -8) += w1'), ['c31af8ff00000000'], 'lock with a w register');
  t.same(hex('r0 = *(u32 *)skb[r1 + 4]'), ['4010000004000000'], 'LD_IND with an offset');
  t.match(errorOf(() => assemble('(b7) r0 = r1')), /opcode prefix \(b7\) does not match the instruction's opcode \(bf\)/);
});

t.test('stack-argument registers and raw register numbers', async (t) => {
  t.same(hex('*(u64 *)(r11 - 8) = r1; r0 = *(u64 *)(r11 + 8)'), ['7b1bf8ff00000000', '79b0080000000000'], 'merged: r11');
  t.same(hex('*(u64 *)(r12 - 8) = 7; r0 = *(u64 *)(r12 + 8)'), ['7a0cf8ff07000000', '79c0080000000000'], 'v4: r12');
  t.same(hex('r15 = r13'), ['bfdf000000000000'], 'r13..r15 encode too');
  t.equal(errorOf(() => assemble('r1 = 1\n  r16 = 2', { file: 'specs/x.yaml', line: 13, col: 6 })),
    "specs/x.yaml:14:9: unknown register 'r16'", 'file position of a bad register');
});

t.test('template details', async (t) => {
  t.same(hex('r0 s%%= 3; r0 %%= r1; w0 s%= w1'), ['9700010003000000', '9f10000000000000', '9c10010000000000'], '%% is %');
  t.same(hex('l0_%=: r0 = 0; if r0 == 0 goto l0_%=; exit'), ['b700000000000000', '1500feff00000000', '9500000000000000'], '%= labels');
  t.equal(errorOf(() => assemble('goto l3_%=')), "1:6: undefined label 'l3_%='");
  t.equal(errorOf(() => assemble('r0 = 0\n.rept 2\nr0 += 1')), '2:1: unterminated .rept');
  t.equal(errorOf(() => assemble('goto +40000')), '1:6: jump offset out of range (40000)');
  t.equal(errorOf(() => assemble('l:\n.rept 40000\nr0 = 0\n.endr\ngoto l')), '5:6: jump offset out of range (-40001)');
  t.equal(errorOf(() => assemble('.byte 1\nexit')), '1:1: data before this instruction does not fill whole 8-byte slots');
  t.match(errorOf(() => assemble('.rept 2000000\nr0 = 0\n.endr')), /expands to more than 1000000 statements/);
  t.equal(errorOf(() => assemble('call foo')), "1:6: unknown function 'foo'");
  t.same(hex('call bpf_ktime_get_ns'), ['8500000005000000'], 'a helper by name');
});

t.test('linkProgram lays functions out in libbpf order', async (t) => {
  const fn = (name: string, text: string) => assembleFunction(text, { name, externs: ['a', 'b', 'c', 'd'] });
  const main = fn('main', 'call a; call b; r1 = d ll; exit');
  const lib = new Map([
    ['a', fn('a', 'call c; exit')],
    ['b', fn('b', 'call a; exit')],
    ['c', fn('c', 'r0 = 3; exit')],
    ['d', fn('d', 'r0 = 4; exit')],
  ]);
  const { insns, funcs } = linkProgram(main, lib);
  t.same(funcs, [
    { name: 'main', start: 0 }, { name: 'a', start: 5 }, { name: 'c', start: 7 }, { name: 'b', start: 9 }, { name: 'd', start: 11 },
  ], 'depth first: a, then a\'s callee c, then b, then d');
  t.same(insns.map((i) => i.imm).slice(0, 3), [4, 7, 8], 'call/func imms are slot distances from the next slot');
  t.equal(insns[4].imm, 1, 'a (slot 5) calls c (slot 7)');
  t.equal(insns[8].imm, -5, 'b (slot 9) calls a (slot 5) backwards');
  t.equal(errorOf(() => linkProgram(assembleFunction('call zz; exit'), lib)), "1:6: undefined function 'zz'", 'unresolved at link time');
  t.equal(errorOf(() => fn('main', 'call zz; exit')), "1:6: unknown function 'zz'", 'not in externs: rejected at once');
});
