// 32-bit sub-register definitions: which ones have their upper half read later, and the
// pass that, under BPF_F_TEST_RND_HI32, fills the upper half of every other one with random
// bits (opt_subreg_zext_lo32_rnd_hi32). x86-64 zero-extends in hardware, so the only
// explicit zero-extension kept there is the one after a 32-bit CMPXCHG.
//
// The kernel notes "read as 64 bits" while walking paths (each register remembers the insn
// that last defined it as 32 bits). We get the same facts from a backward dataflow over the
// instructions do_check reached, following only the branch directions it took: a 32-bit def
// of rX needs zero-extension iff some path from it reads rX as 64 bits before redefining it.
// Calls pass r1..r5 into the callee and r0 back out of its exits.

import type { RawSlot } from '../../isa/insn.ts';
import {
  BPF_ABS, BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_EXIT, BPF_IND, BPF_JA, BPF_JMP, BPF_JMP32,
  BPF_K, BPF_LD, BPF_LDX, BPF_LSH, BPF_MOV, BPF_OR, BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, BPF_ST, BPF_STX, BPF_X, LD_IMM64,
  bpfClass, bpfMode, bpfOp, bpfSrc,
} from '../../isa/opcodes.ts';
import { RegType } from '../state/types.ts';
import { helperArgCount } from '../helpers/protos.ts';
import { kernelKfunc } from '../kfunc/meta.ts';
import { kernelBtf, resolved } from '../btf-types.ts';
import { typeSize } from '../../btf/index.ts';
import { defIs64, insnDefRegno, readIs64 } from './regs64.ts';
import type { XProg } from './xprog.ts';
import { arenaDef32 } from './arena.ts';

/** The verifier's scratch register (BPF_REG_AX), printed as r11. */
export const BPF_REG_AX = 11;

const ARGS = 0b111110; // r1..r5
const CLOBBER = 0b111111; // r0..r5

/** Registers read as 64 bits (mask) and registers written (mask) by one instruction. */
/** A kfunc reads only its 8-byte (pointer, u64) arguments as 64 bits: 32-bit ones keep
 *  their upper half unread (mark_btf_func_reg_size), so their defs are not zero-extended. */
function kfuncReads64(insn: RawSlot): number {
  const k = insn.off ? undefined : kernelKfunc(insn.imm);
  if (!k) return 0b111110;
  const btf = kernelBtf();
  let use = 0;
  k.params.forEach((p, i) => {
    const t = resolved(btf, p.typeId);
    if (t.kind === 'PTR' || typeSize(btf, p.typeId) === 8) use |= 1 << (i + 1);
  });
  return use;
}

function useDef(insn: RawSlot): { use: number; def: number } {
  const cls = bpfClass(insn.code);
  const op = bpfOp(insn.code);
  const bit = (r: number): number => 1 << r;
  let use = 0;
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    if (op !== BPF_MOV || bpfSrc(insn.code) === BPF_X) {
      if (bpfSrc(insn.code) === BPF_X && readIs64(insn, insn.src)) use |= bit(insn.src);
    }
    if (op !== BPF_MOV && readIs64(insn, insn.dst)) use |= bit(insn.dst);
    return { use, def: bit(insn.dst) };
  }
  if (cls === BPF_JMP || cls === BPF_JMP32) {
    if (op === BPF_EXIT) return { use: bit(0), def: 0 };
    if (op === BPF_CALL) {
      if (insn.src === BPF_PSEUDO_CALL) return { use: 0, def: CLOBBER }; // handled by the caller
      if (insn.src === BPF_PSEUDO_KFUNC_CALL) return { use: kfuncReads64(insn), def: CLOBBER };
      const n = insn.src === 0 ? helperArgCount(insn.imm) : 5;
      for (let r = 1; r <= n; r++) use |= bit(r);
      return { use, def: CLOBBER };
    }
    if (op === BPF_JA) return { use: 0, def: 0 };
    if (readIs64(insn, insn.dst)) use |= bit(insn.dst);
    if (bpfSrc(insn.code) === BPF_X && readIs64(insn, insn.src)) use |= bit(insn.src);
    return { use, def: 0 };
  }
  if (cls === BPF_LDX) return { use: bit(insn.src), def: bit(insn.dst) };
  if (cls === BPF_ST) return { use: bit(insn.dst), def: 0 };
  if (cls === BPF_STX) {
    use |= bit(insn.dst);
    // A register holding a 32-bit def is a scalar, so only the store width matters.
    if (readIs64(insn, insn.src)) use |= bit(insn.src);
    if (bpfMode(insn.code) === BPF_ATOMIC && insn.imm === BPF_CMPXCHG && readIs64(insn, 0)) use |= bit(0);
    const d = insnDefRegno(insn);
    return { use, def: d >= 0 ? bit(d) : 0 };
  }
  if (cls === BPF_LD) {
    if (insn.code === LD_IMM64) return { use: 0, def: bit(insn.dst) };
    const mode = bpfMode(insn.code);
    if (mode === BPF_ABS || mode === BPF_IND) {
      use = bit(6) | (mode === BPF_IND ? bit(insn.src) : 0);
      return { use, def: CLOBBER };
    }
  }
  return { use: 0, def: 0 };
}

/**
 * Mark `zextDst` on every reached slot whose 32-bit result is later read as 64 bits.
 * Conditional jumps follow only the directions do_check reached.
 */
