// `bpfconform` entry point: dispatch to a command, map errors to exit statuses.
//   0 everything passed, 1 a failure (or an internal error), 2 bad input or usage.
// Bad input is printed as `file:line:col: message (at path)`, never as a stack trace.

import { pathToFileURL } from 'node:url';
import { findCommand, topUsage } from './commands/index.ts';
import { processIo, UsageError, type Io } from './commands/io.ts';
import { inputErrorsOf } from './run/suites.ts';

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(topUsage());
    return name === undefined ? 2 : 0;
  }
  const entry = findCommand(name);
  if (!entry) {
    io.stderr(`bpfconform: unknown command '${name}'\n${topUsage()}`);
    return 2;
  }
  try {
    const cmd = await entry.load();
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr(`bpfconform ${name}: ${err.message}\nTry 'bpfconform ${name} --help'.\n`);
      return 2;
    }
    const inputs = inputErrorsOf(err);
    if (inputs) {
      for (const e of inputs) io.stderr(`${e.format()}\n`);
      return 2;
    }
    // A bug of ours, not the user's input: show everything needed to fix it.
    io.stderr(`bpfconform ${name}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
