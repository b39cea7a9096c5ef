// `bpfconform conformance DIR`: hands over to the bpf_conformance runner
// (harness/conformance/cli.ts), imported only when this command runs.

import { UsageError, type Io } from './io.ts';

export const usage = `usage: bpfconform conformance DIR [options]

Run the tests/*.data files of a bpf_conformance checkout (Alan-Jowett/bpf_conformance)
against the reference interpreter. Options after DIR are passed to the runner.

  -h, --help   show this help
`;

interface ConformanceCli {
  conformanceCommand(argv: string[]): Promise<number>;
}

export async function run(argv: readonly string[], io: Io): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(usage);
    return 0;
  }
  if (argv.length === 0) throw new UsageError('missing DIR');
  const url = new URL('../conformance/cli.ts', import.meta.url).href;
  const mod = (await import(url)) as Partial<ConformanceCli>;
  if (typeof mod.conformanceCommand !== 'function') throw new Error('harness/conformance/cli.ts does not export conformanceCommand');
  return mod.conformanceCommand([...argv]);
}
