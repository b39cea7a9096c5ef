// `bpfconform conformance DIR`: hands over to the bpf_conformance runner
// (harness/conformance/cli.ts), imported only when this command runs. That runner parses
// its own options (--json, --verbose, --filter) and prints its own help.

import type { Io } from './io.ts';

export const usage = `usage: bpfconform conformance DIR [--json] [--verbose] [--filter SUBSTR]

Run the tests/*.data files of a bpf_conformance checkout (Alan-Jowett/bpf_conformance)
against the reference interpreter.
`;

type ConformanceCommand = (argv: string[], out?: (s: string) => void, err?: (s: string) => void) => Promise<number>;

export async function run(argv: readonly string[], io: Io): Promise<number> {
  const { conformanceCommand } = (await import('../conformance/cli.ts')) as { conformanceCommand: ConformanceCommand };
  return conformanceCommand([...argv], io.stdout, io.stderr);
}
