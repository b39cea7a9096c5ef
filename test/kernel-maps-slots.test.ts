// The kernel backend's libbpf emulation for maps: key/value BTF (sk_storage needs it),
// prog_array slots filled after the programs load, .rodata frozen before the load, ring
// buffer sizes rounded up, literal-fd ld_imm64s left alone; and the func BTF's parameter tags.
import t from 'tap';
import { decodeHex } from '../engine/isa/decode.ts';
import type { MapDef, Program } from '../engine/program/types.ts';
import { environmentSkip, loadProgram, patchMapRefs } from '../engine/kernel/load.ts';
import { funcBtfFor } from '../engine/kernel/func-btf.ts';
import { mapBtfFor } from '../engine/kernel/map-btf.ts';
import { parseBtf } from '../engine/btf/index.ts';

const skip = environmentSkip({}) ?? false;

const prog = (insns: string[], extra: Partial<Program> = {}): Program => ({
  name: 'k4', progType: 'SOCKET_FILTER', insns: decodeHex(insns), maps: [], funcs: [{ start: 0, name: 'k4', linkage: 'global' }],
  license: 'GPL', flags: 0, ...extra,
});

const LD_MAP0_R1 = ['1811000000000000', '0000000000000000'];
const EXIT0 = ['b700000000000000', '9500000000000000'];

const storage = (btf: boolean): MapDef => ({
  name: 'sk_store', type: 'SK_STORAGE', keySize: 4, valueSize: 8, maxEntries: 0, flags: 1,
  ...(btf ? { btf: { key: { kind: 'int', name: 'int', size: 4, signed: true }, value: { kind: 'struct', name: 'val', size: 8, members: [{ name: 'cnt', type: { kind: 'int', name: 'int', size: 4, signed: true }, offset: 0 }] } } } : {}),
});

t.test('map BTF: the blob names the key and value types', async (t) => {
  const mb = mapBtfFor(storage(true).btf!);
  const btf = parseBtf(mb.btf);
  t.match(btf.types[mb.keyTypeId], { kind: 'INT', name: 'int', size: 4 });
  t.match(btf.types[mb.valueTypeId], { kind: 'STRUCT', name: 'val', size: 8, members: [{ name: 'cnt', bitOffset: 0 }] });
  const kptr = mapBtfFor({ value: { kind: 'ptr', tags: ['kptr'], type: { kind: 'struct', name: 'task_struct', size: 0, members: [] } } });
  const kb = parseBtf(kptr.btf);
  const ptr = kb.types[kptr.valueTypeId];
  t.equal(ptr.kind, 'PTR');
  const tag = ptr.kind === 'PTR' ? kb.types[ptr.type] : undefined;
  t.match(tag, { kind: 'TYPE_TAG', name: 'kptr' }, 'PTR -> TYPE_TAG kptr -> struct, as clang writes __kptr');
});

t.test('func BTF: parameter tags become decl tags on the FUNC', async (t) => {
  const p = prog([...EXIT0, ...EXIT0], {
    funcs: [{ start: 0, name: 'main', linkage: 'global' }, { start: 2, name: 'sub', linkage: 'global', params: [{ name: 'ctx', type: 'void *', tags: ['arg:ctx'] }], ret: 'void' }],
  });
  const fb = funcBtfFor(p)!;
  const btf = parseBtf(fb.btf);
  const sub = btf.types.find((x) => x.kind === 'FUNC' && x.name === 'sub')!;
  t.match(btf.types.filter((x) => x.kind === 'DECL_TAG'), [{ name: 'arg:ctx', type: sub.id, componentIdx: 0 }]);
  const proto = sub.kind === 'FUNC' ? btf.types[sub.type] : undefined;
  t.match(proto, { kind: 'FUNC_PROTO', type: 0, params: [{ name: 'ctx' }] }, 'void return, named parameter');
  t.equal(funcBtfFor(prog(EXIT0)), undefined, 'no global subprogram: no BTF by default');
  t.equal(funcBtfFor(prog(EXIT0), true)?.funcInfoCnt, 1, 'func_info for every program of a -g object');
});

