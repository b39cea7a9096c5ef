// A one-line progress bar on stderr, only when stderr is a terminal (never in logs or CI).

export interface Progress {
  update(done: number, total: number): void;
  /** Wipe the bar before other output reaches the same terminal; the next update redraws. */
  clear(): void;
  finish(): void;
}

const NONE: Progress = { update() {}, clear() {}, finish() {} };

export function progressBar(stream: { isTTY?: boolean; columns?: number; write(s: string): unknown } | undefined): Progress {
  if (!stream?.isTTY) return NONE;
  let last = -1;
  let shown = false;
  return {
    update(done, total) {
      const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - 30));
      const fill = total ? Math.round((done / total) * width) : width;
      if (fill === last && done !== total) return;
      last = fill;
      shown = true;
      stream.write(`\r[${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${done}/${total}`);
    },
    clear() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
      last = -1;
    },
    finish() {
      this.clear();
    },
  };
}
