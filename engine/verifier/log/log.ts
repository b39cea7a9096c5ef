// The verifier log buffer (bpf_verifier_log): append-only text with the two rewinds the kernel
// does: dropping a finished path's trace at level 1 (pop_stack resets to the position saved
// when the branch was pushed) and re-opening the last instruction line to append the
// `; R0=...` state after it.

export const BPF_LOG_LEVEL1 = 1;
export const BPF_LOG_LEVEL2 = 2;
export const BPF_LOG_STATS = 4;

export class VerifierLog {
  // The text is kept as appended pieces: a rewind near the end (every `; R0=...` re-opens the
  // last line) then only touches the last pieces, where a single string would be flattened
  // and copied whole each time (quadratic on long logs).
  private parts: string[] = [];
  private len = 0;
  /** Log position right after the last instruction line, 0 when none. */
  prevLogPos = 0;
  /** Length of that instruction line including its `N: ` prefix and newline. */
  prevInsnPrintPos = 0;

  constructor(readonly level: number) {}

  get enabled(): boolean {
    return this.level !== 0;
  }

  get level1(): boolean {
    return (this.level & (BPF_LOG_LEVEL1 | BPF_LOG_LEVEL2)) !== 0;
  }

  get level2(): boolean {
    return (this.level & BPF_LOG_LEVEL2) !== 0;
  }

  get pos(): number {
    return this.len;
  }

  /** The whole log so far. */
  get text(): string {
    const t = this.parts.join('');
    this.parts = t ? [t] : [];
    return t;
  }

  verbose(s: string): void {
    if (this.level && s) {
      this.parts.push(s);
      this.len += s.length;
    }
  }

  reset(pos: number): void {
    const parts = this.parts;
    while (this.len > pos) {
      const last = parts[parts.length - 1];
      if (this.len - last.length >= pos) {
        parts.pop();
        this.len -= last.length;
      } else {
        parts[parts.length - 1] = last.slice(0, last.length - (this.len - pos));
        this.len = pos;
      }
    }
    if (this.prevLogPos > pos) this.prevLogPos = 0;
  }
}

/** Padding that puts the `;` of an after-instruction state in the kernel's column. */
export function vlogAlignment(pos: number): number {
  const minAlign = 8;
  const align = 40;
  const want = Math.max(pos + minAlign / 2, align);
  return Math.ceil(want / minAlign) * minAlign - pos - 1;
}
