// check_alu_op: reserved-field checks, then the transfer for scalars (via the numeric core)
// and for pointer arithmetic (adjust_ptr_min_max_vals), with the kernel's messages.

import type { Insn } from '../../isa/insn.ts';
import {
  BPF_ALU64, BPF_ADD, BPF_SUB, BPF_AND, BPF_OR, BPF_XOR, BPF_DIV, BPF_MOD, BPF_LSH, BPF_RSH, BPF_ARSH,
  BPF_MOV, BPF_NEG, BPF_END, BPF_X, BPF_TO_LE, bpfClass, bpfOp, bpfSrc,
} from '../../isa/opcodes.ts';
import { RegType, baseType, mayBeNull } from '../state/types.ts';
import type { RegState } from '../state/types.ts';
import { markKnown, markScalar, markUnknown, isPointer } from '../state/regs.ts';
import { scalarAlu, scalarConst, immBounds, isConst, constValue, ptrAddVar, ptrSubVar, ptrKeep, S64_MIN } from '../scalar-api.ts';
import { regTypeStr } from '../log/state-print.ts';
import { reject, EACCES, EINVAL } from '../reject.ts';
import type { VerifierEnv } from '../env.ts';
import { checkRegRead, checkRegWrite } from './regs.ts';
import { BPF_ADDR_SPACE_CAST, addrSpaceCast, arenaAlu, checkAddrSpaceCastFields } from './arena.ts';
import { markChainPrecision } from '../precision/backtrack.ts';
import { assignScalarIdBeforeMov, clearScalarId, linkAfterAlu } from './linked-regs.ts';
import { isPointerValue, newSanitizeInfo, sanitizeCheckBounds, sanitizePtrAlu, sanitizePtrAluCommit, sanitizeValAlu } from '../unpriv/sanitize.ts';

// bpf_alu_string, as the messages print it.
const ALU_STR = ['+=', '-=', '*=', '/=', '|=', '&=', '<<=', '>>=', 'neg', '%=', '^=', '=', 's>>=', 'endian'];

export function checkAluOp(env: VerifierEnv, insn: Insn): void {
  const regs = env.curState.frames[env.curState.curframe].regs;
  const op = bpfOp(insn.code);
  const is64 = bpfClass(insn.code) === BPF_ALU64;
  const srcX = bpfSrc(insn.code) === BPF_X;

  if (op === BPF_END || op === BPF_NEG) {
    if (op === BPF_NEG) {
      if (srcX || insn.src !== 0 || insn.off !== 0 || insn.imm !== 0) throw reject(EINVAL, 'BPF_NEG uses reserved fields');
    } else if (insn.src !== 0 || insn.off !== 0 || (insn.imm !== 16 && insn.imm !== 32 && insn.imm !== 64) || (is64 && bpfSrc(insn.code) !== BPF_TO_LE)) {
      throw reject(EINVAL, 'BPF_END uses reserved fields');
    }
    checkRegRead(env, insn.dst);
    if (isPointerValue(env, regs[insn.dst])) throw reject(EACCES, `R${insn.dst} pointer arithmetic prohibited`);
    checkRegWrite(env, insn.dst);
    // A privileged loader may negate or swap a pointer: the result is just unknown.
    if (isPointer(regs[insn.dst])) return markUnknown(regs[insn.dst]);
    markScalar(regs[insn.dst], scalarAlu(op, is64, regs[insn.dst].s, scalarConst(0n), insn.off, insn.imm, bpfSrc(insn.code) !== 0));
    return;
  }

  if (op === BPF_MOV) {
    if (srcX) {
      if (!is64) {
        if ((insn.off !== 0 && insn.off !== 8 && insn.off !== 16) || insn.imm) throw reject(EINVAL, 'BPF_MOV uses reserved fields');
      } else if (insn.off === BPF_ADDR_SPACE_CAST) {
        checkAddrSpaceCastFields(env, insn);
      } else if ((insn.off !== 0 && insn.off !== 8 && insn.off !== 16 && insn.off !== 32) || insn.imm) {
        throw reject(EINVAL, 'BPF_MOV uses reserved fields');
      }
      checkRegRead(env, insn.src);
    } else if (insn.src !== 0 || insn.off !== 0) {
      throw reject(EINVAL, 'BPF_MOV uses reserved fields');
    }
    checkRegWrite(env, insn.dst);
    const dst = regs[insn.dst];
    if (!srcX) {
      markKnown(dst, is64 ? BigInt(insn.imm) : BigInt(insn.imm >>> 0));
      return;
    }
    if (is64 && insn.off === BPF_ADDR_SPACE_CAST) return addrSpaceCast(dst, insn.imm);
    const src = regs[insn.src];
    if (is64 && insn.off === 0) {
      assignScalarIdBeforeMov(env, src);
      Object.assign(dst, src);
      return;
    }
    if (isPointerValue(env, src)) {
      throw reject(EACCES, is64 ? `R${insn.src} sign-extension part of pointer` : `R${insn.src} partial copy of pointer`);
    }
    if (src.type !== RegType.SCALAR_VALUE) {
      markUnknown(dst);
      return;
    }
    // movsx and 32-bit moves copy the register (precision mark included) and keep it linked
    // to the source only when the value cannot change: it fits in 32 bits (w = w), or below
    // the sign bit of the narrow type (movsx). Otherwise the copy gets no id.
    const keepsValue = insn.off === 0 ? src.s.umax <= 0xffffffffn : src.s.umax < 1n << BigInt(insn.off - 1);
    if (keepsValue) assignScalarIdBeforeMov(env, src);
    const bounds = scalarAlu(BPF_MOV, is64, src.s, src.s, insn.off);
    Object.assign(dst, src);
    dst.s = bounds;
    if (!keepsValue) clearScalarId(dst);
    return;
  }

  if (op > BPF_END) throw reject(EINVAL, `invalid BPF_ALU opcode ${(op >> 4).toString(16)}`);

  if (srcX) {
    if (insn.imm !== 0 || (insn.off !== 0 && insn.off !== 1) || (insn.off === 1 && op !== BPF_MOD && op !== BPF_DIV)) {
      throw reject(EINVAL, 'BPF_ALU uses reserved fields');
    }
    checkRegRead(env, insn.src);
  } else if (insn.src !== 0 || (insn.off !== 0 && insn.off !== 1) || (insn.off === 1 && op !== BPF_MOD && op !== BPF_DIV)) {
    throw reject(EINVAL, 'BPF_ALU uses reserved fields');
  }
  checkRegRead(env, insn.dst);
  if ((op === BPF_MOD || op === BPF_DIV) && !srcX && insn.imm === 0) throw reject(EINVAL, 'div by zero');
  if ((op === BPF_LSH || op === BPF_RSH || op === BPF_ARSH) && !srcX) {
    const size = is64 ? 64 : 32;
    if (insn.imm < 0 || insn.imm >= size) throw reject(EINVAL, `invalid shift ${insn.imm}`);
  }
  checkRegWrite(env, insn.dst);
  adjustRegMinMaxVals(env, insn, regs, op, is64, srcX);
}