export function markZextDst(x: XProg): void {
  const n = x.len;
  const seen = (i: number): boolean => i >= 0 && i < n && x.aux[i].seen;
  const isFirst: boolean[] = new Array<boolean>(n).fill(true);
  for (let i = 0; i < n; i++) if (x.slots[i].code === LD_IMM64 && i + 1 < n) isFirst[i + 1] = false;

  // Call sites per subprog start, for returns.
  const returnSites = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const s = x.slots[i];
    if (isFirst[i] && seen(i) && s.code === (BPF_JMP | BPF_CALL) && s.src === BPF_PSEUDO_CALL) {
      const t = i + s.imm + 1;
      returnSites.set(t, [...(returnSites.get(t) ?? []), i + 1]);
    }
  }

  const succ = (i: number): number[] => {
    const s = x.slots[i];
    const cls = bpfClass(s.code);
    if (s.code === LD_IMM64) return [i + 2];
    if (cls !== BPF_JMP && cls !== BPF_JMP32) return [i + 1];
    const op = bpfOp(s.code);
    if (op === BPF_EXIT) {
      const sp = x.subprogOf(i);
      return sp === 0 ? [] : returnSites.get(x.subprogStarts[sp]) ?? [];
    }
    if (op === BPF_CALL) return [i + 1];
    if (op === BPF_JA) return [i + (cls === BPF_JMP32 ? s.imm : s.off) + 1];
    const out: number[] = [];
    if (seen(i + 1)) out.push(i + 1);
    if (seen(i + s.off + 1)) out.push(i + s.off + 1);
    return out;
  };

  // Per reached slot, once (the fixed point below may take several rounds): successors in
  // range, and how the slot transforms the registers live after it.
  const succs: number[][] = new Array<number[]>(n);
  const kind = new Uint8Array(n); // 0: use/def, 1: static call, 2: subprog exit
  const uses = new Int32Array(n);
  const defs = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (!isFirst[i] || !seen(i)) continue;
    const s = x.slots[i];
    succs[i] = succ(i).filter((j) => j < n);
    const isExit = bpfClass(s.code) === BPF_JMP && bpfOp(s.code) === BPF_EXIT;
    if (s.code === (BPF_JMP | BPF_CALL) && s.src === BPF_PSEUDO_CALL) kind[i] = 1;
    else if (isExit && x.subprogOf(i) !== 0) kind[i] = 2;
    else {
      const { use, def } = useDef(s);
      uses[i] = use;
      defs[i] = def;
    }
  }

  // liveIn[i]: registers read as 64 bits on some path from slot i before a redefinition.
  const liveIn = new Int32Array(n);
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = n - 1; i >= 0; i--) {
      const ss = succs[i];
      if (!ss) continue;
      let out = 0;
      for (const j of ss) out |= liveIn[j];
      let v: number;
      if (kind[i] === 1) {
        const entry = i + x.slots[i].imm + 1;
        v = (out & ~CLOBBER) | (entry < n ? liveIn[entry] & ARGS : 0);
      } else if (kind[i] === 2) {
        // A subprog exit passes only r0 back; the return site's other registers are the caller's.
        v = out & 1;
      } else {
        v = (out & ~defs[i]) | uses[i];
      }
      if (v !== liveIn[i]) {
        liveIn[i] = v;
        changed = true;
      }
    }
  }

  for (let i = 0; i < n; i++) {
    if (!isFirst[i] || !seen(i)) continue;
    const s = x.slots[i];
    const d = insnDefRegno(s);
    if (d < 0 || (defIs64(s) && !arenaDef32(s, x.aux[i]))) continue;
    let after = 0;
    for (const j of succs[i]) after |= liveIn[j];
    if (after & (1 << d)) x.aux[i].zextDst = true;
  }
}

/** Deterministic stand-in for get_random_u32(): xorshift32 from a fixed seed, so the same
 *  program always gets the same xlated text (tests mask these values anyway). */
export function rndHi32Source(seed = 0x2545f491): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s | 0;
  };
}

/** opt_subreg_zext_lo32_rnd_hi32 for x86-64 (no JIT-requested zero-extension). */
export function zextPass(x: XProg, rndHi32: boolean, rnd: () => number = rndHi32Source()): void {
  for (let i = 0; i < x.len; i++) {
    const insn = x.slots[i];
    const aux = x.aux[i];
    if (insn.code === LD_IMM64) {
      i++;
      continue;
    }
    const reg = insnDefRegno(insn);
    if (!aux.zextDst) {
      if (!rndHi32 || reg === -1 || defIs64(insn)) continue;
      // A ctx load may become a wider load: leave it alone.
      if (bpfClass(insn.code) === BPF_LDX && aux.ptrType === RegType.PTR_TO_CTX) continue;
      x.patch(i, [
        insn,
        { code: BPF_ALU64 | BPF_MOV | BPF_K, dst: BPF_REG_AX, src: 0, off: 0, imm: rnd() },
        { code: BPF_ALU64 | BPF_LSH | BPF_K, dst: BPF_REG_AX, src: 0, off: 0, imm: 32 },
        { code: BPF_ALU64 | BPF_OR | BPF_X, dst: reg, src: BPF_REG_AX, off: 0, imm: 0 },
      ]);
      i += 3;
      continue;
    }
    // CMPXCHG always loads r0; some CPUs only on success, so it is zero-extended explicitly.
    if (bpfClass(insn.code) === BPF_STX && bpfMode(insn.code) === BPF_ATOMIC && insn.imm === BPF_CMPXCHG && reg >= 0) {
      x.patch(i, [insn, { code: BPF_ALU | BPF_MOV | BPF_X, dst: reg, src: reg, off: 0, imm: 1 }]);
      i += 1;
    }
  }
}
