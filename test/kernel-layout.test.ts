// The hand-written 6.18 layouts of union bpf_attr parts and struct bpf_prog_info/map_info,
// checked against the running kernel's BTF: first through engine/btf's reader, then
// (when bpftool is installed) that reader against bpftool's JSON, so neither is trusted alone.

import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { BPF_ATTR_SIZE, BPF_CMD, BTF_HOMES, PROG_INFO_SIZE, type Layout } from '../engine/kernel/layout.ts';
import { ATTACH_TYPES } from '../engine/kernel/uapi.ts';
import { BTF_KIND, findByName, parseBtf, typeSize, type Btf, type BtfType } from '../engine/btf/index.ts';
import { InputError } from '../engine/errors.ts';
import { MAP_TYPES, PROG_TYPES } from '../engine/program/types.ts';

const VMLINUX = '/sys/kernel/btf/vmlinux';

interface Flat {
  readonly off: number;
  readonly size: number;
  readonly bits: number;
}

/** Members of a struct/union with anonymous struct/union members flattened into it. */
function flatten(btf: Btf, t: BtfType, base = 0, out = new Map<string, Flat>()): Map<string, Flat> {
  if (t.kind !== 'STRUCT' && t.kind !== 'UNION') return out;
  for (const m of t.members) {
    let mt = btf.types[m.type];
    while (mt.kind === 'TYPEDEF' || mt.kind === 'CONST' || mt.kind === 'VOLATILE') mt = btf.types[mt.type];
    const off = base + m.bitOffset;
    if (m.name === '' && (mt.kind === 'STRUCT' || mt.kind === 'UNION')) {
      flatten(btf, mt, off, out);
      continue;
    }
    if (!out.has(m.name)) out.set(m.name, { off, size: typeSize(btf, m.type) ?? 0, bits: m.bitfieldSize });
  }
  return out;
}

/** Does every field of `layout` sit where `members` says, with the same size? */
function mismatches(layout: Layout, members: Map<string, Flat>): string[] {
  const bad: string[] = [];
  for (const [name, f] of Object.entries(layout)) {
    const m = members.get(name);
    if (!m) bad.push(`${name}: not in BTF`);
    else if (m.off !== f.off * 8) bad.push(`${name}: BTF bit offset ${m.off}, ours byte ${f.off}`);
    else if (m.bits === 0 && m.size !== f.size) bad.push(`${name}: BTF size ${m.size}, ours ${f.size}`);
    else if (m.bits !== 0 && f.size !== 4) bad.push(`${name}: bitfield expected in a u32 word`);
  }
  return bad;
}

const haveBtf = existsSync(VMLINUX);

t.test('layouts match the running kernel BTF', { skip: haveBtf ? false : `${VMLINUX} is missing` }, async (t) => {
  const btf = parseBtf(new Uint8Array(readFileSync(VMLINUX)), { file: VMLINUX });
  const attr = findByName(btf, 'bpf_attr', 'UNION');
  t.ok(attr, 'union bpf_attr is in vmlinux BTF');
  if (!attr) return;
  t.equal(attr.size, BPF_ATTR_SIZE, 'sizeof(union bpf_attr)');
  const info = findByName(btf, 'bpf_prog_info', 'STRUCT');
  t.equal(info?.size, PROG_INFO_SIZE, 'sizeof(struct bpf_prog_info)');

  for (const [what, home] of Object.entries(BTF_HOMES)) {
    if (home.struct) {
      const s = findByName(btf, home.struct, 'STRUCT');
      t.ok(s, `struct ${home.struct} exists`);
      if (s) t.same(mismatches(home.layout, flatten(btf, s)), [], `${what} = struct ${home.struct}`);
      continue;
    }
    // A bpf_attr part: the union member with that name ('' = one of the anonymous ones)
    // whose fields all match. Exactly one member must fit.
    const fits = attr.members.filter((m) => {
      if (m.name !== home.attrMember) return false;
      return mismatches(home.layout, flatten(btf, btf.types[m.type])).length === 0;
    });
    t.equal(fits.length, 1, `${what}: one bpf_attr member '${home.attrMember || '(anon)'}' matches every field`);
  }

  // The bitfield: gpl_compatible is the low bit of the u32 at 84.
  const gpl = info && flatten(btf, info).get('gpl_compatible');
  t.same(gpl && { off: gpl.off, bits: gpl.bits }, { off: 84 * 8, bits: 1 }, 'gpl_compatible:1 at byte 84');
});

