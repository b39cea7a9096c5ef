// The test_loader matcher: how a list of expectation patterns is judged against a verifier
// log (mode 'msgs') or an xlated / jited listing (mode 'lines'). Kernel reference: 6.18
// tools/testing/selftests/bpf/test_loader.c (match_positive_msgs, match_negative_msgs,
// validate_msgs). The rules:
//
// 1. Positive patterns are searched one after another, each from the end of the previous
//    positive match. A positive that is not found does not move the search position.
// 2. A negative pattern lives in the span between its positive neighbours: from the end of
//    the previous positive match (or the log start) to the start of the next positive match
//    (or the log end). It "hits" when it is found at or after the span start and its match
//    ends no later than the span end. If the next positive was not found, nothing hits.
// 3. Kernel quirk, copied on purpose (6.18 behaves this way and ported specs must judge the
//    same): for a run of consecutive negatives only the FIRST negative's pattern is searched,
//    once per member of the run; when it hits, the whole run is marked as hit, and the first
//    member is reported. So the 2nd, 3rd... negative of a run are never checked on their own.
//    Pass `{ everyNegative: true }` to check each negative separately instead.
// 4. Line adjacency ('lines' mode): a positive pattern not preceded by "..." must match on the
//    line right after the line of the previous positive match. Lines are counted as the
//    number of '\n' between successive match starts. The first pattern may match anywhere.
// 5. Reporting walks the patterns in order and stops at the first failure: earlier patterns
//    are MATCHED, the failing one is WRONG LINE (checked first, even for a positive that was
//    not found at all), EXPECTED (positive not found) or UNEXPECTED (negative hit).

import type { PatternSpec } from './spec/types.ts';
import { compilePattern, findPattern, type CompiledPattern } from './spec/pattern.ts';

export type MatchMode = 'msgs' | 'lines';

export type PatternStatus = 'MATCHED' | 'EXPECTED' | 'WRONG LINE' | 'UNEXPECTED' | 'NOT REACHED';

export interface PatternResult {
  readonly pattern: PatternSpec;
  readonly isRegex: boolean;
  /** Must this pattern match on the line after the previous positive match? */
  readonly onNextLine: boolean;
  /** Where it matched ([start, end) offsets into the text), for positives that were found and
   *  negatives that hit. */
  readonly start?: number;
  readonly end?: number;
  /** Line of the match, counted from the text start (0-based). Positives only. */
  readonly line?: number;
  /** MATCHED = satisfied (a positive found where required, a negative absent). Patterns after
   *  the first failure are NOT REACHED (test_loader does not print them). */
  readonly status: PatternStatus;
}

export interface MatchReport {
  readonly ok: boolean;
  readonly mode: MatchMode;
  readonly results: readonly PatternResult[];
  /** Index of the first failing pattern, or -1. */
  readonly failedIndex: number;
  /** For a WRONG LINE failure: the line it had to match on and the line it matched on. */
  readonly expectedLine?: number;
  readonly actualLine?: number;
  /** A pattern that could not be compiled (an unclosed "{{", a bad ERE): the whole list fails. */
  readonly error?: string;
}

export interface MatchOptions {
  /** Check every negative of a run on its own instead of copying the kernel quirk (rule 3). */
  readonly everyNegative?: boolean;
}

interface Found {
  start: number;
  end: number;
  line: number;
}

/** Judge `text` against `patterns` with test_loader's algorithm. */
export function matchPatterns(text: string, patterns: readonly PatternSpec[], mode: MatchMode, opts: MatchOptions = {}): MatchReport {
  let compiled: CompiledPattern[];
  try {
    compiled = patterns.map((p) => compilePattern(p.text));
  } catch (e) {
    const results = patterns.map((p) => ({ pattern: p, isRegex: p.text.includes('{{'), onNextLine: false, status: 'NOT REACHED' as const }));
    return { ok: false, mode, results, failedIndex: -1, error: (e as Error).message };
  }
  // In 'msgs' mode (push_msg) adjacency never applies; in 'lines' mode (push_disasm_msg)
  // every pattern wants the next line unless a "..." preceded it.
  const onNextLine = patterns.map((p) => mode === 'lines' && !p.negative && !p.anyLine);
  const found: (Found | undefined)[] = new Array(patterns.length).fill(undefined);

  matchPositives(text, patterns, compiled, found);
  matchNegatives(text, patterns, compiled, found, opts.everyNegative === true);

  const results: PatternResult[] = [];
  let failedIndex = -1;
  let expectedLine: number | undefined;
  let actualLine: number | undefined;
  let prev: Found | undefined;
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i];
    const f = found[i];
    const base = { pattern: p, isRegex: compiled[i].isRegex, onNextLine: onNextLine[i], ...(f ? { start: f.start, end: f.end } : {}) };
    const line = p.negative ? undefined : f ? f.line : undefined;
    if (failedIndex >= 0) {
      results.push({ ...base, ...(line !== undefined ? { line } : {}), status: 'NOT REACHED' });
      continue;
    }
    const noMatch = !p.negative && !f;
    // The kernel compares against line 0 when the positive was not found at all.
    const wrongLine = !p.negative && onNextLine[i] && prev !== undefined && prev.line + 1 !== (f ? f.line : 0);
    const unexpected = p.negative && f !== undefined;
    let status: PatternStatus = 'MATCHED';
    if (wrongLine) status = 'WRONG LINE';
    else if (noMatch) status = 'EXPECTED';
    else if (unexpected) status = 'UNEXPECTED';
    if (status !== 'MATCHED') {
      failedIndex = i;
      if (wrongLine && prev) {
        expectedLine = prev.line + 1;
        actualLine = f ? f.line : 0;
      }
    } else if (!p.negative) {
      prev = f;
    }
    results.push({ ...base, ...(line !== undefined ? { line } : {}), status });
  }
  return {
    ok: failedIndex < 0,
    mode,
    results,
    failedIndex,
    ...(expectedLine !== undefined ? { expectedLine, actualLine } : {}),
  };
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Rule 1: sequential search of the positives; lines counted between match starts. */
function matchPositives(text: string, patterns: readonly PatternSpec[], compiled: readonly CompiledPattern[], found: (Found | undefined)[]): void {
  let pos = 0;
  let prevStart = 0;
  let line = 0;
  for (let i = 0; i < patterns.length; i++) {
    if (patterns[i].negative) continue;
    const m = findPattern(compiled[i], text, pos);
    if (!m) continue;
    line += countNewlines(text, prevStart, m.start);
    found[i] = { start: m.start, end: m.end, line };
    prevStart = m.start;
    pos = m.end;
  }
}

