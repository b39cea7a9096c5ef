// TAP 14 on stdout: one subtest per spec file (per backend with --backend both), one
// ok / not ok per run inside it, a YAML block under each failure. Runs of xfail tests that
// failed are `not ok ... # TODO <reason>` (TAP consumers do not count them as failures);
// skips are `ok ... # SKIP <reason>`.

import { stringify } from 'yaml';
import type { RunResult } from '../run/judge.ts';
import type { RunItem } from '../run/plan.ts';
import { summaryLine, type Counts } from './counts.ts';
import { diagnostics } from './diagnostics.ts';
import { groupItems, type Group, type Reporter, type Write } from './reporter.ts';

const INDENT = '    ';

/** TAP 14: "\" and "#" in a description are escaped; newlines would end the line. */
export function tapEscape(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/#/g, '\\#').replace(/[\r\n]+/g, ' ');
}

/** A directive reason: one line, no "#" ambiguity needed (it is the last thing on the line). */
function directiveText(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim();
}

export function yamlBlock(obj: Record<string, unknown>, indent: string): string {
  const body = stringify(obj, { lineWidth: 0, blockQuote: 'literal' });
  const lines = body.replace(/\n$/, '').split('\n');
  return [`${indent}---`, ...lines.map((l) => (l === '' ? '' : indent + l)), `${indent}...`].join('\n') + '\n';
}

export function groupTitle(g: Group, multiBackend: boolean): string {
  return multiBackend ? `${g.file} [${g.backend}]` : g.file;
}

export function tapLine(n: number, item: RunItem, r: RunResult): string {
  const name = tapEscape(item.name);
  switch (r.status) {
    case 'pass':
      return `ok ${n} - ${name}`;
    case 'skip':
      return `ok ${n} - ${name} # SKIP ${directiveText(r.reason ?? '')}`;
    case 'xfail':
      return `not ok ${n} - ${name} # TODO ${directiveText(r.reason ?? '')}`;
    case 'fail':
      return `not ok ${n} - ${name}`;
  }
}

export class TapReporter implements Reporter {
  private groups: Group[] = [];
  private multiBackend = false;
  private gi = 0;
  private inGroup = 0;
  private groupFailed = false;

  constructor(private readonly write: Write) {}

  begin(items: readonly RunItem[]): void {
    this.groups = groupItems(items);
    this.multiBackend = new Set(items.map((i) => i.backend)).size > 1;
    this.write('TAP version 14\n');
    this.write(this.groups.length === 0 ? '1..0 # no tests selected\n' : `1..${this.groups.length}\n`);
  }

  result(item: RunItem, r: RunResult): void {
    const g = this.groups[this.gi];
    if (this.inGroup === 0) {
      this.write(`# Subtest: ${tapEscape(groupTitle(g, this.multiBackend))}\n${INDENT}1..${g.items.length}\n`);
      this.groupFailed = false;
    }
    this.inGroup++;
    this.write(`${INDENT}${tapLine(this.inGroup, item, r)}\n`);
    if (r.status === 'fail' || r.status === 'xfail') {
      this.write(yamlBlock(diagnostics(item, r, { full: r.status === 'fail' }), `${INDENT}  `));
    }
    if (r.status === 'fail') this.groupFailed = true;
    if (this.inGroup === g.items.length) {
      this.gi++;
      this.write(`${this.groupFailed ? 'not ok' : 'ok'} ${this.gi} - ${tapEscape(groupTitle(g, this.multiBackend))}\n`);
      this.inGroup = 0;
    }
  }

  end(counts: Counts): void {
    this.write(`${summaryLine(counts)}\n`);
  }
}
