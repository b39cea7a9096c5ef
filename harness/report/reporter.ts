// What every reporter implements. Results arrive in plan order, so a reporter can stream.

import type { RunResult } from '../run/judge.ts';
import type { RunItem } from '../run/plan.ts';
import type { Counts } from './counts.ts';

export type Write = (text: string) => void;

export interface Reporter {
  begin(items: readonly RunItem[]): void;
  result(item: RunItem, result: RunResult): void;
  /** Must end with exactly one line: summaryLine(counts). */
  end(counts: Counts, results: readonly RunResult[]): void;
}

/** Consecutive items of one spec file on one backend: one TAP subtest, one JSON group. */
export interface Group {
  readonly file: string;
  readonly backend: RunItem['backend'];
  readonly items: RunItem[];
}

export function groupItems(items: readonly RunItem[]): Group[] {
  const groups: Group[] = [];
  for (const item of items) {
    const last = groups[groups.length - 1];
    if (last && last.file === item.file && last.backend === item.backend) last.items.push(item);
    else groups.push({ file: item.file, backend: item.backend, items: [item] });
  }
  return groups;
}
