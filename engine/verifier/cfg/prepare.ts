// The program-level passes that run before do_check, in the kernel's order:
// subprog discovery, per-subprog jump checks, instruction sanity (reserved LDX fields,
// LD_IMM64 shape, unknown opcodes) and the CFG walk (reachability, back-edges, prune points).

import {
  BPF_CALL, BPF_EXIT, BPF_JA, BPF_JMP, BPF_JMP32, BPF_LD, BPF_LDX, BPF_MEM, BPF_MEMSX, BPF_ABS, BPF_IND,
  BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
  BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_BTF_ID, BPF_K, LD_IMM64,
  bpfClass, bpfMode, bpfOp, bpfSrc,
} from '../../isa/opcodes.ts';
import type { RawSlot } from '../../isa/insn.ts';
import { NotImplementedError } from '../errors.ts';
import type { VerifierEnv } from '../env.ts';
import { reject, EINVAL, EPERM, E2BIG, EFAULT } from '../reject.ts';
import { opcodeKnown } from './opcodes-valid.ts';
import { addKfuncCall } from '../stack-arg/kfunc.ts';
import { checkMapProgCompatibility } from './map-prog.ts';
import { noteUsedMap } from '../checks/arena.ts';
import { isIterNextCall } from '../kfunc/meta.ts';
import { markCallbackCall } from '../calls/callback.ts';
import { exceptionCbSubprog, findExceptionCallbackStart, setExceptionCb } from '../kfunc/throw.ts';
import { hasFuncInfo } from '../calls/func-info.ts';

const BPF_MAX_SUBPROGS = 256;
const BPF_FUNC_tail_call = 12;

const isPseudoCall = (s: RawSlot): boolean => s.code === (BPF_JMP | BPF_CALL) && s.src === BPF_PSEUDO_CALL;
const isPseudoFunc = (s: RawSlot): boolean => s.code === LD_IMM64 && s.src === BPF_PSEUDO_FUNC;
const isKfuncCall = (s: RawSlot): boolean => s.code === (BPF_JMP | BPF_CALL) && s.src === BPF_PSEUDO_KFUNC_CALL;

function addSubprog(env: VerifierEnv, off: number): void {
  if (off >= env.insnCnt || off < 0) throw reject(EINVAL, 'call to invalid destination');
  if (env.subprogs.some((s) => s.start === off)) return;
  if (env.subprogs.length >= BPF_MAX_SUBPROGS) throw reject(E2BIG, 'too many subprograms');
  env.subprogs.push({ start: off, stackDepth: 0, hasTailCall: false, hasLdAbs: false, argCount: 5 });
  env.subprogs.sort((a, b) => a.start - b.start);
}

/** add_subprog_and_kfunc: subprog 0 plus every pseudo-call / pseudo-func target. */
export function addSubprogs(env: VerifierEnv): void {
  addSubprog(env, 0);
  for (let i = 0; i < env.insnCnt; i++) {
    const s = env.slots[i];
    if (!isPseudoCall(s) && !isPseudoFunc(s) && !isKfuncCall(s)) continue;
    if (!env.bpfCapable) {
      throw reject(EPERM, 'loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN');
    }
    if (isKfuncCall(s)) {
      addKfuncCall(env, s);
      continue;
    }
    addSubprog(env, i + s.imm + 1);
  }
  // The exception callback named by the main function's BTF tag (needs func_info).
  const cbStart = hasFuncInfo(env) ? findExceptionCallbackStart(env) : undefined;
  if (cbStart !== undefined) {
    addSubprog(env, cbStart);
    setExceptionCb(env, env.subprogs.findIndex((sp) => sp.start === cbStart));
  }
  if (env.log.level2) {
    env.subprogs.forEach((s, i) => env.log.verbose(`func#${i} @${s.start}\n`));
  }
}

