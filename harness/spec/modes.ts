// Which runs a test has (privileged / unprivileged) and what each must show, resolved the
// way test_loader's parse_test_spec does it:
//
// - Tags that name the privileged run (`expect:` keys: result, msgs, xlated, jited for the
//   host arch, retval, stack_arg_depth; `auxiliary`) turn the PRIV run on; tags of the
//   unprivileged run (`unpriv:` keys, `auxiliary_unpriv`, `caps_unpriv`) turn UNPRIV on.
//   Nothing at all means a PRIV run expecting success.
// - The unprivileged run takes from the privileged one whatever it does not say itself:
//   the result, the retval, and each pattern list (msgs, xlated, jited) as a whole, only when
//   its own list is empty.
// - __jited patterns only count for the host arch (x86_64); other arches' lists are kept out,
//   and (as in the kernel) they do not turn a run on by themselves.

import type { Expectation, PatternSpec, RetvalSpec, StackArgDepthSpec } from './types.ts';

/** One expectation block as written (undefined = key absent). */
export interface RawExpectation {
  readonly result?: 'success' | 'failure';
  readonly msgs?: readonly PatternSpec[];
  readonly xlated?: readonly PatternSpec[];
  /** Host-arch jited list only. */
  readonly jited?: readonly PatternSpec[];
  readonly retval?: RetvalSpec;
  readonly stackArgDepth?: Readonly<Record<string, StackArgDepthSpec>>;
  readonly stderr?: readonly PatternSpec[];
  readonly stdout?: readonly PatternSpec[];
}

/** Does this block turn its run on? (Only keys that are kernel mode tags, or ours.) */
export function setsMode(e: RawExpectation | undefined): boolean {
  if (!e) return false;
  return (
    e.result !== undefined ||
    (e.msgs?.length ?? 0) > 0 ||
    (e.xlated?.length ?? 0) > 0 ||
    (e.jited?.length ?? 0) > 0 ||
    e.retval !== undefined ||
    e.stackArgDepth !== undefined
  );
}

export interface ModeInput {
  readonly expect?: RawExpectation;
  readonly unpriv?: RawExpectation;
  readonly auxiliary?: boolean;
  readonly auxiliaryUnpriv?: boolean;
  readonly capsUnpriv?: boolean;
}

export function resolveModes(t: ModeInput): { priv?: Expectation; unpriv?: Expectation } {
  let priv = setsMode(t.expect) || t.auxiliary === true;
  const unpriv = setsMode(t.unpriv) || t.auxiliaryUnpriv === true || t.capsUnpriv === true;
  if (!priv && !unpriv) priv = true;
  const p = t.expect ?? {};
  const u = t.unpriv ?? {};
  const privExp: Expectation = {
    result: p.result ?? 'success',
    msgs: p.msgs ?? [],
    xlated: p.xlated ?? [],
    jited: p.jited ?? [],
    ...(p.retval ? { retval: p.retval } : {}),
    ...(p.stackArgDepth ? { stackArgDepth: p.stackArgDepth } : {}),
    ...(p.stderr?.length ? { stderr: p.stderr } : {}),
    ...(p.stdout?.length ? { stdout: p.stdout } : {}),
  };
  const pick = (own: readonly PatternSpec[] | undefined, inherited: readonly PatternSpec[]) => (own && own.length > 0 ? own : inherited);
  const retval = u.retval ?? privExp.retval;
  const depth = u.stackArgDepth ?? privExp.stackArgDepth;
  const unprivExp: Expectation = {
    result: u.result ?? privExp.result,
    msgs: pick(u.msgs, privExp.msgs),
    xlated: pick(u.xlated, privExp.xlated),
    jited: pick(u.jited, privExp.jited),
    ...(retval ? { retval } : {}),
    ...(depth ? { stackArgDepth: depth } : {}),
    // Streams are inherited as whole lists, like the other pattern lists.
    ...(u.stderr?.length || privExp.stderr ? { stderr: pick(u.stderr, privExp.stderr ?? []) } : {}),
    ...(u.stdout?.length || privExp.stdout ? { stdout: pick(u.stdout, privExp.stdout ?? []) } : {}),
  };
  return { ...(priv ? { priv: privExp } : {}), ...(unpriv ? { unpriv: unprivExp } : {}) };
}
