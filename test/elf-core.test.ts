// CO-RE relocations applied against a target BTF whose layout differs from the object's.
import t from 'tap';
import { readBpfObject, linkObjectProgram, parseElf } from '../engine/elf/index.ts';
import { parseBtf, findByName } from '../engine/btf/index.ts';
import { buildFixture, haveClang } from './fixtures/elf/build.ts';

const clang = haveClang();

t.test('field offset, existence and type id follow the target', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  const obj = readBpfObject(buildFixture('core_local'), 'core_local.o');
  const kinds = obj.btfExt!.coreRelos.flatMap((s) => s.records.map((r) => r.kind)).sort();
  t.same(kinds, ['FIELD_BYTE_OFFSET', 'FIELD_EXISTS', 'TYPE_EXISTS', 'TYPE_ID_TARGET']);
  const target = parseBtf(parseElf(buildFixture('core_target')).sections.find((s) => s.name === '.BTF')!.data);
  const thing = findByName(target, 'thing', 'STRUCT')!;
  const plain = linkObjectProgram(obj, 'prog');
  const l = linkObjectProgram(obj, 'prog', { coreTarget: target });
  t.same(l.coreUnapplied, []);
  const loadOff = (insns: typeof l.insns) => insns.find((i) => (i.code & 0x07) === 0x01 /* LDX */)!.off;
  t.equal(loadOff(plain.insns), 8, "clang's local offset of b");
  t.equal(loadOff(l.insns), 24, "the target's offset of b");
  const ld = l.insns.find((i) => i.code === 0x18)!;
  t.equal(ld.imm, thing.id, 'TYPE_ID_TARGET is the target id');
  t.notSame(l.insns, plain.insns);
  // Without a match the value is kept and reported.
  const none = parseBtf(parseElf(buildFixture('btf_kinds')).sections.find((s) => s.name === '.BTF')!.data);
  const u = linkObjectProgram(obj, 'prog', { coreTarget: none });
  t.match(u.coreUnapplied.join('\n'), /FIELD_BYTE_OFFSET 0:1: no match in the target BTF/);
});