function adjustRegMinMaxVals(env: VerifierEnv, insn: Insn, regs: RegState[], op: number, is64: boolean, srcX: boolean): void {
  const dst = regs[insn.dst];
  if (arenaAlu(env, insn, dst, srcX ? regs[insn.src] : undefined)) return;
  if (!srcX && !isPointer(dst)) {
    // scalar op= K, the common case: no fake source register needed.
    sanitizeValAlu(env, insn);
    const id = dst.id;
    const umax = dst.s.umax;
    const k = immBounds(insn.imm);
    markScalar(dst, scalarAlu(op, is64, dst.s, k, insn.off));
    // `rX += K` keeps rX linked to its copies, at a constant distance (linked-regs.ts).
    if (id) linkAfterAlu(env, dst, op, is64, id, umax, k);
    return;
  }
  const src: RegState = srcX ? regs[insn.src] : { ...dst, type: RegType.SCALAR_VALUE, s: immBounds(insn.imm), id: 0 };
  if (srcX && isPointer(src)) {
    if (isPointer(dst)) {
      if (op === BPF_SUB && env.allowPtrLeaks) {
        markUnknown(dst);
        return;
      }
      throw reject(EACCES, `R${insn.dst} pointer ${ALU_STR[op >> 4]} pointer prohibited`);
    }
    // scalar += pointer: the scalar's value becomes part of a pointer.
    markChainPrecision(env, insn.dst);
    const off = { ...dst };
    adjustPtr(env, insn, op, is64, dst, src, off);
    return;
  }
  if (isPointer(dst)) {
    if (srcX) markChainPrecision(env, insn.src);
    adjustPtr(env, insn, op, is64, dst, dst, src);
    return;
  }
  // A precise result needs a precise operand.
  if (srcX && dst.precise) markChainPrecision(env, insn.src);
  sanitizeValAlu(env, insn);
  // Scalar op scalar: the numeric core decides. Copies lose their link id, unless the
  // source is a constant added to or subtracted from a linked register.
  const id = dst.id;
  const umax = dst.s.umax;
  const s = scalarAlu(op, is64, dst.s, src.s, insn.off);
  markScalar(dst, s);
  if (id && srcX && insn.src !== insn.dst) linkAfterAlu(env, dst, op, is64, id, umax, src.s);
}

