// ELF object reader and libbpf-order linker on a fixture compiled at test time.
import t from 'tap';
import { InputError } from '../engine/errors.ts';
import { readBpfObject, linkObjectProgram, parseElf } from '../engine/elf/index.ts';
import { slotOffsets } from '../engine/isa/insn.ts';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_BTF_ID } from '../engine/isa/opcodes.ts';
import { buildFixture, haveClang } from './fixtures/elf/build.ts';

const clang = haveClang();

const isInputError = (f: () => unknown, re?: RegExp): boolean => {
  try {
    f();
  } catch (e) {
    return e instanceof InputError && (!re || re.test(e.message));
  }
  return false;
};

t.test('object model', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  const obj = readBpfObject(buildFixture('objects'), 'objects.o');
  t.equal(obj.license, 'GPL');
  t.same(obj.programs.map((p) => [p.name, p.section, p.secName, p.autoload]).sort(), [
    ['prog_maps', 'socket', 'socket', true],
    ['prog_naked', 'xdp', 'xdp', true],
    ['prog_target', '?tc', 'tc', false],
  ]);
  t.same(obj.subprograms.map((f) => f.name).sort(), ['add1', 'global_sub', 'loop_cb']);
  t.ok(obj.subprograms.find((f) => f.name === 'global_sub')!.global);
  t.notOk(obj.subprograms.find((f) => f.name === 'add1')!.global);
  const byName = new Map(obj.maps.map((m) => [m.name, m]));
  t.match(byName.get('hmap'), { kind: 'btf', type: 'HASH', keySize: 8, valueSize: 16, maxEntries: 4 });
  t.match(byName.get('outer'), { type: 'ARRAY_OF_MAPS', keySize: 4, valueSize: 4, inner: { type: 'ARRAY', maxEntries: 1 } });
  t.same(byName.get('outer')!.slots, [{ index: 0, target: 'amap' }]);
  t.same(byName.get('jmp_table')!.slots, [{ index: 1, target: 'prog_target' }]);
  t.match(byName.get('rodata'), { kind: 'data', type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1, flags: 0x80 | 0x400 });
  t.same([...byName.get('rodata')!.data!], [7, 0, 0, 0]);
  t.same([...byName.get('data')!.data!], [3, 0, 0, 0]);
  t.equal(byName.get('bss')!.data, undefined, '.bss has no bytes');
  t.same(obj.externs.map((e) => [e.name, e.kind, e.weak, e.section]), [['bpf_kfunc_does_not_exist', 'func', true, '.ksyms']]);
  t.ok(obj.btfExt && obj.btfExt.funcInfo.length > 0 && obj.btfExt.lineInfo.length > 0, '.BTF.ext parsed');
});

t.test('linking in libbpf order with relocations', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  const obj = readBpfObject(buildFixture('objects'), 'objects.o');
  const mapIndex = (n: string) => obj.maps.findIndex((m) => m.name === n);
  const l = linkObjectProgram(obj, 'prog_maps');
  // First reference order, depth first: the callback address, then global_sub, which pulls
  // in add1 before prog_maps' own later call of add1.
  t.same(l.funcs.map((f) => f.name), ['prog_maps', 'loop_cb', 'global_sub', 'add1']);
  t.same(l.funcs.map((f) => f.linkage), ['global', 'static', 'global', 'static']);
  t.same(l.funcs.find((f) => f.name === 'global_sub')!.params, [{ name: 'p', type: 'int *' }]);
  const at = slotOffsets(l.insns);
  const startOf = new Map(l.funcs.map((f) => [f.start, f.name]));
  let calls = 0;
  l.insns.forEach((insn, i) => {
    const ref = l.refs.get(at[i]);
    if (insn.code === 0x85 && insn.src === BPF_PSEUDO_CALL) {
      calls++;
      t.equal(startOf.get(at[i] + 1 + insn.imm), ref && 'target' in ref ? ref.target : undefined, `call at ${at[i]} lands on its target's first insn`);
    }
    if (insn.code === 0x18 && insn.src === BPF_PSEUDO_FUNC) t.equal(startOf.get(at[i] + 1 + insn.imm), 'loop_cb');
    if (insn.code === 0x18 && insn.src === BPF_PSEUDO_MAP_FD) t.equal(insn.imm, mapIndex('hmap'));
    if (insn.code === 0x18 && insn.src === BPF_PSEUDO_MAP_VALUE) {
      t.ok([mapIndex('bss'), mapIndex('data'), mapIndex('rodata')].includes(insn.imm), 'global data names a data map');
      t.same(ref && ref.kind === 'data' ? [ref.map, ref.offset] : [], [insn.imm, insn.next!.imm]);
    }
  });
  t.equal(calls, 3, 'three pseudo calls (global_sub, add1 from it, add1)');
  // buf sits after bss_val in .bss: `buf[3] = 1` goes through offset 4.
  t.ok(l.insns.some((i) => i.code === 0x18 && i.src === BPF_PSEUDO_MAP_VALUE && i.next!.imm === 4));

  const weak = linkObjectProgram(obj, 'prog_target');
  t.same(weak.unresolved, ['bpf_kfunc_does_not_exist']);
  const kcall = weak.insns.find((i) => i.code === 0x85 && i.src === BPF_PSEUDO_KFUNC_CALL)!;
  t.equal(kcall.imm, 0, 'unresolved kfunc keeps id 0');
  const resolved = linkObjectProgram(obj, 'prog_target', { resolveKsym: (n, k) => (n === 'bpf_kfunc_does_not_exist' && k === 'func' ? 4242 : undefined) });
  t.same(resolved.unresolved, []);
  t.equal(resolved.insns.find((i) => i.code === 0x85 && i.src === BPF_PSEUDO_KFUNC_CALL)!.imm, 4242);
  t.equal(resolved.insns.find((i) => i.code === 0x18 && i.src === BPF_PSEUDO_BTF_ID)!.imm, 4242, 'ksym address');
  t.ok(isInputError(() => linkObjectProgram(obj, 'nope'), /no program named nope/));
});

t.test('bad input is an InputError', async (t) => {
  const base = clang ? buildFixture('objects') : new Uint8Array(0);
  t.ok(isInputError(() => readBpfObject(new Uint8Array(0), 'x'), /shorter than/));
  t.ok(isInputError(() => readBpfObject(new TextEncoder().encode('#!/bin/sh\necho hi\n'.repeat(8)), 'x'), /bad magic/));
  if (!clang) return;
  t.ok(isInputError(() => readBpfObject(base.subarray(0, base.length >> 1), 'x'), /past the end/), 'truncated');
  const other = base.slice();
  other[18] = 62; // EM_X86_64
  t.ok(isInputError(() => parseElf(other), /not EM_BPF/));
  const be = base.slice();
  be[5] = 2;
  t.ok(isInputError(() => parseElf(be), /big-endian/));
});
