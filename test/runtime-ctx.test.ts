// The interpreter's test-run context against what the live 6.18 kernel showed (the recorded
// fixture), and, when running as root with bpf(), against the kernel right now.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { MapStore, runProgram } from '../engine/runtime/index.ts';
import { ctxProbes, ctxProbeProgram, CTX_PROBE_TYPES, type CtxRecord } from './fixtures/runtime-ctx-probes.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/runtime-ctx-kernel.json', import.meta.url), 'utf8')) as {
  kernel: string; records: CtxRecord[];
};

function interpValue(r: Pick<CtxRecord, 'progType' | 'field'>): string {
  const probe = ctxProbes(r.progType).find((p) => p.field === r.field);
  if (!probe) throw new Error(`no probe for ${r.field}`);
  const prog = ctxProbeProgram(r.progType, probe);
  const maps = MapStore.fromDefs(prog.maps);
  const res = runProgram(prog, { maps });
  if (!res.ok) throw new Error(res.fault);
  const v = maps.get('ctx_probe')?.read(new Uint8Array(4));
  return '0x' + new DataView((v as Uint8Array).buffer).getBigUint64(0, true).toString(16);
}

t.test('fixture covers every probe of every modelled type', async (t) => {
  for (const pt of CTX_PROBE_TYPES) {
    t.equal(fixture.records.filter((r) => r.progType === pt).length, ctxProbes(pt).length, pt);
  }
});

t.test('every field the kernel let us read has the kernel\'s value', async (t) => {
  const readable = fixture.records.filter((r) => r.loaded);
  t.ok(readable.length > 50, `${readable.length} readable fields recorded`);
  for (const r of readable) {
    t.equal(r.errno, 0, `${r.progType} ${r.field} test run succeeded`);
    t.equal(interpValue(r), r.value, `${r.progType} ${r.field}`);
  }
});

const live = await (async () => {
  if (process.getuid?.() !== 0) return 'not root';
  try {
    const { bpfMapCreate, closeFd } = await import('../engine/kernel/bpf.ts');
    const m = bpfMapCreate({ mapType: 2, keySize: 4, valueSize: 8, maxEntries: 1 });
    if (m.fd < 0) return `bpf() map create failed (errno ${m.errno})`;
    closeFd(m.fd);
    return undefined;
  } catch (e) {
    return `bpf() unavailable: ${(e as Error).message}`;
  }
})();

t.test('live kernel still agrees with the fixture', { skip: live }, async (t) => {
  const { recordLive } = await import('../scripts/record-ctx-oracle.ts');
  const now = recordLive();
  t.same(now, fixture.records, `live ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()} vs fixture ${fixture.kernel}`);
});
