// BPF_STX | BPF_ATOMIC read-modify-write instructions (6.18 check_atomic_rmw): the memory
// must be readable and writable as a plain load and store would; the fetch forms also load
// the old value into a register (src, or r0 for cmpxchg). load-acquire / store-release are
// not modelled.

import type { Insn } from '../../isa/insn.ts';
import {
  BPF_ADD, BPF_AND, BPF_OR, BPF_XOR, BPF_FETCH, BPF_XCHG, BPF_CMPXCHG, BPF_W, BPF_DW, BPF_LOAD_ACQ, BPF_STORE_REL,
  bpfSize, sizeBytes,
} from '../../isa/opcodes.ts';
import { RegType, baseType } from '../state/types.ts';
import { isPointer } from '../state/regs.ts';
import { regTypeStr } from '../log/state-print.ts';
import { NotImplementedError } from '../errors.ts';
import { reject, EACCES, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { checkRegRead, checkRegWrite } from './regs.ts';
import { Access, checkMemAccess } from './mem.ts';
import { saveAuxPtrType } from './ptr-type.ts';
import { arenaAtomicSupported } from './arena.ts';

const RMW = new Set([BPF_ADD, BPF_AND, BPF_OR, BPF_XOR].flatMap((op) => [op, op | BPF_FETCH]).concat([BPF_XCHG, BPF_CMPXCHG]));

export function checkAtomic(env: VerifierEnv, insn: Insn): void {
  if (insn.imm === BPF_LOAD_ACQ || insn.imm === BPF_STORE_REL) throw new NotImplementedError('load-acquire / store-release');
  if (!RMW.has(insn.imm)) throw reject(EINVAL, `BPF_ATOMIC uses invalid atomic opcode ${(insn.imm & 0xff).toString(16).padStart(2, '0')}`);
  const sz = bpfSize(insn.code);
  if (sz !== BPF_W && sz !== BPF_DW) throw reject(EINVAL, 'invalid atomic operand size');
  const regs = env.curState.frames[env.curState.curframe].regs;
  checkRegRead(env, insn.src);
  checkRegRead(env, insn.dst);
  if (insn.imm === BPF_CMPXCHG) {
    checkRegRead(env, 0);
    if (isPointer(regs[0]) && !env.allowPtrLeaks) throw reject(EACCES, 'R0 leaks addr into mem');
  }
  if (isPointer(regs[insn.src]) && !env.allowPtrLeaks) throw reject(EACCES, `R${insn.src} leaks addr into mem`);
  const dstType = baseType(regs[insn.dst].type);
  if (dstType === RegType.PTR_TO_CTX || dstType === RegType.PTR_TO_PACKET || dstType === RegType.PTR_TO_PACKET_META ||
    dstType === RegType.PTR_TO_FLOW_KEYS || dstType === RegType.PTR_TO_SOCKET || dstType === RegType.PTR_TO_SOCK_COMMON ||
    dstType === RegType.PTR_TO_TCP_SOCK || dstType === RegType.PTR_TO_XDP_SOCK ||
    (dstType === RegType.PTR_TO_ARENA && !arenaAtomicSupported(insn.imm))) {
    throw reject(EACCES, `BPF_ATOMIC stores into R${insn.dst} ${regTypeStr(regs[insn.dst].type)} is not allowed`);
  }
  let loadReg = -1;
  if (insn.imm & BPF_FETCH) {
    loadReg = insn.imm === BPF_CMPXCHG ? 0 : insn.src;
    checkRegWrite(env, loadReg);
  }
  const size = sizeBytes(sz);
  // Read first (twice for fetch: once as a check, once to fill the register), then write.
  // Atomics are always alignment-checked (strict_alignment_once).
  checkMemAccess(env, insn.dst, insn.off, size, Access.READ, undefined, undefined, false, true);
  if (loadReg >= 0) {
    const dst = { ...regs[loadReg] };
    checkMemAccess(env, insn.dst, insn.off, size, Access.READ, dst, undefined, false, true);
    Object.assign(regs[loadReg], dst);
  }
  saveAuxPtrType(env, env.insnIdx, regs[insn.dst].type, false);
  checkMemAccess(env, insn.dst, insn.off, size, Access.WRITE, undefined, { unknown: true }, false, true);
}