/** check_subprogs: jumps stay inside their subprog; each subprog ends in exit or ja. */
export function checkSubprogs(env: VerifierEnv): void {
  let cur = 0;
  let start = env.subprogs[0].start;
  let end = env.subprogs.length > 1 ? env.subprogs[1].start : env.insnCnt;
  for (let i = 0; i < env.insnCnt; i++) {
    const code = env.slots[i].code;
    const cls = bpfClass(code);
    if (code === (BPF_JMP | BPF_CALL) && env.slots[i].src === 0 && env.slots[i].imm === BPF_FUNC_tail_call) {
      env.subprogs[cur].hasTailCall = true;
    }
    if (cls === BPF_LD && (bpfMode(code) === BPF_ABS || bpfMode(code) === BPF_IND)) env.subprogs[cur].hasLdAbs = true;
    if ((cls === BPF_JMP || cls === BPF_JMP32) && bpfOp(code) !== BPF_EXIT && bpfOp(code) !== BPF_CALL) {
      const to = code === (BPF_JMP32 | BPF_JA) ? i + env.slots[i].imm + 1 : i + env.slots[i].off + 1;
      if (to < start || to >= end) throw reject(EINVAL, `jump out of range from insn ${i} to ${to}`);
    }
    if (i === end - 1) {
      if (code !== (BPF_JMP | BPF_EXIT) && code !== (BPF_JMP32 | BPF_JA) && code !== (BPF_JMP | BPF_JA)) {
        throw reject(EINVAL, 'last insn is not an exit or jmp');
      }
      cur++;
      start = end;
      if (cur < env.subprogs.length) end = cur + 1 < env.subprogs.length ? env.subprogs[cur + 1].start : env.insnCnt;
    }
  }
}

/** The sanity part of resolve_pseudo_ldimm64 / check_and_resolve_insns. */
export function resolveInsns(env: VerifierEnv): void {
  const n = env.insnCnt;
  for (let i = 0; i < n; i++) {
    const s = env.slots[i];
    if (bpfClass(s.code) === BPF_LDX && ((bpfMode(s.code) !== BPF_MEM && bpfMode(s.code) !== BPF_MEMSX) || s.imm !== 0)) {
      throw reject(EINVAL, 'BPF_LDX uses reserved fields');
    }
    if (s.code === LD_IMM64) {
      const nx = i + 1 < n ? env.slots[i + 1] : undefined;
      if (!nx || nx.code !== 0 || nx.dst !== 0 || nx.src !== 0 || nx.off !== 0) throw reject(EINVAL, 'invalid bpf_ld_imm64 insn');
      if (s.src === 0 || s.src === BPF_PSEUDO_FUNC) {
        i++;
        continue;
      }
      if (s.src === BPF_PSEUDO_BTF_ID) throw new NotImplementedError('ld_imm64 BPF_PSEUDO_BTF_ID');
      const isValue = s.src === BPF_PSEUDO_MAP_VALUE || s.src === BPF_PSEUDO_MAP_IDX_VALUE;
      const isFd = s.src === BPF_PSEUDO_MAP_FD || s.src === BPF_PSEUDO_MAP_IDX;
      if (!isValue && !(isFd && nx.imm === 0)) throw reject(EINVAL, 'unrecognized bpf_ld_imm64 insn');
      if (s.src === BPF_PSEUDO_MAP_IDX || s.src === BPF_PSEUDO_MAP_IDX_VALUE) {
        throw new NotImplementedError('ld_imm64 map by fd_array index');
      }
      // Program.maps indexes stand in for fds (the kernel backend swaps in real fds); a
      // literal fd in a raw instruction names no map of ours (0 is stdin: not a map).
      const map = env.prog.rawMapFds?.includes(i) ? undefined : env.prog.maps[s.imm];
      if (!map) throw reject(EINVAL, `fd ${s.imm} is not pointing to valid bpf_map`);
      checkMapProgCompatibility(map, env.prog.progType);
      noteUsedMap(env, map, i);
      if (isValue) {
        const off = nx.imm >>> 0;
        if (off >= 1 << 29) throw reject(EINVAL, `direct value offset of ${off} is not allowed`);
        // An arena takes any offset inside its user range (arena_map_direct_value_addr).
        if (map.type === 'ARENA') {
          if (off > map.maxEntries * 4096) throw new NotImplementedError('direct value offset beyond the arena');
          i++;
          continue;
        }
        if (map.type !== 'ARRAY') throw new NotImplementedError(`direct value access to ${map.type} maps`);
        if (map.maxEntries !== 1) throw reject(EINVAL, 'no direct value access support for this map type');
        if (off >= map.valueSize) {
          throw reject(EINVAL, `invalid access to map value pointer, value_size=${map.valueSize} off=${off}`);
        }
      }
      i++;
      continue;
    }
    if (!opcodeKnown(s.code)) throw reject(EINVAL, `unknown opcode ${s.code.toString(16).padStart(2, '0')}`);
  }
}

