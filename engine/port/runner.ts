// How test_progs drives a verifier_* file, read from the tree's prog_tests/ sources, so a
// ported suite is judged the way test_progs judges it:
//  - prog_tests/verifier.c runs most files through RUN() / run_tests_aux(), which drops
//    CAP_SYS_ADMIN for the whole file; a file run through plain RUN_TESTS() (its own
//    prog_tests/<name>.c, or RUN_TESTS in verifier.c) keeps it -> suite `sys_admin: keep`;
//  - run_tests_aux()'s pre_execution_cb: in 6.12 only init_test_val_map(), which writes one
//    struct test_val { unsigned int index; int foo[11]; } with index = 7 * sizeof(int) and
//    foo[6] = 0xabcdef12 at key 0 of the named map -> that map's `init`.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunnerFacts {
  /** The runner keeps CAP_SYS_ADMIN (RUN_TESTS). */
  readonly keepSysAdmin: boolean;
  /** Map contents written before the test run, by map name: hex key and value. */
  readonly mapSeeds: Readonly<Record<string, readonly { readonly key: string; readonly value: string }[]>>;
}

/** struct test_val as init_test_val_map() fills it (48 bytes). */
export function testValSeed(): { key: string; value: string } {
  const v = new Uint8Array(48);
  const dv = new DataView(v.buffer);
  dv.setUint32(0, 7 * 4, true);
  dv.setUint32(4 + 6 * 4, 0xabcdef12, true);
  return { key: '00000000', value: Buffer.from(v).toString('hex') };
}

/** Facts for `suite` from the selftests dir; a file no runner mentions gets the defaults of
 *  prog_tests/verifier.c (drop CAP_SYS_ADMIN, no seeds). */
export function runnerFacts(selftests: string, suite: string): RunnerFacts {
  const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  const verifierC = read(join(selftests, 'prog_tests', 'verifier.c'));
  const viaAux = new RegExp(`\\bRUN\\(\\s*${suite}\\s*\\)|run_tests_aux\\(\\s*"${suite}"`).test(verifierC);
  const viaRunTests = new RegExp(`\\bRUN_TESTS\\(\\s*${suite}\\s*\\)`).test(verifierC) ||
    new RegExp(`\\bRUN_TESTS\\(\\s*${suite}\\s*\\)`).test(read(join(selftests, 'prog_tests', `${suite}.c`)));
  const mapSeeds: Record<string, { key: string; value: string }[]> = {};
  const cb = new RegExp(`run_tests_aux\\(\\s*"${suite}"\\s*,[^,]+,\\s*([A-Za-z_]\\w*)\\s*\\)`).exec(verifierC)?.[1];
  if (cb && cb !== 'NULL') {
    const body = new RegExp(`static int ${cb}\\([^)]*\\)\\s*\\{([^}]*)\\}`).exec(verifierC)?.[1] ?? '';
    for (const m of body.matchAll(/init_test_val_map\(\s*\w+\s*,\s*"([^"]+)"\s*\)/g)) mapSeeds[m[1]] = [testValSeed()];
  }
  return { keepSysAdmin: viaRunTests && !viaAux, mapSeeds };
}
