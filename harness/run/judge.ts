// Judging one outcome against its expectation, the checks of test_loader's run_subtest in its
// order: verdict, then the log (matched on success too), xlated, jited, retval, and (ours)
// stack-argument depths. Every failing check is reported, except that a wrong verdict ends
// the judging as it does in test_loader.
//
// Counting rule (one run = one subtest on one backend lands in exactly one bucket):
//   skip  - the backend returned `skip` (xfail or not);
//   pass  - no failing check, test not xfail;
//   xfail - test marked xfail and at least one check failed (incl. `unsupported`, crashes):
//           reported as TAP `not ok ... # TODO <reason>`, counted apart, never as a pass;
//   fail  - a failing check on a test not marked xfail, or an xfail test whose run passed
//           ("xfail passed: remove the xfail").

import type { RunOutcome } from '../backend.ts';
import type { Expectation, PatternSpec } from '../spec/types.ts';
import type { Program } from '../../engine/program/types.ts';
import { formatMatchReport, matchPatterns } from '../match.ts';

export type Status = 'pass' | 'fail' | 'skip' | 'xfail';

export type FailureKind =
  | 'verdict'
  | 'msgs'
  | 'xlated'
  | 'jited'
  | 'retval'
  | 'stack_arg_depth'
  | 'unsupported'
  | 'crash'
  | 'xfail_passed';

export interface Failure {
  readonly kind: FailureKind;
  readonly message: string;
  /** The matcher's MATCHED / EXPECTED / WRONG LINE listing next to the text, for patterns. */
  readonly report?: string;
}

/** What a reporter needs of the outcome (plain data, cloneable across workers). */
export interface OutcomeDigest {
  readonly loaded: boolean;
  readonly errno: number;
  readonly log: string;
  readonly xlated?: string;
  readonly jited?: string;
  readonly retval?: RunOutcome['retval'];
}

export interface RunResult {
  readonly id: number;
  readonly status: Status;
  /** skip reason, xfail reason, or the first failure's message. */
  readonly reason?: string;
  readonly failures: readonly Failure[];
  readonly outcome?: OutcomeDigest;
  readonly durationMs: number;
}

/** POINTER_VALUE of test_loader: "don't check the retval". */
export const POINTER_VALUE = 0xbadcafe;

const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM', 2: 'ENOENT', 7: 'E2BIG', 9: 'EBADF', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT',
  16: 'EBUSY', 22: 'EINVAL', 28: 'ENOSPC', 95: 'EOPNOTSUPP', 524: 'ENOTSUPP',
};

export function errnoText(errno: number): string {
  const name = ERRNO_NAMES[errno];
  return name ? `${errno} (${name})` : String(errno);
}

/** Which subprogram key of the outcome a spec key names: "func#N" as is, or a function
 *  name looked up in the program's funcs (ordered by start, as the verifier numbers them). */
