// Hand-written expectations for the disassembler: the texts people grep verifier logs for,
// the forms the 6.18 kernel never lists (unknown opcodes: the expectation comes from reading
// print_bpf_insn, since the kernel rejects them with "unknown opcode XX" first), the
// unprivileged pointer hiding, and the xlated form of selftests' test_loader.

import t from 'tap';
import { decodeHex } from '../engine/isa/decode.ts';
import { printInsn, printProgram, printXlatedInsn } from '../engine/isa/disasm.ts';
import { ldImm64 } from '../engine/isa/insn.ts';
import type { Insn } from '../engine/isa/insn.ts';

const one = (hex: string): Insn => decodeHex([hex])[0];
const text = (hex: string): string => printInsn(one(hex));

t.test('memory operands: signed offsets, +0, widths', async (t) => {
  t.equal(text('7b1af8ff00000000'), '(7b) *(u64 *)(r10 -8) = r1');
  t.equal(text('7900000000000000'), '(79) r0 = *(u64 *)(r0 +0)');
  t.equal(text('6112ff7f00000000'), '(61) r2 = *(u32 *)(r1 +32767)');
  t.equal(text('6a0a0080ffffffff'), '(6a) *(u16 *)(r10 -32768) = -1');
  t.equal(text('8921feff00000000'), '(89) r1 = *(s16 *)(r2 -2)');
  t.equal(text('91a1000000000000'), '(91) r1 = *(s8 *)(r10 +0)');
});

t.test('immediates: decimal for ALU/ST/LD_ABS, hex for jumps and ld_imm64', async (t) => {
  t.equal(text('b4000000ffffffff'), '(b4) w0 = -1');
  t.equal(text('0701000000000080'), '(07) r1 += -2147483648');
  t.equal(text('1500010000000000'), '(15) if r0 == 0x0 goto pc+1');
  t.equal(text('6601ffffffffffff'), '(66) if w1 s> 0xffffffff goto pc-1');
  t.equal(text('a601000000000800'), '(a6) if w1 < 0x80000 goto pc+0');
  t.equal(text('2d21030000000000'), '(2d) if r1 > r2 goto pc+3');
  t.equal(printInsn(ldImm64(1, -1n)), '(18) r1 = 0xffffffffffffffff');
  t.equal(printInsn(ldImm64(0, 0n)), '(18) r0 = 0x0');
  t.equal(text('200000000e000000'), '(20) r0 = *(u32 *)skb[14]');
  t.equal(text('4050000000000000'), '(40) r0 = *(u32 *)skb[r5 + 0]');
});

t.test('32-bit forms use w registers; sign-extending and signed ops', async (t) => {
  t.equal(text('bc21000000000000'), '(bc) w1 = w2');
  t.equal(text('bc21080000000000'), '(bc) w1 = (s8)w2');
  t.equal(text('bf21200000000000'), '(bf) r1 = (s32)r2');
  t.equal(text('b701080005000000'), '(b7) r1 = 5', 'movsx offsets do not change the K form');
  t.equal(text('3c21010000000000'), '(3c) w1 s/= w2');
  t.equal(text('9701010007000000'), '(97) r1 s%= 7');
  t.equal(text('3c21020000000000'), '(3c) w1 /= w2', 'only off == 1 is signed');
  t.equal(text('8401000000000000'), '(84) w1 = -w1');
  t.equal(text('c701000003000000'), '(c7) r1 s>>= 3');
});

t.test('byte order', async (t) => {
  t.equal(text('d401000010000000'), '(d4) r1 = le16 r1');
  t.equal(text('dc01000020000000'), '(dc) r1 = be32 r1');
  t.equal(text('d701000040000000'), '(d7) r1 = bswap64 r1');
});

t.test('atomics', async (t) => {
  t.equal(text('db21f8ff00000000'), '(db) lock *(u64 *)(r1 -8) += r2');
  t.equal(text('c321000041000000'), '(c3) r2 = atomic_fetch_or((u32 *)(r1 +0), r2)');
  t.equal(text('db210000a1000000'), '(db) r2 = atomic64_fetch_xor((u64 *)(r1 +0), r2)');
  t.equal(text('db210000e1000000'), '(db) r2 = atomic64_xchg((u64 *)(r1 +0), r2)');
  t.equal(text('c3210400f1000000'), '(c3) r0 = atomic_cmpxchg((u32 *)(r1 +4), r0, r2)');
  t.equal(text('d321000000010000'), '(d3) r1 = load_acquire((u8 *)(r2 +0))');
  t.equal(text('cb21000010010000'), '(cb) store_release((u16 *)(r1 +0), r2)');
  t.equal(text('c321000002000000'), 'BUG_c3', 'an imm with no atomic form');
});

t.test('calls and jumps', async (t) => {
  t.equal(text('8500000001000000'), '(85) call bpf_map_lookup_elem#1');
  t.equal(text('8500000000000000'), '(85) call bpf_unspec#0');
  t.equal(text('85000000d4000000'), '(85) call unknown#212');
  t.equal(text('8510000002000000'), '(85) call pc+2');
  t.equal(text('85100000fbffffff'), '(85) call pc-5');
  t.equal(text('8520000010000000'), '(85) call kernel-function#16', 'kfunc with no BTF name');
  t.equal(printInsn(one('8520000010000000'), { kfuncName: () => 'bpf_obj_new_impl' }), '(85) call bpf_obj_new_impl#16');
  t.equal(text('0500ffff00000000'), '(05) goto pc-1');
  t.equal(text('0600000000000100'), '(06) gotol pc+65536');
  t.equal(text('e500050000000000'), '(e5) may_goto pc+5');
  t.equal(text('9500000000000000'), '(95) exit');
});