function adjustPtr(env: VerifierEnv, insn: Insn, op: number, is64: boolean, dst: RegState, ptr: RegState, offReg: RegState): void {
  const known = isConst(offReg.s);
  const o = offReg.s;
  // Bounds that contradict each other (a dead branch's leftovers) taint the result.
  if ((known && (o.smin !== o.smax || o.umin !== o.umax)) || o.smin > o.smax || o.umin > o.umax) {
    markUnknown(dst);
    return;
  }
  if (!is64) {
    if (op === BPF_SUB && env.allowPtrLeaks) {
      markUnknown(dst);
      return;
    }
    throw reject(EACCES, `R${insn.dst} 32-bit pointer arithmetic prohibited`);
  }
  if (mayBeNull(ptr.type)) {
    throw reject(EACCES, `R${insn.dst} pointer arithmetic on ${regTypeStr(ptr.type)} prohibited, null-check it first`);
  }
  const base = baseType(ptr.type);
  const v = known ? BigInt.asIntN(64, constValue(o)) : 0n;
  switch (base) {
    case RegType.PTR_TO_CTX: case RegType.PTR_TO_MAP_VALUE: case RegType.PTR_TO_MAP_KEY: case RegType.PTR_TO_STACK:
    case RegType.PTR_TO_PACKET_META: case RegType.PTR_TO_PACKET: case RegType.PTR_TO_TP_BUFFER: case RegType.PTR_TO_BTF_ID:
    case RegType.PTR_TO_MEM: case RegType.PTR_TO_BUF: case RegType.PTR_TO_FUNC: case RegType.CONST_PTR_TO_DYNPTR:
      break;
    default: {
      const allowed = (base === RegType.PTR_TO_FLOW_KEYS && known) ||
        ((base === RegType.PTR_TO_FLOW_KEYS || base === RegType.CONST_PTR_TO_MAP) && known && v === 0n && op === BPF_ADD);
      if (!allowed) throw reject(EACCES, `R${insn.dst} pointer arithmetic on ${regTypeStr(ptr.type)} prohibited`);
    }
  }
  // `scalar += pointer`: the destination becomes a copy of the pointer first.
  const p: RegState = { ...ptr };
  if (dst !== ptr) Object.assign(dst, p);
  checkRegSaneOffset(offReg, ptr.type);
  checkRegSaneOffset(p, ptr.type);
  // Spectre v1 masking (unpriv/sanitize.ts): the pass before the move.
  const info = newSanitizeInfo();
  sanitizePtrAlu(env, insn, ptr, offReg, dst === ptr, info);
  const isPkt = base === RegType.PTR_TO_PACKET || base === RegType.PTR_TO_PACKET_META;
  if (op === BPF_ADD) {
    const sum = BigInt(p.off) + v;
    if (known && sum === BigInt.asIntN(32, sum)) {
      // ptr += K folds into the fixed offset.
      dst.s = ptrKeep(p.s);
      dst.off = Number(sum);
    } else {
      dst.s = ptrAddVar(p.s, o);
      dst.off = p.off;
      if (isPkt) {
        // A new variable offset: a new packet pointer with nothing known readable.
        dst.id = ++env.idGen;
        dst.range = 0;
      }
    }
  } else if (op === BPF_SUB) {
    if (dst !== ptr) throw reject(EACCES, `R${insn.dst} tried to subtract pointer from scalar`);
    if (ptr.type === RegType.PTR_TO_STACK) throw reject(EACCES, `R${insn.dst} subtraction from stack pointer prohibited`);
    const diff = BigInt(p.off) - v;
    if (known && diff === BigInt.asIntN(32, diff)) {
      dst.s = ptrKeep(p.s);
      dst.off = Number(diff);
    } else {
      dst.s = ptrSubVar(p.s, o);
      dst.off = p.off;
      if (isPkt) {
        dst.id = ++env.idGen;
        // Subtracting a non-negative amount keeps what is known readable past the pointer.
        if (o.smin < 0n) dst.range = 0;
      }
    }
  } else if (op === BPF_AND || op === BPF_OR || op === BPF_XOR) {
    throw reject(EACCES, `R${insn.dst} bitwise operator ${ALU_STR[op >> 4]} on pointer prohibited`);
  } else {
    throw reject(EACCES, `R${insn.dst} pointer arithmetic with ${ALU_STR[op >> 4]} operator prohibited`);
  }
  checkRegSaneOffset(dst, ptr.type);
  sanitizeCheckBounds(env, insn, dst);
  sanitizePtrAluCommit(env, insn, dst, dst === ptr, info);
}

const BPF_MAX_VAR_OFF = 1 << 29;
const MAX_VAR_OFF = BigInt(BPF_MAX_VAR_OFF);

/** check_reg_sane_offset: offsets far beyond any object are refused outright. */
function checkRegSaneOffset(reg: RegState, ptrType: number): void {
  const t = regTypeStr(ptrType);
  if (isConst(reg.s)) {
    const val = BigInt.asIntN(64, constValue(reg.s));
    if (val >= MAX_VAR_OFF || val <= -MAX_VAR_OFF) throw reject(EINVAL, `math between ${t} pointer and ${val} is not allowed`);
  }
  if (reg.off >= BPF_MAX_VAR_OFF || reg.off <= -BPF_MAX_VAR_OFF) throw reject(EINVAL, `${t} pointer offset ${reg.off} is not allowed`);
  if (reg.s.smin === S64_MIN) throw reject(EINVAL, `math between ${t} pointer and register with unbounded min value is not allowed`);
  if (reg.s.smin >= MAX_VAR_OFF || reg.s.smin <= -MAX_VAR_OFF) throw reject(EINVAL, `value ${reg.s.smin} makes ${t} pointer be out of bounds`);
}
