// Test-only backend module for --backend both: the 'engine' and 'kernel' answers differ on
// purpose, chosen by the program name:
//   same       both load, retval 0, same log
//   verdict    engine loads, kernel rejects with EACCES and a level-1 log
//   retval     both load; engine returns 1, kernel 2
//   jited      kernel gives JIT text, engine none (absent, not a difference)
//   skipk      the kernel skips (not compared)

import type { Backend, RunOutcome, RunRequest } from '../../harness/backend.ts';

const LOG1 = '0: R1=ctx() R10=fp0\n0: (79) r0 = *(u64 *)(r2 +0)\nR2 !read_ok\nprocessed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n';
const JITED = 'func #0:\n0:\t55                                  \tpushq\t%rbp\n1:\tc9                                  \tleave\n2:\tc3                                  \tretq\n\n';

function answer(kernel: boolean, req: RunRequest): RunOutcome {
  const ok = (value: number, extra: Partial<RunOutcome> = {}): RunOutcome => ({ loaded: true, errno: 0, log: '', ...(req.execute ? { retval: { ok: true, value } } : {}), ...extra });
  switch (req.program.name) {
    case 'same':
      return ok(0);
    case 'verdict':
      return kernel ? { loaded: false, errno: 13, log: LOG1 } : ok(0);
    case 'retval':
      return ok(kernel ? 2 : 1);
    case 'jited':
      return ok(0, kernel ? { jited: JITED } : {});
    case 'skipk':
      return kernel ? { loaded: false, errno: 0, log: '', skip: 'not on this machine' } : ok(0);
  }
  throw new Error(`diff fake backend: no behaviour for '${req.program.name}'`);
}

export function createBackend(name: 'engine' | 'kernel'): Backend {
  return { name, run: async (req) => answer(name === 'kernel', req) };
}
