// The corpus retval cases (bytecode, maps and the live kernel's retval of every ported 6.12
// test with a __retval), recorded by `make retval-parity` into the git-ignored cache: they are
// ported kernel programs, so they are never committed. Tests that need them say why they
// cannot run when the cache is missing.

import { existsSync, readFileSync } from 'node:fs';
import { parseRunCaseFixture, type RunCaseFixture } from '../../engine/runtime/run-case.ts';

export const CORPUS = new URL('../../.cache/kernel-selftests/specs', import.meta.url).pathname;
export const CASES = new URL('../../.cache/kernel-selftests/runtime-corpus-retval.json', import.meta.url).pathname;

export function loadCorpusRetvalCases(): { ok: true; fixture: RunCaseFixture } | { ok: false; reason: string } {
  if (!existsSync(CASES)) return { ok: false, reason: `no ${CASES}: run 'make kernel-selftests retval-parity' (root) first` };
  return { ok: true, fixture: parseRunCaseFixture(readFileSync(CASES, 'utf8')) };
}
