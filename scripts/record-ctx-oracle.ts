// Records what the live kernel's BPF_PROG_TEST_RUN context holds on a 64-byte zero packet,
// for the context types the interpreter models (socket filter, tc, xdp, cgroup_skb). For
// each field, a program loads it and stores it into an array map (cgroup_skb must return
// 0/1, so r0 cannot carry it); packet pointers are recorded as differences
// (data_end - data, data - data_meta). Output: test/fixtures/runtime-ctx-kernel.json.
//
//   node --import tsx scripts/record-ctx-oracle.ts [--check]   (root, bpf() available)

import { writeFileSync, readFileSync } from 'node:fs';
import { encode } from '../engine/isa/encode.ts';
import { bpfMapCreate, bpfMapLookupElem, bpfProgLoad, bpfProgTestRun, closeFd } from '../engine/kernel/bpf.ts';
import { PROG_TYPES, MAP_TYPES } from '../engine/program/types.ts';
import { ctxProbes, ctxProbeProgram, CTX_PROBE_TYPES, type CtxRecord } from '../test/fixtures/runtime-ctx-probes.ts';

const OUT = new URL('../test/fixtures/runtime-ctx-kernel.json', import.meta.url);

export function recordLive(): CtxRecord[] {
  const out: CtxRecord[] = [];
  for (const progType of CTX_PROBE_TYPES) {
    for (const probe of ctxProbes(progType)) {
      const map = bpfMapCreate({ mapType: MAP_TYPES.ARRAY, keySize: 4, valueSize: 8, maxEntries: 1, name: 'ctx_probe' });
      if (map.fd < 0) throw new Error(`map create failed: errno ${map.errno}`);
      try {
        const prog = ctxProbeProgram(progType, probe, map.fd);
        const load = bpfProgLoad({ progType: PROG_TYPES[progType], insns: encode(prog.insns), logLevel: 0 });
        if (load.fd < 0) {
          out.push({ progType, field: probe.field, loaded: false, errno: load.errno });
          continue;
        }
        try {
          const run = bpfProgTestRun(load.fd, { dataIn: new Uint8Array(64), dataSizeOut: 256, repeat: 1 });
          const v = bpfMapLookupElem(map.fd, new Uint8Array(4), 8);
          const value = v.value ? new DataView(v.value.buffer, v.value.byteOffset, 8).getBigUint64(0, true) : 0n;
          out.push({ progType, field: probe.field, loaded: true, errno: run.errno, value: `0x${value.toString(16)}` });
        } finally {
          closeFd(load.fd);
        }
      } finally {
        closeFd(map.fd);
      }
    }
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const live = recordLive();
  if (process.argv.includes('--check')) {
    const saved = JSON.parse(readFileSync(OUT, 'utf8')) as { records: CtxRecord[] };
    const same = JSON.stringify(saved.records) === JSON.stringify(live);
    console.log(same ? 'fixture matches the live kernel' : 'fixture differs from the live kernel');
    process.exitCode = same ? 0 : 1;
  } else {
    const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
    writeFileSync(OUT, JSON.stringify({ kernel, packet: '64 zero bytes', records: live }, null, 1) + '\n');
    console.log(`wrote ${live.length} records (${live.filter((r) => r.loaded).length} loadable) for ${kernel}`);
  }
}