const DISCOVERED = 0x10;
const EXPLORED = 0x20;
const FALLTHROUGH = 1;
const BRANCH = 2;
const DONE = 0;
const KEEP = 1;

/** check_cfg: depth-first walk from insn 0 marking prune/jump points; every insn must be
 *  reachable; back-edges only for bpf_capable loaders. */
export function checkCfg(env: VerifierEnv): void {
  const n = env.insnCnt;
  const state = new Uint8Array(n);
  const stack: number[] = [];

  const markTarget = (w: number): void => {
    env.aux[w].prunePoint = true;
    env.aux[w].jmpPoint = true;
  };

  const push = (t: number, w: number, e: number): number => {
    if (e === FALLTHROUGH && state[t] >= (DISCOVERED | FALLTHROUGH)) return DONE;
    if (e === BRANCH && state[t] >= (DISCOVERED | BRANCH)) return DONE;
    if (w < 0 || w >= n) throw reject(EINVAL, `jump out of range from insn ${t} to ${w}`);
    if (e === BRANCH) markTarget(w);
    if (state[w] === 0) {
      state[t] = DISCOVERED | e;
      state[w] = DISCOVERED;
      if (stack.length >= n) throw reject(E2BIG, '');
      stack.push(w);
      return KEEP;
    }
    if ((state[w] & 0xf0) === DISCOVERED) {
      if (env.bpfCapable) return DONE;
      throw reject(EINVAL, `back-edge from insn ${t} to ${w}`);
    }
    if (state[w] === EXPLORED) {
      state[t] = DISCOVERED | e;
      return DONE;
    }
    throw reject(EFAULT, 'insn state internal bug');
  };

  const visitCall = (t: number, size: number, visitCallee: boolean): number => {
    const r = push(t, t + size, FALLTHROUGH);
    if (r) return r;
    env.aux[t + size].prunePoint = true;
    env.aux[t + size].jmpPoint = true;
    if (visitCallee) {
      env.aux[t].prunePoint = true;
      return push(t, t + env.slots[t].imm + 1, BRANCH);
    }
    return DONE;
  };

  const visit = (t: number): number => {
    const s = env.slots[t];
    if (isPseudoFunc(s)) return visitCall(t, 2, true);
    const cls = bpfClass(s.code);
    if (cls !== BPF_JMP && cls !== BPF_JMP32) return push(t, t + (s.code === LD_IMM64 ? 2 : 1), FALLTHROUGH);
    switch (bpfOp(s.code)) {
      case BPF_EXIT:
        return DONE;
      case BPF_CALL:
        markCallbackCall(env, t);
        if (isKfuncCall(s) && isIterNextCall(env.prog.progType, s)) {
          env.aux[t].prunePoint = true;
          env.aux[t].forceCheckpoint = true;
        }
        return visitCall(t, 1, s.src === BPF_PSEUDO_CALL);
      case BPF_JA: {
        if (bpfSrc(s.code) !== BPF_K) throw reject(EINVAL, '');
        const w = t + (cls === BPF_JMP ? s.off : s.imm) + 1;
        const r = push(t, w, FALLTHROUGH);
        if (r) return r;
        markTarget(w);
        return r;
      }
      default: {
        env.aux[t].prunePoint = true;
        if (s.code === (BPF_JMP | 0xe0)) env.aux[t].forceCheckpoint = true; // may_goto
        const r = push(t, t + 1, FALLTHROUGH);
        if (r) return r;
        return push(t, t + s.off + 1, BRANCH);
      }
    }
  };

  // From the first instruction, then from the exception callback, which nothing calls.
  const cb = exceptionCbSubprog(env);
  for (const root of cb ? [0, env.subprogs[cb].start] : [0]) {
    state[root] = DISCOVERED;
    stack.push(root);
    while (stack.length) {
      const t = stack[stack.length - 1];
      const r = visit(t);
      if (r === DONE) {
        state[t] = EXPLORED;
        stack.pop();
      }
    }
  }
  for (let i = 0; i < n; i++) {
    if (state[i] !== EXPLORED) throw reject(EINVAL, `unreachable insn ${i}`);
    if (env.slots[i].code === LD_IMM64) {
      if (state[i + 1] !== 0) throw reject(EINVAL, `jump into the middle of ldimm64 insn ${i}`);
      i++;
    }
  }
}
