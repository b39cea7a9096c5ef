// formatJited / insn text on hand-picked bytes: the LLVM quirks it reproduces (each expected
// text below is what libLLVM 19 printed for those bytes), label numbering, the line layout,
// and bad input. When libLLVM is installed, every single-instruction case is also re-checked
// against it.

import t from 'tap';
import type { Test } from 'tap';
import { Decoder, DecoderOptions } from 'iced-x86';
import { formatFunction, formatJited, hexSigned, insnText } from '../engine/jit/x86-disasm.ts';
import { InputError } from '../engine/errors.ts';
import { llvmAvailable, llvmInsnText, llvmJitedText } from './lib/x86-disasm-llvm.ts';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));

/** Text of the first instruction of `hex` decoded at pc 0, branch targets as absolute hex. */
function one(hex: string): string {
  const d = new Decoder(64, bytes(hex), DecoderOptions.None);
  d.ip = 0n;
  const ins = d.decode();
  try {
    return insnText(ins, (tgt) => `0x${tgt.toString(16)}`);
  } finally {
    ins.free();
    d.free();
  }
}

const CASES: [string, string][] = [
  ['0f1f440000', '\tnopl\t(%rax,%rax)'],
  ['0f1f00', '\tnopl\t(%rax)'],
  ['55', '\tpushq\t%rbp'],
  ['4889e5', '\tmovq\t%rsp, %rbp'],
  ['c9', '\tleave'],
  ['c3', '\tretq'],
  ['cc', '\tint3'],
  ['0faee8', '\tlfence'],
  ['f30f1efa', '\tendbr64'],
  ['e800000000', '\tcallq\t0x5'],
  ['ffd0', '\tcallq\t*%rax'],
  ['41ffd3', '\tcallq\t*%r11'],
  ['e9f8351ec2', '\tjmp\t0xffffffffc21e35fd'],
  ['7504', '\tjne\t0x6'],
  // immediates: 8-bit encodings sign-extend, 16/32-bit keep the operand-size value,
  // imm32 of a 64-bit operand sign-extends
  ['83c0fc', '\taddl\t$-0x4, %eax'],
  ['4883c0fc', '\taddq\t$-0x4, %rax'],
  ['b0ff', '\tmovb\t$-0x1, %al'],
  ['c645f8ff', '\tmovb\t$-0x1, -0x8(%rbp)'],
  ['66c745f8ffff', '\tmovw\t$0xffff, -0x8(%rbp)'],
  ['6681c0ffff', '\taddw\t$0xffff, %ax'],
  ['41b8ffffffff', '\tmovl\t$0xffffffff, %r8d'],
  ['81fb93a09895', '\tcmpl\t$0x9598a093, %ebx'],
  ['48c7c0ffffffff', '\tmovq\t$-0x1, %rax'],
  ['48be00c2be0a8188ffff', '\tmovabsq\t$-0x777ef5413e00, %rsi'],
  ['68ffffffff', '\tpushq\t$-0x1'],
  // imul keeps all three operands; shifts by one print no count
  ['486bc003', '\timulq\t$0x3, %rax, %rax'],
  ['4569f671beffff', '\timull\t$0xffffbe71, %r14d, %r14d'],
  ['d1e0', '\tshll\t%eax'],
  ['48d1fb', '\tsarq\t%rbx'],
  ['c1e001', '\tshll\t$0x1, %eax'],
  ['d3e0', '\tshll\t%cl, %eax'],
  ['66c1c008', '\trolw\t$0x8, %ax'],
  // memory forms
  ['8b4600', '\tmovl\t(%rsi), %eax'],
  ['488b85f0ffffff', '\tmovq\t-0x10(%rbp), %rax'],
  ['65480304252 8e0b083'.replace(' ', ''), '\taddq\t%gs:-0x7c4f1fd8, %rax'],
  ['480fb6460c', '\tmovzbq\t0xc(%rsi), %rax'],
  ['4c637ef8', '\tmovslq\t-0x8(%rsi), %r15'],
  ['66418 95e14'.replace(' ', ''), '\tmovw\t%bx, 0x14(%r14)'],
  ['480fc145f8', '\txaddq\t%rax, -0x8(%rbp)'],
  ['0fb175c8', '\tcmpxchgl\t%esi, -0x38(%rbp)'],
  // a lock prefix that is not first stays on the line
  ['66f0480fc145f8', '\tlock\t\txaddq\t%rax, -0x8(%rbp)'],
];

t.test('single instructions as LLVM prints them', async (t) => {
  for (const [hex, want] of CASES) t.equal(one(hex), want, hex);
});

