// What a command may touch: two text sinks, and the stderr stream for a TTY progress bar.
// Tests pass in-memory sinks; the CLI passes the process streams.

export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** For the progress bar; absent or non-TTY means no bar. */
  readonly stderrStream?: { readonly isTTY?: boolean; readonly columns?: number; write(s: string): unknown };
}

export const processIo: Io = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  stderrStream: process.stderr,
};

/** Bad command-line usage: exit status 2, with a pointer to --help. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