t.test('registers print as their nibble, r11..r15 included', async (t) => {
  t.equal(text('7b1bf8ff00000000'), '(7b) *(u64 *)(r11 -8) = r1');
  t.equal(text('79c1080000000000'), '(79) r1 = *(u64 *)(r12 +8)');
  t.equal(text('bcff000000000000'), '(bc) w15 = w15');
});

t.test('forms 6.18 never lists (rejected as unknown opcode): print_bpf_insn by reading', async (t) => {
  t.equal(text('e401000005000000'), '(e4) w1 (null) 5', 'ALU op 0xe0 has no table entry');
  t.equal(text('ff21000000000000'), '(ff) r1 (null) r2');
  t.equal(text('f501000000000000'), '(f5) if r1 (null) 0x0 goto pc+0');
  t.equal(text('9600000000000000'), '(96) if w0 exit 0x0 goto pc+0', 'only JMP|EXIT is "exit"');
  t.equal(text('8600000001000000'), '(86) call bpf_map_lookup_elem#1', 'JMP32|CALL still a call');
  t.equal(text('0d21030000000000'), '(0d) if r1 jmp r2 goto pc+3', 'JA|X is not a goto in 6.18');
  t.equal(text('8c01000000000000'), '(8c) w1 = -w1');
  t.equal(text('df01000010000000'), '(df) r1 = bswap16 r1');
  t.equal(text('3800000001000000'), '(38) r0 = *(u64 *)skb[1]');
  t.equal(text('c201000000000000'), '(c2) nospec', 'ST mode 0xc0 is the internal BPF_NOSPEC');
  t.equal(text('2201000000000000'), 'BUG_st_22');
  t.equal(text('0321000000000000'), 'BUG_03');
  t.equal(text('2121000000000000'), 'BUG_ldx_21');
  t.equal(text('6001000000000000'), 'BUG_ld_60');
  t.equal(text('0001000000000000'), 'BUG_ld_00');
  t.equal(text('0e21040000000000'), '(0e) if w1 jmp w2 goto pc+4');
});

t.test('ld_imm64: pseudo sources, unprivileged zeroing, immText', async (t) => {
  const mapFd = ldImm64(1, 0xffff888104a6c000n, 1);
  t.equal(printInsn(mapFd), '(18) r1 = 0xffff888104a6c000', 'root sees the value');
  t.equal(printInsn(mapFd, { allowPtrLeaks: false }), '(18) r1 = 0x0', 'unprivileged sees 0');
  for (const src of [1, 2, 3, 5, 6]) {
    t.equal(printInsn(ldImm64(2, 0x1234n, src), { allowPtrLeaks: false }), '(18) r2 = 0x0', `src ${src} hidden`);
  }
  t.equal(printInsn(ldImm64(2, 7n, 4), { allowPtrLeaks: false }), '(18) r2 = 0x7', 'PSEUDO_FUNC is not a pointer');
  t.equal(printInsn(ldImm64(2, 7n, 0), { allowPtrLeaks: false }), '(18) r2 = 0x7');
  const resolved = printInsn(ldImm64(3, 0n, 1), { immText: () => '0xffff88810436bc00' });
  t.equal(resolved, '(18) r3 = 0xffff88810436bc00');
  t.equal(printInsn(ldImm64(3, 9n, 0), { immText: () => undefined }), '(18) r3 = 0x9', 'undefined falls back');
});

t.test('xlated form (selftests test_loader): no opcode, no #id', async (t) => {
  t.equal(printXlatedInsn(one('8500000008000000')), 'call bpf_get_smp_processor_id');
  t.equal(printXlatedInsn(one('8520000010000000'), { kfuncName: () => 'x' }), 'call kernel-function');
  t.equal(printXlatedInsn(one('85000000e8030000')), 'call unknown');
  // After jit_subprogs() the kernel keeps the pc offset in off and the subprog index in imm.
  t.equal(printXlatedInsn(one('8510020001000000')), 'call pc+2');
  t.equal(printXlatedInsn(one('bf00ffff00000000')), 'r0 = &(void __percpu *)(r0)');
  t.equal(printXlatedInsn(one('620afcff00000000')), '*(u32 *)(r10 -4) = 0');
  t.equal(printXlatedInsn(ldImm64(1, 0xffffc90000188000n, 2)), 'r1 = 0xffffc90000188000');
  t.equal(printXlatedInsn(one('9500000000000000')), 'exit');
  t.equal(printXlatedInsn(one('0321000000000000')), '3', 'test_loader drops five characters blindly');
});

t.test('printProgram numbers slots, so ld_imm64 takes two', async (t) => {
  const prog = [ldImm64(1, 1n), one('b700000007000000'), one('9500000000000000')];
  t.equal(printProgram(prog), '0: (18) r1 = 0x1\n2: (b7) r0 = 7\n3: (95) exit\n');
  t.equal(printProgram([]), '');
});