t.test('single instructions re-checked against libLLVM', { skip: llvmAvailable() ? false : 'libLLVM 19 is not installed' }, async (t) => {
  for (const [hex, want] of CASES) t.equal(llvmInsnText(bytes(hex)).text, want, hex);
});

t.test('hexSigned', async (t) => {
  t.equal(hexSigned(0n), '0x0');
  t.equal(hexSigned(42n), '0x2a');
  t.equal(hexSigned(-16n), '-0x10');
  t.equal(hexSigned(0xffffffffffffffffn), '-0x1', 'taken as signed 64-bit');
  t.equal(hexSigned(-(2n ** 63n)), '-0x8000000000000000');
});

const live = llvmAvailable() ? false : 'libLLVM 19 is not installed';

/** Check a function's text against the expectation and, when possible, against LLVM. */
async function checkFunction(t: Test, code: Uint8Array, want: string[]): Promise<void> {
  t.equal(formatFunction(code), want.join('\n') + '\n');
  if (!live) t.equal(llvmJitedText(code, [code.length]), `func #0:\n${want.join('\n')}\n\n`, 'libLLVM agrees');
}

const col = (bytesText: string): string => bytesText.padEnd(36, ' ');

t.test('line layout, lock split and labels', async (t) => {
  // jne to the jmp at 8; lock xadd; jmp back to 0; jmp to the end of the function (not a label)
  await checkFunction(t, bytes('7506 f0 480fc145f8 ebf6 e900000000'), [
    `0:\t${col('75 06 ')}L0:\tjne\tL1`,
    `2:\t${col('f0 ')}\tlock`,
    `3:\t${col('48 0f c1 45 f8 ')}\txaddq\t%rax, -0x8(%rbp)`,
    `8:\t${col('eb f6 ')}L1:\tjmp\tL0`,
    `a:\t${col('e9 00 00 00 00 ')}\tjmp\t0xf`,
  ]);
});

t.test('several jumps to one target: the jumps name the first entry, the line the bsearch hit', async (t) => {
  await checkFunction(t, bytes('7404 7402 eb00 c3'), [
    `0:\t${col('74 04 ')}\tje\tL0`,
    `2:\t${col('74 02 ')}\tje\tL0`,
    `4:\t${col('eb 00 ')}\tjmp\tL0`,
    `6:\t${col('c3 ')}L1:\tretq`,
  ]);
});

t.test('at most 32 labels: later targets print as addresses', async (t) => {
  const code = bytes('7400'.repeat(40) + 'c3');
  const want: string[] = [];
  for (let i = 0; i < 40; i++) {
    const label = i >= 1 && i <= 32 ? `L${i - 1}:` : '';
    const target = i < 32 ? `L${i}` : `0x${(2 * i + 2).toString(16)}`;
    want.push(`${(2 * i).toString(16)}:\t${col('74 00 ')}${label}\tje\t${target}`);
  }
  want.push(`50:\t${col('c3 ')}\tretq`);
  await checkFunction(t, code, want);
});

t.test('formatJited: one block per function, pcs restart', async (t) => {
  const text = formatJited(bytes('55 c9 c3 90 c3'), [3, 2]);
  t.equal(text, [
    'func #0:', `0:\t${col('55 ')}\tpushq\t%rbp`, `1:\t${col('c9 ')}\tleave`, `2:\t${col('c3 ')}\tretq`, '',
    'func #1:', `0:\t${col('90 ')}\tnop`, `1:\t${col('c3 ')}\tretq`, '', '',
  ].join('\n'));
  t.equal(formatJited(new Uint8Array(0), []), '', 'no functions, no text');
  if (!live) t.equal(text, llvmJitedText(bytes('55 c9 c3 90 c3'), [3, 2]), 'libLLVM agrees');
});

t.test('bad input raises InputError', async (t) => {
  t.throws(() => formatJited(bytes('c3'), [2]), InputError, 'lengths beyond the image');
  t.throws(() => formatJited(bytes('c3c3'), [1]), InputError, 'lengths short of the image');
  t.throws(() => formatJited(bytes('c3'), [-1, 2]), InputError, 'negative length');
  t.throws(() => formatJited(bytes('48 0f'), [2]), /cannot disassemble the instruction at offset 0x0: 48 0f/, 'truncated instruction');
  t.throws(() => formatJited(bytes('c3 0f 0b 06'), [4]), /func #0: cannot disassemble the instruction at offset 0x3/, 'invalid opcode in 64-bit mode');
});
