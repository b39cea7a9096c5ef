// The verifier's per-function stack depths as BPF_LOG_STATS prints them.

/** `stack depth 0+16+8` (log level 4) -> [0, 16, 8]; undefined when the line is absent. */
export function parseStackDepths(log: string): number[] | undefined {
  const m = /^stack depth ([\d+]+)$/m.exec(log);
  return m ? m[1].split('+').map(Number) : undefined;
}
