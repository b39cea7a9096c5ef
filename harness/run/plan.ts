// Expanding suites into runs: one run per (test, mode, backend), in a fixed order, the way
// test_loader turns one annotated program into a priv and an unpriv subtest.
//
// Order: suites as given (the CLI sorts files), then per suite each backend, then tests in
// file order, priv before unpriv. Every later stage (workers, reporters) keys on `id`, so
// output order never depends on --jobs.

import { PROG_FLAGS, type MapDef, type MapEntry, type Program, type Series } from '../../engine/program/types.ts';
import type { RunRequest } from '../backend.ts';
import type { Expectation, FlagOp, SourcePos, SuiteSpec, TestSpec } from '../spec/types.ts';

export type Mode = 'priv' | 'unpriv';
export type BackendName = 'engine' | 'kernel';

/** test_loader loads every program with these (testing_prog_flags() on a 6.18 kernel). */
export const BASE_FLAGS = PROG_FLAGS.BPF_F_TEST_RND_HI32 | PROG_FLAGS.BPF_F_TEST_REG_INVARIANTS;

/** One subtest on one backend: everything a worker needs, as plain cloneable data. */
export interface RunItem {
  /** Position in the global order; results are reported by it. */
  readonly id: number;
  readonly file: string;
  readonly suite: string;
  /** TestSpec.name (the program name). */
  readonly test: string;
  /** The displayed subtest name: description, plus " @unpriv" for the unpriv run. */
  readonly name: string;
  readonly mode: Mode;
  readonly backend: BackendName;
  readonly pos: SourcePos;
  readonly request: RunRequest;
  readonly expect: Expectation;
  /** Present when the test is marked xfail: the reason. */
  readonly xfail?: string;
  /** Known before running: the run is a skip (e.g. __arch_* excludes this host). */
  readonly skip?: string;
}

export interface PlanOptions {
  readonly backends: readonly BackendName[];
  /** --series: used when neither the test nor its suite names one. */
  readonly series?: Series;
  /** Matched (unanchored) against `suite/<subtest name>` and `suite/<program name>`. */
  readonly filter?: RegExp;
  /** 1-based shard index and count: keep every count-th test, starting at index. */
  readonly shard?: { readonly index: number; readonly count: number };
  /** Host arch for __arch_* (default: this machine's). */
  readonly arch?: string;
}

/** The host arch by test_loader's names (lower case, as spec `arch` lists hold them). */
export function hostArch(nodeArch: string = process.arch): string {
  const names: Record<string, string> = { x64: 'x86_64', ia32: 'x86_32', arm64: 'arm64', riscv64: 'riscv64', s390x: 's390x', loong64: 'loongarch' };
  return names[nodeArch] ?? nodeArch;
}

/** __arch_*: a test limited to other arches is skipped here, as test_loader does. */
export function archSkip(test: TestSpec, arch: string = hostArch()): string | undefined {
  if (!test.arch || test.arch.some((a) => a.toLowerCase() === arch)) return undefined;
  return `only for ${test.arch.join(', ')} (host is ${arch})`;
}

/** test_loader's subtest name: the description, with " @unpriv" for the unpriv run. */
export function subtestName(test: TestSpec, mode: Mode): string {
  return mode === 'unpriv' ? `${test.description} @unpriv` : test.description;
}

/** Apply __flag edits in order: set ORs the bit in, "!FLAG" clears it. */
export function applyFlagOps(base: number, ops: readonly FlagOp[]): number {
  let flags = base;
  for (const op of ops) flags = op.op === 'set' ? flags | op.flag : flags & ~op.flag;
  return flags >>> 0;
}

/** Test's series, else the suite's, else the CLI's, else plain 6.18. */
export function resolveSeries(test: TestSpec, suite: SuiteSpec, cli?: Series): Series {
  return test.series ?? suite.series ?? cli ?? 'none';
}

/** The modes a test runs in, priv first. */
export function testModes(test: TestSpec): Mode[] {
  const modes: Mode[] = [];
  if (test.priv) modes.push('priv');
  if (test.unpriv) modes.push('unpriv');
  return modes;
}

/** Auxiliary programs loaded alongside a run: the suite's __auxiliary tests of that mode. */
export function auxiliaryPrograms(suite: SuiteSpec, mode: Mode): Program[] {
  return suite.tests.filter((t) => t.auxiliary && t[mode] !== undefined).map((t) => t.program);
}

/** A PROG_ARRAY slot named by program gets that program's index in the run's program list:
 *  the auxiliary programs in order, then the program under test. A slot naming any other
 *  program is left out (test_loader does not load it, so libbpf has nothing to put there). */
export function resolveProgSlots(maps: readonly MapDef[], runProgs: readonly string[]): MapDef[] {
  return maps.map((m) => {
    if (!m.init?.some((e) => e.progRef !== undefined)) return m;
    const init: MapEntry[] = [];
    for (const e of m.init) {
      if (e.progRef === undefined) {
        init.push(e);
        continue;
      }
      const idx = runProgs.indexOf(e.progRef);
      if (idx < 0) continue;
      const value = new Uint8Array(4);
      new DataView(value.buffer).setUint32(0, idx, true);
      init.push({ key: e.key, value, progRef: e.progRef });
    }
    return { ...m, init };
  });
}

