// Record the live 6.18 kernel's xlated program (bpf_prog_info.xlated_prog_insns, printed as
// test_loader prints it) for every program in test/fixtures/verifier-xlated-programs.ts,
// loaded without and with BPF_F_TEST_RND_HI32, into test/fixtures/verifier-xlated-kernel.json.
// Also records the kernel-image constants the inlined helpers bake in (KernelConsts), read
// back from the xlated code of probe programs. Run as root:
//   node --import tsx scripts/record-xlated-oracle.ts

import { writeFileSync } from 'node:fs';
import { loadProgram } from '../engine/kernel/load.ts';
import { decode } from '../engine/isa/decode.ts';
import { imm64 } from '../engine/isa/insn.ts';
import { PROG_FLAGS } from '../engine/program/types.ts';
import { xlatedText } from '../harness/backends/kernel.ts';
import { ALL_CASES, toProgram, type XlatedCase } from '../test/fixtures/verifier-xlated-programs.ts';
import { assemble } from '../engine/isa/asm/index.ts';

export const FLAG_SETS = [0, PROG_FLAGS.BPF_F_TEST_RND_HI32] as const;

export interface XlatedRecord {
  readonly name: string;
  readonly flags: number;
  readonly loaded: boolean;
  readonly errno: number;
  /** Kernel map id per Program.maps index. */
  readonly mapIds: readonly number[];
  /** test_loader's text, one `N: insn` line per instruction. */
  readonly xlated: string;
}

export interface XlatedFixture {
  readonly kernel: string;
  readonly consts: { readonly jiffiesAddr: string; readonly cpuNumberOffset: number };
  readonly records: readonly XlatedRecord[];
}

/** Replace the random upper halves BPF_F_TEST_RND_HI32 writes (`r11 = <random>`). */
export function maskRnd(text: string): string {
  return text.replace(/^(\d+: r11 = )-?\d+$/gm, '$1<RND>');
}

/** Load `p` as test_loader's privileged run would and return the xlated text. */
export function loadXlated(p: XlatedCase, flags: number): XlatedRecord {
  const r = loadProgram(toProgram(p, flags), { logLevel: 0, flags, wantXlated: true });
  if (r.skip) throw new Error(`${p.name}: ${r.skip}`);
  return {
    name: p.name, flags, loaded: r.loaded, errno: r.errno, mapIds: r.mapIds,
    xlated: r.loaded && r.xlated ? maskRnd(xlatedText(r.xlated)) : '',
  };
}

/** Kernel addresses seen in the xlated code of two probe programs. */
function probeConsts(): XlatedFixture['consts'] {
  const xl = (asm: string) => {
    const r = loadProgram(toProgram({ name: 'probe', progType: 'SOCKET_FILTER', insns: assemble(asm) }, 0), { logLevel: 0, flags: 0, wantXlated: true });
    if (!r.xlated) throw new Error(`probe not loaded: errno ${r.errno}`);
    return decode(r.xlated);
  };
  const jiffies = xl('call 118; exit;')[0];
  const cpu = xl('call 8; exit;')[0];
  return { jiffiesAddr: `0x${imm64(jiffies).toString(16)}`, cpuNumberOffset: cpu.imm };
}

function main(): void {
  const records: XlatedRecord[] = [];
  for (const p of ALL_CASES) for (const flags of FLAG_SETS) records.push(loadXlated(p, flags));
  const fixture: XlatedFixture = { kernel: 'Linux 6.18', consts: probeConsts(), records };
  const file = new URL('../test/fixtures/verifier-xlated-kernel.json', import.meta.url);
  writeFileSync(file, `${JSON.stringify(fixture, null, 1)}\n`);
  const loaded = records.filter((r) => r.loaded).length;
  console.log(`recorded ${records.length} loads of ${ALL_CASES.length} programs (${loaded} accepted)`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