/** Rules 2 and 3: negatives, span by span. */
function matchNegatives(
  text: string,
  patterns: readonly PatternSpec[],
  compiled: readonly CompiledPattern[],
  found: (Found | undefined)[],
  everyNegative: boolean,
): void {
  let spanStart = 0;
  for (let i = 0; i < patterns.length; i++) {
    if (!patterns[i].negative) {
      spanStart = found[i]?.end ?? spanStart;
      continue;
    }
    let next = i + 1;
    while (next < patterns.length && patterns[next].negative) next++;
    // The span ends where the next positive matched; if it was not found, no negative can
    // hit (the kernel compares against a NULL end). Without a next positive: the text end.
    const spanEnd = next < patterns.length ? (found[next]?.start ?? -1) : text.length;
    for (let j = i; j < next; j++) {
      const which = everyNegative ? j : i;
      const m = findPattern(compiled[which], text, spanStart);
      if (m && m.end <= spanEnd) found[j] = { start: m.start, end: m.end, line: 0 };
    }
    i = next - 1;
  }
}

/** Build a 'lines'-mode pattern list from raw strings where "..." lets the next pattern skip
 *  lines (what the spec loader does for `xlated` / `jited`). */
export function linePatterns(texts: readonly string[]): PatternSpec[] {
  const out: PatternSpec[] = [];
  let anyLine = false;
  for (const text of texts) {
    if (text === '...') {
      anyLine = true;
      continue;
    }
    out.push({ text, negative: false, anyLine });
    anyLine = false;
  }
  return out;
}

const STATUS_LABEL: Readonly<Record<PatternStatus, string>> = {
  MATCHED: 'MATCHED   ',
  EXPECTED: 'EXPECTED  ',
  'WRONG LINE': 'WRONG LINE',
  UNEXPECTED: 'UNEXPECTED',
  'NOT REACHED': 'NOT REACHED',
};

export interface FormatOptions {
  /** Heading of the text block; test_loader uses VERIFIER LOG, XLATED, JITED. */
  readonly title?: string;
  /** Print the text block (default true). */
  readonly showText?: boolean;
}

/** Print a report the way test_loader does on failure: the text between ===== rulers, then
 *  one `STATUS KIND: 'pattern'` line per pattern up to the first failure, then the line
 *  numbers for a WRONG LINE. A passing report prints every pattern as MATCHED, no text. */
export function formatMatchReport(report: MatchReport, text: string, opts: FormatOptions = {}): string {
  const title = opts.title ?? (report.mode === 'msgs' ? 'VERIFIER LOG' : 'XLATED');
  let out = '';
  if (!report.ok && opts.showText !== false) {
    const body = text === '' || text.endsWith('\n') ? text : `${text}\n`;
    out += `${title}:\n=============\n${body}=============\n`;
  }
  if (report.error) return `${out}bad pattern: ${report.error}\n`;
  const last = report.ok ? report.results.length - 1 : report.failedIndex;
  for (let j = 0; j <= last; j++) {
    const r = report.results[j];
    out += `${STATUS_LABEL[r.status]} ${r.isRegex ? ' REGEX' : 'SUBSTR'}: '${r.pattern.text}'\n`;
  }
  if (report.expectedLine !== undefined) {
    out += `expecting match at line ${report.expectedLine}, actual match is at line ${report.actualLine}\n`;
  }
  return out;
}