/** BTF id -> name of the suite's declared kfuncs (those that carry an id). */
function kfuncNamesOf(suite: SuiteSpec): Map<number, string> {
  return new Map((suite.kfuncs ?? []).filter((k) => k.btfId).map((k) => [k.btfId, k.name]));
}

export function buildRequest(suite: SuiteSpec, test: TestSpec, mode: Mode, series: Series): RunRequest {
  const expect = test[mode];
  if (!expect) throw new Error(`test ${test.name} has no ${mode} run`);
  // The section's own flags (`syscall`, `.s` -> BPF_F_SLEEPABLE, xdp.frags) are ORed in by
  // libbpf at load time, whatever the test's __flag edits say.
  const flags = (test.program.flags | applyFlagOps(suite.baseFlags ?? BASE_FLAGS, test.flagOps)) >>> 0;
  const aux = auxiliaryPrograms(suite, mode);
  const withSlots = (p: Program): Program => {
    const maps = resolveProgSlots(p.maps, [...aux.map((a) => a.name), test.program.name]);
    return maps.every((m, i) => m === p.maps[i]) ? p : { ...p, maps };
  };
  return {
    program: withSlots({ ...test.program, flags }),
    auxiliary: aux.map(withSlots),
    logLevel: test.logLevel,
    flags,
    unpriv: mode === 'unpriv',
    series,
    // test_loader runs the program only when a retval is given and the load should succeed.
    execute: expect.retval !== undefined && expect.result === 'success',
    wantXlated: expect.xlated.length > 0,
    wantJited: expect.jited.length > 0,
    ...(suite.keepSysAdmin ? { keepSysAdmin: true } : {}),
    ...(suite.funcInfo ? { funcInfo: true } : {}),
    ...(mode === 'unpriv' && test.capsUnpriv?.length ? { capsUnpriv: test.capsUnpriv } : {}),
    ...(test.linearSize !== undefined ? { linearSize: test.linearSize } : {}),
    ...(kfuncNamesOf(suite).size ? { kfuncNames: kfuncNamesOf(suite) } : {}),
    ...(test.btfPath !== undefined ? { btfPath: test.btfPath } : {}),
    ...(expect.stderr?.length || expect.stdout?.length ? { wantStreams: true } : {}),
  };
}

function matchesFilter(filter: RegExp | undefined, suite: SuiteSpec, test: TestSpec, name: string): boolean {
  if (!filter) return true;
  // A /g or /y regex keeps state between test() calls; use a fresh copy without those flags.
  const re = filter.global || filter.sticky ? new RegExp(filter.source, filter.flags.replace(/[gy]/g, '')) : filter;
  return re.test(`${suite.suite}/${name}`) || re.test(`${suite.suite}/${test.name}`);
}

/** Every run of the given suites, filtered, then sharded by test. */
export function planSuites(suites: readonly SuiteSpec[], opts: PlanOptions): RunItem[] {
  // Shard by test (not by run) so a test's priv and unpriv runs stay together.
  let testOrdinal = 0;
  const selected: { suite: SuiteSpec; test: TestSpec; modes: Mode[] }[] = [];
  for (const suite of suites) {
    for (const test of suite.tests) {
      if (test.auxiliary) continue;
      const modes = testModes(test).filter((m) => matchesFilter(opts.filter, suite, test, subtestName(test, m)));
      if (modes.length === 0) continue;
      const ordinal = testOrdinal++;
      if (opts.shard && ordinal % opts.shard.count !== opts.shard.index - 1) continue;
      selected.push({ suite, test, modes });
    }
  }

  const items: RunItem[] = [];
  for (const suite of suites) {
    const mine = selected.filter((s) => s.suite === suite);
    for (const backend of opts.backends) {
      for (const { test, modes } of mine) {
        const series = resolveSeries(test, suite, opts.series);
        const skip = archSkip(test, opts.arch);
        for (const mode of modes) {
          const expect = test[mode] as Expectation;
          items.push({
            id: items.length,
            file: suite.file,
            suite: suite.suite,
            test: test.name,
            name: subtestName(test, mode),
            mode,
            backend,
            pos: test.pos,
            request: buildRequest(suite, test, mode, series),
            expect,
            ...(test.xfail && test.xfail.backends.includes(backend) && (test.xfail.modes ?? [mode]).includes(mode) ? { xfail: test.xfail.reason } : {}),
            ...(skip !== undefined ? { skip } : {}),
          });
        }
      }
    }
  }
  return items;
}

/** Parse "K/N" (1 <= K <= N); undefined when malformed. */
export function parseShard(text: string): { index: number; count: number } | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) return undefined;
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) return undefined;
  return { index, count };
}
