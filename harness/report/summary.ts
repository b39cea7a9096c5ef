// The short form: one line per failing run, then the summary line.

import type { RunResult } from '../run/judge.ts';
import type { RunItem } from '../run/plan.ts';
import { summaryLine, type Counts } from './counts.ts';
import type { Reporter, Write } from './reporter.ts';

export function failureLine(item: RunItem, r: RunResult): string {
  const where = `${item.pos.file}:${item.pos.line}`;
  const reason = (r.reason ?? '').replace(/[\r\n]+/g, ' ');
  return `FAIL ${where} ${item.suite}/${item.name} [${item.backend}]: ${reason}`;
}

export class SummaryReporter implements Reporter {
  constructor(private readonly write: Write) {}

  begin(): void {}

  result(item: RunItem, r: RunResult): void {
    if (r.status === 'fail') this.write(`${failureLine(item, r)}\n`);
  }

  end(counts: Counts): void {
    this.write(`${summaryLine(counts)}\n`);
  }
}