t.test('a layout error would be caught', async (t) => {
  // The comparison itself must notice a wrong offset, a wrong size and a missing field.
  const members = new Map<string, Flat>([['a', { off: 0, size: 4, bits: 0 }], ['b', { off: 64, size: 8, bits: 0 }]]);
  t.same(mismatches({ a: { off: 0, size: 4 }, b: { off: 8, size: 8 } }, members), []);
  t.equal(mismatches({ a: { off: 4, size: 4 } }, members).length, 1);
  t.equal(mismatches({ b: { off: 8, size: 4 } }, members).length, 1);
  t.equal(mismatches({ c: { off: 0, size: 4 } }, members).length, 1);
});

t.test('malformed BTF is an InputError', async (t) => {
  t.throws(() => parseBtf(new Uint8Array(10)), InputError);
  const hdr = new Uint8Array(24);
  t.throws(() => parseBtf(hdr), InputError, 'wrong magic');
  const dv = new DataView(hdr.buffer);
  dv.setUint16(0, 0xeb9f, true);
  dv.setUint32(4, 24, true);
  dv.setUint32(12, 100, true); // type section runs past the end
  t.throws(() => parseBtf(hdr), InputError, 'section past the end');
  // One INT type cut short.
  const blob = new Uint8Array(24 + 12 + 1);
  const b = new DataView(blob.buffer);
  b.setUint16(0, 0xeb9f, true);
  b.setUint32(4, 24, true);
  b.setUint32(12, 12, true);
  b.setUint32(16, 12, true);
  b.setUint32(20, 1, true);
  b.setUint32(24 + 4, BTF_KIND.INT << 24, true); // kind INT, no trailing word
  t.throws(() => parseBtf(blob), InputError, 'INT without its trailing word');
});

function bpftoolJson(): { types: BpftoolType[] } | undefined {
  try {
    const out = execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', VMLINUX], { maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
    return JSON.parse(out.toString()) as { types: BpftoolType[] };
  } catch {
    return undefined;
  }
}

interface BpftoolType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  members?: { name: string; type_id: number; bits_offset: number; bitfield_size?: number }[];
  values?: { name: string; val: number }[];
}

const dump = haveBtf ? bpftoolJson() : undefined;

t.test('our BTF reader agrees with bpftool; uapi enums match', { skip: dump ? false : 'bpftool (or vmlinux BTF) not available' }, async (t) => {
  const btf = parseBtf(new Uint8Array(readFileSync(VMLINUX)), { file: VMLINUX });
  const types = dump!.types;
  t.equal(btf.types.length - 1, types.length, 'same number of types');
  for (const name of ['bpf_attr', 'bpf_prog_info', 'bpf_map_info']) {
    const theirs = types.find((x) => x.name === name && (x.kind === 'UNION' || x.kind === 'STRUCT'))!;
    const ours = btf.types[theirs.id];
    t.equal(ours.name, name, `${name}: same id`);
    if (ours.kind !== 'STRUCT' && ours.kind !== 'UNION') {
      t.fail(`${name}: expected a struct or union, got ${ours.kind}`);
      continue;
    }
    t.equal(ours.size, theirs.size, `${name}: same size`);
    t.same(
      ours.members.map((m) => [m.name || '(anon)', m.type, m.bitOffset, m.bitfieldSize]),
      theirs.members!.map((m) => [m.name, m.type_id, m.bits_offset, m.bitfield_size ?? 0]),
      `${name}: same members`,
    );
  }
  const enumValues = (name: string): Map<string, number> =>
    new Map(types.find((x) => x.kind === 'ENUM' && x.name === name)!.values!.map((v) => [v.name, v.val]));

  const cmds = enumValues('bpf_cmd');
  for (const [k, v] of Object.entries(BPF_CMD)) t.equal(cmds.get(`BPF_${k}`), v, `BPF_${k}`);
  const attach = enumValues('bpf_attach_type');
  t.same(Object.entries(ATTACH_TYPES).filter(([k, v]) => attach.get(`BPF_${k}`) !== v), [], 'enum bpf_attach_type');
  const progTypes = enumValues('bpf_prog_type');
  t.same(Object.entries(PROG_TYPES).filter(([k, v]) => progTypes.get(`BPF_PROG_TYPE_${k}`) !== v), [], 'enum bpf_prog_type');
  const mapTypes = enumValues('bpf_map_type');
  t.same(Object.entries(MAP_TYPES).filter(([k, v]) => mapTypes.get(`BPF_MAP_TYPE_${k}`) !== v), [], 'enum bpf_map_type');
});
