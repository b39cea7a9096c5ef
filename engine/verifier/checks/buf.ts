// Accesses through PTR_TO_BUF (6.18 check_buffer_access): the key and value buffers an
// iterator program is handed (iter-targets.ts). Their size is not known when the program
// is verified; the verifier only needs a constant, non-negative offset. (It also records
// the largest offset + size reached, which the kernel compares with the map's key and
// value sizes when the iterator is attached to a map: link creation is not modelled.)
// A read-only buffer (MEM_RDONLY) refuses writes, by loads/stores and by helpers alike.

import type { RegState } from '../state/types.ts';
import { MEM_RDONLY } from '../state/types.ts';
import { isConst, constValue, fmtTnum } from '../scalar-api.ts';
import { regTypeStr } from '../log/state-print.ts';
import { reject, EACCES } from '../reject.ts';

/** `size` bytes at `off` (the instruction's offset plus the pointer's fixed offset) through
 *  the buffer pointer in `regno`; `write` for stores and for helpers that fill memory. */
export function checkBufferAccess(regno: number, reg: RegState, off: number, size: number, write: boolean): void {
  const rdonly = (reg.type & MEM_RDONLY) !== 0;
  if (rdonly && write) throw reject(EACCES, `R${regno} cannot write into ${regTypeStr(reg.type)}`);
  const kind = rdonly ? 'rdonly' : 'rdwr';
  if (off < 0) throw reject(EACCES, `R${regno} invalid ${kind} buffer access: off=${off}, size=${size}`);
  if (!isConst(reg.s) || constValue(reg.s) !== 0n) {
    throw reject(EACCES, `R${regno} invalid variable buffer offset: off=${off}, var_off=${fmtTnum(reg.s.varOff)}`);
  }
}
