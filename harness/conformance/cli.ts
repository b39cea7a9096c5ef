// `bpfconform conformance DIR [--json] [--verbose] [--filter SUBSTR]`: run a bpf_conformance
// tests directory against the interpreter. Exit 0 when nothing failed, 1 on failures, 2 on
// bad usage or input.

import { InputError } from '../../engine/errors.ts';
import { runConformanceDir, type ConformanceResult } from './runner.ts';

const USAGE = 'usage: bpfconform conformance DIR [--json] [--verbose] [--filter SUBSTR]\n';

const hex = (v: bigint | undefined): string | undefined => (v === undefined ? undefined : '0x' + v.toString(16));

function line(r: ConformanceResult): string {
  const tag = r.status === 'pass' ? 'PASS' : r.status === 'fail' ? 'FAIL' : 'SKIP';
  return `${tag} ${r.name}${r.message && r.status !== 'pass' ? `: ${r.message}` : ''}\n`;
}

export async function conformanceCommand(
  argv: string[],
  out: (s: string) => void = (s) => void process.stdout.write(s),
  err: (s: string) => void = (s) => void process.stderr.write(s),
): Promise<number> {
  let dir: string | undefined;
  let json = false, verbose = false;
  let filter: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--verbose' || a === '-v') verbose = true;
    else if (a === '--filter') {
      filter = argv[++i];
      if (filter === undefined) { err(`--filter needs a value\n${USAGE}`); return 2; }
    } else if (a === '--help' || a === '-h') { out(USAGE); return 0; }
    else if (a.startsWith('-')) { err(`unknown option ${a}\n${USAGE}`); return 2; }
    else if (dir === undefined) dir = a;
    else { err(`unexpected argument ${a}\n${USAGE}`); return 2; }
  }
  if (dir === undefined) { err(`missing DIR\n${USAGE}`); return 2; }
  let summary;
  try {
    summary = runConformanceDir(dir, filter ? (n) => n.includes(filter as string) : undefined);
  } catch (e) {
    if (e instanceof InputError) { err(`${e.format()}\n`); return 2; }
    throw e;
  }
  if (json) {
    out(JSON.stringify({
      passed: summary.passed, failed: summary.failed, skipped: summary.skipped,
      results: summary.results.map((r) => ({ ...r, expected: hex(r.expected), got: hex(r.got) })),
    }, null, 2) + '\n');
  } else {
    for (const r of summary.results) if (verbose || r.status !== 'pass') out(line(r));
    out(`conformance: ${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped\n`);
  }
  return summary.failed > 0 ? 1 : 0;
}
