// Command-line options for the scripts: node's parseArgs plus `-h/--help` and a usage error
// (exit 2, no stack trace) for an unknown option or a missing value.

import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The options' usage lines, from their names and defaults. */
function optionLines(options: Options): string {
  return Object.entries(options)
    .map(([name, o]) => {
      const value = o.type === 'string' ? ' VALUE' : '';
      const dflt = o.default !== undefined && o.type === 'string' ? ` (default: ${String(o.default)})` : '';
      return `  --${name}${value}${dflt}`;
    })
    .join('\n');
}

/** Parse `process.argv`; prints `usage` and exits on `--help` (0) or bad options (2). */
export function parseScriptArgs<T extends ParseArgsConfig>(usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  const help = `${usage.trimEnd()}\n\noptions:\n${optionLines(config.options ?? {})}\n  -h, --help\n`;
  if (process.argv.slice(2).some((a) => a === '-h' || a === '--help')) {
    process.stdout.write(help);
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${help}`);
    process.exit(2);
  }
}
