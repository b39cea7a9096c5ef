// Record the live 6.18 kernel's verdict, errno and verifier log (levels 1 and 2) for every
// program in test/fixtures/verifier-programs into test/fixtures/verifier-kernel-logs.json.
// Run as root: node --import tsx scripts/record-verifier-oracle.ts
//
// Masked so that the fixture is deterministic: `verification time N usec` and kernel
// addresses (map pointers in ld_imm64 lines, also in the level-2 liveness table).

import { writeFileSync } from 'node:fs';
import { bpfProgLoad, bpfMapCreate, bpfBtfLoad, bpfMapUpdateElem, bpfMapFreeze, closeFd } from '../engine/kernel/bpf.ts';
import { funcBtfFor } from '../engine/kernel/func-btf.ts';
import { mapBtfFor } from '../engine/kernel/map-btf.ts';
import { encode } from '../engine/isa/encode.ts';
import type { Insn } from '../engine/isa/insn.ts';
import { LD_IMM64 } from '../engine/isa/opcodes.ts';
import { MAP_TYPES, PROG_TYPES } from '../engine/program/types.ts';
import { ATTACH_TYPES } from '../engine/kernel/uapi.ts';
import { PROGRAMS, toProgram } from '../test/fixtures/verifier-programs/index.ts';
import { CAP, withCapsDropped } from '../engine/kernel/caps.ts';

/** What an `unpriv` oracle program loses: everything test_loader drops but CAP_BPF. */
export const UNPRIV_KEEP_BPF: readonly number[] = [CAP.SYS_ADMIN, CAP.NET_ADMIN, CAP.PERFMON];
import type { OracleProgram } from '../test/fixtures/verifier-programs/index.ts';

export const LEVELS = [1, 2] as const;

export interface OracleRecord {
  readonly name: string;
  readonly level: number;
  readonly accepted: boolean;
  readonly errno: number;
  readonly log: string;
}

/** Replace what differs from run to run (and between our model and the kernel). */
export function maskLog(log: string): string {
  return log
    .replace(/verification time \d+ usec/g, 'verification time <T> usec')
    // Only the map addresses ld_imm64 lines print (not large scalars such as smin=0xffffffff80000000).
    .replace(/(\(18\) r\d+ = )0xffff[0-9a-f]{12}\b/g, '$1<KPTR>');
}

/** Load one program into the live kernel: maps are created fresh, their fds patched in. */
export function loadInKernel(p: OracleProgram, level: number): OracleRecord {
  const fds: number[] = [];
  try {
    for (const m of p.maps ?? []) {
      // Key/value BTF (spin locks in values): loaded for the map, closed once it holds it.
      const btf = m.btf ? mapBtfFor(m.btf) : undefined;
      const btfFd = btf ? bpfBtfLoad(btf.btf).fd : -1;
      if (btf && btfFd < 0) throw new Error(`map ${m.name}: BTF load failed`);
      const create = () => bpfMapCreate({
        mapType: MAP_TYPES[m.type], keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries, mapFlags: m.flags, name: m.name,
        ...(btf ? { btfFd, btfKeyTypeId: btf.keyTypeId, btfValueTypeId: btf.valueTypeId } : {}),
      });
      // An unprivileged loader creates its own maps, as test_loader does: a map remembers
      // its creator's Spectre bypass (tail-call and array masking depend on it).
      const r = p.unpriv ? withCapsDropped(UNPRIV_KEEP_BPF, create) : create();
      if (btfFd >= 0) closeFd(btfFd);
      if (r.fd < 0) throw new Error(`map ${m.name}: errno ${r.errno}`);
      fds.push(r.fd);
      // Initial contents, then read-only for user space (.rodata), as libbpf does.
      for (const e of m.init ?? []) if (bpfMapUpdateElem(r.fd, e.key, e.value)) throw new Error(`map ${m.name}: init failed`);
      if (m.frozen && bpfMapFreeze(r.fd)) throw new Error(`map ${m.name}: freeze failed`);
    }
    // BTF func_info (OracleProgram.funcInfo): subprogram prototypes and linkage.
    const fb = funcBtfFor(toProgram(p), p.funcInfo ?? false);
    let btfInfo = {};
    if (fb) {
      const b = bpfBtfLoad(fb.btf);
      if (b.fd < 0) throw new Error(`${p.name}: func BTF refused, errno ${b.errno}`);
      fds.push(b.fd);
      btfInfo = { progBtfFd: b.fd, funcInfo: fb.funcInfo, funcInfoRecSize: fb.funcInfoRecSize, funcInfoCnt: fb.funcInfoCnt };
    }
    const insns: Insn[] = p.insns.map((i) => (i.code === LD_IMM64 && (i.src === 1 || i.src === 2) ? { ...i, imm: fds[i.imm] ?? -1 } : i));
    const bytes = encodeLoose(insns);
    const load = () => bpfProgLoad({
      ...btfInfo,
      progType: PROG_TYPES[p.progType], insns: bytes, license: 'GPL', logLevel: level, progFlags: p.flags ?? 0,
      expectedAttachType: p.attach ? ATTACH_TYPES[p.attach] ?? 0 : 0,
    });
    // Unprivileged programs keep CAP_BPF only (see OracleProgram.unpriv).
    const r = p.unpriv ? withCapsDropped(UNPRIV_KEEP_BPF, load) : load();
    if (r.fd >= 0) closeFd(r.fd);
    return { name: p.name, level, accepted: r.fd >= 0, errno: r.errno, log: maskLog(r.log) };
  } finally {
    for (const fd of fds) closeFd(fd);
  }
}

/** encode(), but an LD_IMM64 missing its second half is written as one slot (to test the
 *  kernel's `invalid bpf_ld_imm64 insn`). */
function encodeLoose(insns: Insn[]): Uint8Array {
  const parts = insns.map((i) => encode([i]));
  const out = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const b of parts) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Opcode bytes the kernel rejects with `unknown opcode` (in `r0 = 0; <op>; exit`). */
function unknownOpcodes(): number[] {
  const out: number[] = [];
  for (let code = 0; code < 256; code++) {
    if (code === LD_IMM64) continue;
    const insns: Insn[] = [{ code: 0xb7, dst: 0, src: 0, off: 0, imm: 0 }, { code, dst: 0, src: 0, off: 0, imm: 0 }, { code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }];
    const r = bpfProgLoad({ progType: PROG_TYPES.SOCKET_FILTER, insns: encodeLoose(insns), license: 'GPL', logLevel: 1 });
    if (r.fd >= 0) closeFd(r.fd);
    if (r.log.includes('unknown opcode')) out.push(code);
  }
  return out;
}

function main(): void {
  const out: OracleRecord[] = [];
  for (const p of PROGRAMS) for (const level of LEVELS) out.push(loadInKernel(p, level));
  const file = new URL('../test/fixtures/verifier-kernel-logs.json', import.meta.url);
  writeFileSync(file, `${JSON.stringify({ kernel: 'Linux 6.18', unknownOpcodes: unknownOpcodes(), records: out }, null, 1)}\n`);
  console.log(`recorded ${out.length} loads of ${PROGRAMS.length} programs`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