function depthKey(key: string, program: Program): string {
  if (/^func#\d+$/.test(key)) return key;
  const sorted = [...program.funcs].sort((a, b) => a.start - b.start);
  const i = sorted.findIndex((f) => f.name === key);
  return i >= 0 ? `func#${i}` : key;
}

/** Texts longer than this are shown cut in the middle (the JSON report keeps them whole). */
const MAX_SHOWN_LINES = 4000;

export function clipLines(text: string, max = MAX_SHOWN_LINES): string {
  const lines = text.split('\n');
  if (lines.length <= max) return text;
  const head = Math.floor(max / 10);
  const tail = max - head;
  return [...lines.slice(0, head), `... ${lines.length - max} lines omitted ...`, ...lines.slice(-tail)].join('\n');
}

const TITLES = { msgs: 'VERIFIER LOG', xlated: 'XLATED', jited: 'JITED' } as const;

function patternFailure(kind: 'msgs' | 'xlated' | 'jited', text: string | undefined, patterns: readonly PatternSpec[]): Failure | undefined {
  if (patterns.length === 0) return undefined;
  if (text === undefined) return { kind, message: `the backend produced no ${kind} text to match ${patterns.length} pattern(s) against` };
  const r = matchPatterns(text, patterns, kind === 'msgs' ? 'msgs' : 'lines');
  if (r.ok) return undefined;
  const what = kind === 'msgs' ? 'verifier log' : `${kind} text`;
  const bad = r.failedIndex >= 0 ? r.results[r.failedIndex] : undefined;
  const detail = r.error ? `bad pattern: ${r.error}` : bad ? `${bad.status} '${bad.pattern.text}'` : 'no match';
  return { kind, message: `${what} does not match: ${detail}`, report: formatMatchReport(r, clipLines(text), { title: TITLES[kind] }) };
}

/** Every failing check of one outcome. */
export function judgeOutcome(expect: Expectation, program: Program, execute: boolean, out: RunOutcome): Failure[] {
  if (out.unsupported !== undefined) return [{ kind: 'unsupported', message: `unsupported by this backend: ${out.unsupported}` }];

  const wantLoad = expect.result === 'success';
  if (out.loaded !== wantLoad) {
    const message = wantLoad
      ? `expected the load to succeed, but it failed with errno ${errnoText(out.errno)}`
      : 'expected the load to fail, but it succeeded';
    return [{ kind: 'verdict', message }];
  }

  const failures: Failure[] = [];
  const push = (f: Failure | undefined): void => {
    if (f) failures.push(f);
  };

  push(patternFailure('msgs', out.log, expect.msgs));
  if (out.loaded) {
    push(patternFailure('xlated', out.xlated, expect.xlated));
    push(patternFailure('jited', out.jited, expect.jited));
  } else {
    // test_loader cannot fetch program info of a program that did not load.
    if (expect.xlated.length) failures.push({ kind: 'xlated', message: 'xlated patterns given, but the program did not load' });
    if (expect.jited.length) failures.push({ kind: 'jited', message: 'jited patterns given, but the program did not load' });
  }

  if (execute && expect.retval) {
    const rv = out.retval;
    if (!rv) failures.push({ kind: 'retval', message: 'the program was to be run, but the backend returned no retval' });
    else if (!rv.ok) failures.push({ kind: 'retval', message: `test run failed: ${rv.reason}` });
    else if (expect.retval.kind === 'value' && expect.retval.value !== POINTER_VALUE && (rv.value | 0) !== (expect.retval.value | 0)) {
      failures.push({ kind: 'retval', message: `unexpected retval: ${rv.value | 0} != ${expect.retval.value | 0}` });
    }
  }

  if (expect.stackArgDepth) {
    for (const [key, want] of Object.entries(expect.stackArgDepth)) {
      const got = out.stackArgDepth?.[depthKey(key, program)];
      if (!got) {
        failures.push({ kind: 'stack_arg_depth', message: `${key}: no stack-argument depth reported` });
      } else if (got.incoming !== want.incoming || got.outgoing !== want.outgoing) {
        failures.push({
          kind: 'stack_arg_depth',
          message: `${key}: stack-argument depth incoming ${got.incoming}, outgoing ${got.outgoing}; expected incoming ${want.incoming}, outgoing ${want.outgoing}`,
        });
      }
    }
  }
  return failures;
}

/** Apply the counting rule (see the file comment). */
export function classify(failures: readonly Failure[], skip: string | undefined, xfail: string | undefined): { status: Status; reason?: string; failures: Failure[] } {
  if (skip !== undefined) return { status: 'skip', reason: skip, failures: [] };
  if (xfail !== undefined) {
    if (failures.length > 0) return { status: 'xfail', reason: xfail, failures: [...failures] };
    return { status: 'fail', reason: 'xfail passed: remove the xfail', failures: [{ kind: 'xfail_passed', message: `xfail passed: remove the xfail (reason was: ${xfail})` }] };
  }
  if (failures.length > 0) return { status: 'fail', reason: failures[0].message, failures: [...failures] };
  return { status: 'pass', failures: [] };
}

export function digest(out: RunOutcome): OutcomeDigest {
  return {
    loaded: out.loaded,
    errno: out.errno,
    log: out.log,
    ...(out.xlated !== undefined ? { xlated: out.xlated } : {}),
    ...(out.jited !== undefined ? { jited: out.jited } : {}),
    ...(out.retval !== undefined ? { retval: out.retval } : {}),
  };
}
