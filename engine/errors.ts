// Errors about bad input (spec YAML, asm text, raw bytes, ELF, BTF). They carry a location so
// the CLI can print `file:line:col: message` and exit with status 2, never a stack trace.

export interface Location {
  readonly file?: string;
  /** 1-based; 0 when unknown. */
  readonly line: number;
  /** 1-based; 0 when unknown. */
  readonly col: number;
  /** A YAML path such as `tests[3].expect.msgs[0]`, where one applies. */
  readonly path?: string;
}

export class InputError extends Error {
  constructor(
    message: string,
    readonly loc: Location = { line: 0, col: 0 },
  ) {
    super(message);
    this.name = 'InputError';
  }

  /** `file:line:col: message (at path)`, omitting what is unknown. */
  format(): string {
    const { file, line, col, path } = this.loc;
    const where = [file, line ? String(line) : '', line && col ? String(col) : ''].filter(Boolean).join(':');
    const at = path ? ` (at ${path})` : '';
    return `${where ? `${where}: ` : ''}${this.message}${at}`;
  }
}
