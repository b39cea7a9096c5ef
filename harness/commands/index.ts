// The command table of `bpfconform`. A command is loaded only when it runs, so adding one
// (verify, jit, port, ...) is one entry here plus its module exporting `usage` and `run`.

import type { Io } from './io.ts';

export interface CommandModule {
  /** Full --help text. */
  readonly usage: string;
  /** Runs the command; resolves to the exit status. Throws UsageError / InputError for 2. */
  run(argv: readonly string[], io: Io): Promise<number>;
}

export interface CommandEntry {
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  readonly load: () => Promise<CommandModule>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'check', summary: 'run YAML spec suites against the engine and/or the live kernel', load: () => import('./check.ts') },
  { name: 'port', summary: 'port kernel BPF selftests (.c or .o) to YAML spec suites', load: () => import('./port.ts') },
  { name: 'conformance', summary: 'run a bpf_conformance tests directory against the interpreter', load: () => import('./conformance.ts') },
  { name: 'jit', summary: 'show the x86-64 JIT image of spec programs (hex or --disasm), check it against the kernel', load: () => import('./jit.ts') },
];

export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function topUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'usage: bpfconform <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    "Run 'bpfconform <command> --help' for a command's options.",
    'Exit status: 0 all passed, 1 a failure, 2 bad input or usage.',
    '',
  ].join('\n');
}