t.test('literal fds in ld_imm64 are not map indices', async (t) => {
  const insns = decodeHex([...LD_MAP0_R1, ...LD_MAP0_R1, ...EXIT0]);
  const out = patchMapRefs(insns, [7], [2]);
  t.same(out.map((i) => i.imm).slice(0, 2), [7, 0], 'slot 0 is map #0 -> fd 7; slot 2 keeps its literal 0');
});

t.test('sk_storage needs key/value BTF (live)', { skip }, async (t) => {
  const run = (btf: boolean) => loadProgram(prog([...LD_MAP0_R1, ...EXIT0], { maps: [storage(btf)] }), { logLevel: 0, flags: 0 });
  t.match(run(false).skip, /map 'sk_store' \(SK_STORAGE, type 24\) could not be created here: EINVAL/);
  t.match(run(true), { loaded: true, skip: undefined });
});

t.test('user ring buffers are sized like libbpf does (live)', { skip }, async (t) => {
  const rb: MapDef = { name: 'urb', type: 'USER_RINGBUF', keySize: 0, valueSize: 0, maxEntries: 8, flags: 0 };
  t.match(loadProgram(prog([...LD_MAP0_R1, ...EXIT0], { maps: [rb] }), { logLevel: 0, flags: 0 }), { loaded: true, skip: undefined });
});

t.test('prog_array slots: filled once the programs are loaded (live)', { skip }, async (t) => {
  // r2 = jmp ll; r3 = <slot>; call bpf_tail_call; r0 = 1; exit
  const caller = (slot: number) => prog(['1812000000000000', '0000000000000000', `b70300000${slot}000000`, '850000000c000000', 'b700000001000000', '9500000000000000'], {
    maps: [{ name: 'jmp', type: 'PROG_ARRAY', keySize: 4, valueSize: 4, maxEntries: 2, flags: 0, init: [{ key: new Uint8Array([0, 0, 0, 0]), value: new Uint8Array([0, 0, 0, 0]) }] }],
  });
  const target = prog(['b70000002a000000', '9500000000000000'], { name: 'target', maps: caller(0).maps });
  const hit = loadProgram(caller(0), { logLevel: 0, flags: 0, execute: true, auxiliary: [target] });
  t.match(hit, { loaded: true, run: { errno: 0, retval: 42 } }, 'slot 0 holds the auxiliary program');
  const miss = loadProgram(caller(1), { logLevel: 0, flags: 0, execute: true, auxiliary: [target] });
  t.match(miss, { loaded: true, run: { errno: 0, retval: 1 } }, 'an empty slot: the tail call falls through');
});

t.test('.rodata is frozen before the load: reads are known constants (live)', { skip }, async (t) => {
  const rodata = (frozen: boolean): MapDef => ({
    name: 'rodata', type: 'ARRAY', keySize: 4, valueSize: 4, maxEntries: 1, flags: 1 << 7,
    init: [{ key: new Uint8Array(4), value: new Uint8Array([5, 0, 0, 0]) }], ...(frozen ? { frozen: true } : {}),
  });
  // r1 = &rodata[0] (BPF_PSEUDO_MAP_VALUE); r0 = *(u32 *)(r1 +0); exit
  const reader = (frozen: boolean) => prog(['1821000000000000', '0000000000000000', '6110000000000000', '9500000000000000'], { maps: [rodata(frozen)] });
  const f = loadProgram(reader(true), { logLevel: 2, flags: 0 });
  t.match(f, { loaded: true });
  t.match(f.log, /R0=5\b/, 'frozen: the verifier reads the value');
  const nf = loadProgram(reader(false), { logLevel: 2, flags: 0 });
  t.notMatch(nf.log, /R0=5\b/, 'not frozen: an unknown scalar');
});
