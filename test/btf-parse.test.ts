// BTF reader: every kind clang emits for the fixture, checked against bpftool's own dump of
// the same object; names, sizes, signatures, decl tags; vmlinux; malformed headers.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../engine/errors.ts';
import { parseBtf, findByName, funcSignature, kernelTypeName, typeSize, cTypeName, declTags, vmlinuxBtf, KIND_NAMES } from '../engine/btf/index.ts';
import { parseElf } from '../engine/elf/format.ts';
import { buildFixture, haveClang } from './fixtures/elf/build.ts';

const clang = haveClang();

t.test('every kind of the fixture, against bpftool', { skip: clang ? false : 'clang-19 not installed' }, async (t) => {
  const bytes = buildFixture('btf_kinds');
  const elf = parseElf(bytes, 'btf_kinds.o');
  const sec = elf.sections.find((s) => s.name === '.BTF')!;
  const btf = parseBtf(sec.data);
  const seen = new Set(btf.types.map((x) => x.kind));
  for (const k of ['INT', 'PTR', 'ARRAY', 'STRUCT', 'UNION', 'ENUM', 'FWD', 'TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT', 'FUNC', 'FUNC_PROTO', 'VAR', 'DATASEC', 'FLOAT', 'DECL_TAG', 'TYPE_TAG', 'ENUM64'] as const) {
    t.ok(seen.has(k), `fixture has a ${k}`);
  }
  // bpftool's raw dump: "[id] KIND 'name' ..." for each type, in id order.
  const dir = mkdtempSync(join(tmpdir(), 'btf-'));
  const obj = join(dir, 'x.o');
  writeFileSync(obj, bytes);
  const r = spawnSync('bpftool', ['btf', 'dump', 'file', obj], { encoding: 'utf8' });
  if (r.status === 0) {
    const lines = r.stdout.split('\n').filter((l) => /^\[\d+\]/.test(l));
    t.equal(lines.length, btf.types.length - 1, 'same type count as bpftool');
    for (const l of lines) {
      const m = /^\[(\d+)\] (\w+) '([^']*)'/.exec(l)!;
      const ty = btf.types[Number(m[1])];
      if (ty.kind !== m[2] || ty.name !== (m[3] === '(anon)' ? '' : m[3])) t.fail(`type ${m[1]}: bpftool says ${m[2]} '${m[3]}', we say ${ty.kind} '${ty.name}'`);
    }
  }
  const s = findByName(btf, 'prog_test_fail1', 'STRUCT')!;
  t.equal(kernelTypeName(btf, s.id), 'STRUCT prog_test_fail1');
  t.equal(typeSize(btf, s.id), 16);
  const big = findByName(btf, 'big_enum', 'ENUM64')!;
  t.equal(big.values[0].value, 0x123456789n);
  t.equal(typeSize(btf, findByName(btf, 'arr_t', 'TYPEDEF')!.id), 4 * 3 * 2);
  const f = findByName(btf, 'with_params', 'FUNC')!;
  const sig = funcSignature(btf, f.id);
  t.same(sig.params, [
    { name: 'a', type: 'int' },
    { name: 'p', type: 'const char *' },
    { name: 'q', type: 'struct prog_test_fail1 *' },
    { name: 'cb', type: 'int (*)(int)' },
  ]);
  t.equal(sig.ret, 'long');
  t.equal(sig.linkage, 'global');
  t.same(declTags(btf, f.id), ['comment:first', 'comment:second'], 'decl tags in BTF order');
  t.same(declTags(btf, f.id, 1), ['arg:tagged']);
  const bf = findByName(btf, 'bits', 'STRUCT')!;
  t.same(bf.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize]), [['lo', 0, 3], ['hi', 3, 5], ['w', 32, 0]]);
  const tagged = btf.types.find((x) => x.kind === 'TYPE_TAG')!;
  t.match(cTypeName(btf, tagged.id), /btf_type_tag\("user"\)/);
});

t.test('vmlinux BTF', { skip: existsSync('/sys/kernel/btf/vmlinux') ? false : 'no /sys/kernel/btf/vmlinux' }, async (t) => {
  const vm = vmlinuxBtf()!;
  t.ok(vm.types.length > 10000);
  const ts = findByName(vm, 'task_struct', 'STRUCT')!;
  t.equal(kernelTypeName(vm, ts.id), 'STRUCT task_struct');
  t.ok((typeSize(vm, ts.id) ?? 0) > 1000);
  const k = findByName(vm, 'bpf_task_acquire', 'FUNC')!;
  t.same(funcSignature(vm, k.id).params.map((p) => p.name), ['p']);
  t.equal(vmlinuxBtf(), vm, 'read once');
});

t.test('malformed blobs are InputErrors', async (t) => {
  const hdr = (f: (dv: DataView) => void, len = 24 + 16): Uint8Array => {
    const b = new Uint8Array(len);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, 0xeb9f, true);
    b[2] = 1;
    dv.setUint32(4, 24, true);
    f(dv);
    return b;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    ['short', new Uint8Array(10), /shorter than/],
    ['magic', hdr((dv) => dv.setUint16(0, 0x1234, true)), /bad magic/],
    ['big endian', hdr((dv) => dv.setUint16(0, 0x9feb, true)), /big-endian/],
    ['section past end', hdr((dv) => dv.setUint32(12, 1000, true)), /past the end/],
    ['truncated type', hdr((dv) => { dv.setUint32(12, 8, true); dv.setUint32(16, 8, true); dv.setUint32(20, 1, true); }), /runs past the end/],
    ['unknown kind', hdr((dv) => { dv.setUint32(12, 12, true); dv.setUint32(24 + 4, 25 << 24, true); dv.setUint32(16, 12, true); dv.setUint32(20, 1, true); }), /unknown kind 25/],
  ];
  for (const [name, blob, re] of cases) {
    let err: unknown;
    try {
      parseBtf(blob);
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof InputError, `${name}: InputError`);
    t.match((err as Error | undefined)?.message ?? '', re, name);
  }
  t.equal(KIND_NAMES[19], 'ENUM64');
});

t.test('a reference loop ends in an InputError', async (t) => {
  // [1] VOLATILE -> [2], [2] CONST -> [1]
  const types = new Uint8Array(24);
  const dv = new DataView(types.buffer);
  dv.setUint32(0, 0, true); dv.setUint32(4, 9 << 24, true); dv.setUint32(8, 2, true);
  dv.setUint32(12, 0, true); dv.setUint32(16, 10 << 24, true); dv.setUint32(20, 1, true);
  const strs = new Uint8Array([0, 0x61, 0]);
  const blob = new Uint8Array(24 + types.length + strs.length);
  const h = new DataView(blob.buffer);
  h.setUint16(0, 0xeb9f, true); blob[2] = 1; h.setUint32(4, 24, true);
  h.setUint32(8, 0, true); h.setUint32(12, types.length, true); h.setUint32(16, types.length, true); h.setUint32(20, strs.length, true);
  blob.set(types, 24); blob.set(strs, 24 + types.length);
  const btf = parseBtf(blob);
  t.throws(() => typeSize(btf, 1), InputError);
  t.throws(() => cTypeName(btf, 1), InputError);
});
