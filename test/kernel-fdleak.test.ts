// 2,000 loads in one process must leave the fd table as it was: every map, inner map and
// program fd that loadProgram and the low-level calls create is closed by its owner.

import t from 'tap';
import { readdirSync } from 'node:fs';
import { decodeHex } from '../engine/isa/decode.ts';
import type { MapDef, Program } from '../engine/program/types.ts';
import { environmentSkip, loadProgram } from '../engine/kernel/load.ts';
import { bpfProgLoad, closeFd } from '../engine/kernel/bpf.ts';

const skip = environmentSkip({}) ?? false;
const openFds = (): number => readdirSync('/proc/self/fd').length;

const map: MapDef = {
  name: 'leak_map', type: 'HASH', keySize: 4, valueSize: 8, maxEntries: 4, flags: 0,
  init: [{ key: new Uint8Array(4), value: new Uint8Array(8) }],
};
const base = { name: 'leak', progType: 'SOCKET_FILTER' as const, funcs: [], license: 'GPL', flags: 0 };
const progs: Program[] = [
  { ...base, maps: [], insns: decodeHex(['b700000007000000', '9500000000000000']) },
  { ...base, maps: [], insns: decodeHex(['bf20000000000000', '9500000000000000']) }, // rejected, retried
  { ...base, maps: [map], insns: decodeHex(['620afcff00000000', 'bfa2000000000000', '07020000fcffffff',
    '1811000000000000', '0000000000000000', '8500000001000000', '1500010000000000', '7900000000000000', '9500000000000000']) },
  { ...base, maps: [{ name: 'outer', type: 'ARRAY_OF_MAPS', keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, inner: map }],
    insns: decodeHex(['b700000000000000', '9500000000000000']) },
];

t.test('2,000 loadProgram calls leave the fd count flat', { skip }, async (t) => {
  const before = openFds();
  const t0 = performance.now();
  let loaded = 0;
  for (let i = 0; i < 2000; i++) {
    const r = loadProgram(progs[i % progs.length], { logLevel: 0, flags: 0, execute: i % 2 === 0, wantXlated: i % 8 === 0, wantJited: i % 8 === 0 });
    if (r.loaded) loaded++;
  }
  const ms = performance.now() - t0;
  t.equal(loaded, 1500, 'three of four programs load');
  t.equal(openFds(), before, `fd count unchanged (${before})`);
  t.comment(`2000 loadProgram calls: ${ms.toFixed(0)} ms, ${(ms / 2).toFixed(1)} us each`);
});

t.test('2,000 raw bpfProgLoad + closeFd leave the fd count flat', { skip }, async (t) => {
  const before = openFds();
  const insns = Uint8Array.from([0xb7, 0, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  let peak = before;
  for (let i = 0; i < 2000; i++) {
    const r = bpfProgLoad({ progType: 1, insns });
    if (i === 0) peak = openFds();
    closeFd(r.fd);
  }
  t.equal(peak, before + 1, 'one fd while a program is open');
  t.equal(openFds(), before, 'and none after');
});
