// The 6.18 register liveness pre-pass (compute_live_registers): a backward data-flow over
// the CFG giving the registers r0..r9 live before each instruction, printed at log level 2 as
// the `Live regs before insn:` table and used by pruning to ignore dead registers.

import {
  BPF_ALU, BPF_ALU64, BPF_ATOMIC, BPF_CALL, BPF_CMPXCHG, BPF_END, BPF_EXIT, BPF_FETCH, BPF_JA, BPF_JMP,
  BPF_JMP32, BPF_LD, BPF_LDX, BPF_LOAD_ACQ, BPF_MOV, BPF_NEG, BPF_PSEUDO_CALL, BPF_ST, BPF_STX,
  BPF_STORE_REL, BPF_X, BPF_IMM, BPF_IND, BPF_JCOND, LD_IMM64, bpfClass, bpfMode, bpfOp, bpfSrc,
} from '../../isa/opcodes.ts';
import { printInsn } from '../../isa/disasm.ts';
import type { VerifierEnv } from '../env.ts';
import { helperArgCount } from '../helpers/protos.ts';
import { NotImplementedError } from '../errors.ts';
import { kfuncDecl, kfuncRegArgs } from '../stack-arg/kfunc.ts';
import { arenaValueAddr, isArenaValueLoad } from '../checks/arena.ts';

const R0_5 = 0x3f;
const bit = (r: number): number => (r < 10 ? 1 << r : 0);

/** Registers an instruction reads (use) and writes (def), r10 excluded. */
export function useDef(env: VerifierEnv, i: number): { use: number; def: number } {
  const s = env.slots[i];
  const cls = bpfClass(s.code);
  const op = bpfOp(s.code);
  switch (cls) {
    case BPF_ALU:
    case BPF_ALU64:
      if (op === BPF_MOV) return { use: bpfSrc(s.code) === BPF_X ? bit(s.src) : 0, def: bit(s.dst) };
      if (op === BPF_NEG || op === BPF_END) return { use: bit(s.dst), def: bit(s.dst) };
      return { use: bit(s.dst) | (bpfSrc(s.code) === BPF_X ? bit(s.src) : 0), def: bit(s.dst) };
    case BPF_LDX:
      return { use: bit(s.src), def: bit(s.dst) };
    case BPF_ST:
      return { use: bit(s.dst), def: 0 };
    case BPF_STX:
      if (bpfMode(s.code) === BPF_ATOMIC) {
        if (s.imm === BPF_LOAD_ACQ) return { use: bit(s.src), def: bit(s.dst) };
        if (s.imm === BPF_STORE_REL) return { use: bit(s.src) | bit(s.dst), def: 0 };
        if (s.imm === BPF_CMPXCHG) return { use: bit(s.dst) | bit(s.src) | 1, def: 1 };
        return { use: bit(s.dst) | bit(s.src), def: s.imm & BPF_FETCH ? bit(s.src) : 0 };
      }
      return { use: bit(s.dst) | bit(s.src), def: 0 };
    case BPF_LD:
      if (s.code === LD_IMM64 || bpfMode(s.code) === BPF_IMM) return { use: 0, def: bit(s.dst) };
      // LD_ABS/IND may end the program (an implicit exit): 6.18 keeps every register live.
      return { use: 0x3ff, def: R0_5 };
    case BPF_JMP:
    case BPF_JMP32:
      if (op === BPF_EXIT) return { use: 1, def: 0 };
      if (op === BPF_JA) return { use: 0, def: 0 };
      if (op === BPF_JCOND) return { use: 0, def: 0 };
      if (op === BPF_CALL) {
        if (s.src === BPF_PSEUDO_CALL) return { use: 0x3e, def: R0_5 };
        if (s.src === 0) {
          const n = helperArgCount(s.imm, env.prog.progType, env.prog.expectedAttachType);
          return { use: ((1 << (n + 1)) - 1) & ~1, def: R0_5 };
        }
        const k = kfuncRegArgs(s.imm, env.prog.progType);
        if (k === undefined) throw new NotImplementedError('liveness of kfunc calls');
        return { use: ((1 << (k + 1)) - 1) & ~1, def: R0_5 };
      }
      return { use: bit(s.dst) | (bpfSrc(s.code) === BPF_X ? bit(s.src) : 0), def: 0 };
    default:
      return { use: 0, def: 0 };
  }
}

function successors(env: VerifierEnv, i: number): number[] {
  const s = env.slots[i];
  const cls = bpfClass(s.code);
  if (s.code === LD_IMM64) return [i + 2];
  if (cls !== BPF_JMP && cls !== BPF_JMP32) return [i + 1];
  const op = bpfOp(s.code);
  if (op === BPF_EXIT) return [];
  if (op === BPF_CALL) return [i + 1];
  if (op === BPF_JA) return [i + (cls === BPF_JMP ? s.off : s.imm) + 1];
  return [i + 1, i + s.off + 1];
}

/** Fill env.aux[i].liveBefore for every instruction start. */
export function computeLiveRegisters(env: VerifierEnv): void {
  const n = env.insnCnt;
  const use = new Int32Array(n);
  const def = new Int32Array(n);
  const succ: number[][] = [];
  const starts: number[] = [];
  for (let i = 0; i < n; i++) {
    if (env.insnAt[i] === undefined && i > 0 && env.slots[i - 1].code === LD_IMM64) {
      succ.push([]);
      continue;
    }
    starts.push(i);
    const ud = useDef(env, i);
    use[i] = ud.use;
    def[i] = ud.def;
    succ.push(successors(env, i));
  }
  // A worklist over predecessors: each insn's live set only grows (at most ten bits), so
  // this is linear in the CFG size whatever the loop structure.
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (const i of starts) for (const j of succ[i]) if (j < n) preds[j].push(i);
  const liveIn = new Int32Array(n);
  const queued = new Uint8Array(n);
  const work: number[] = [];
  for (const i of starts) {
    work.push(i);
    queued[i] = 1;
  }
  while (work.length) {
    const i = work.pop()!;
    queued[i] = 0;
    let out = 0;
    for (const j of succ[i]) if (j < n) out |= liveIn[j];
    const inn = use[i] | (out & ~def[i]);
    if (inn === liveIn[i]) continue;
    liveIn[i] = inn;
    for (const p of preds[i]) {
      if (queued[p]) continue;
      queued[p] = 1;
      work.push(p);
    }
  }
  for (const i of starts) env.aux[i].liveBefore = liveIn[i];
  computeSccs(env, starts, succ);
}

/** Number the non-trivial strongly connected components (loops) for the table: Tarjan's
 *  algorithm with an explicit stack, since a program may be a million instructions long. */
function computeSccs(env: VerifierEnv, starts: number[], succ: number[][]): void {
  const n = env.insnCnt;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const nextEdge = new Int32Array(n); // the DFS's position in each node's successor list
  const comps: number[] = [];
  const dfs: number[] = [];
  let counter = 0;
  let sccNo = 0;
  const visit = (v: number): void => {
    index[v] = low[v] = counter++;
    comps.push(v);
    onStack[v] = 1;
    dfs.push(v);
  };
  for (const root of starts) {
    if (index[root] >= 0) continue;
    visit(root);
    while (dfs.length) {
      const v = dfs[dfs.length - 1];
      const edges = succ[v];
      if (nextEdge[v] < edges.length) {
        const w = edges[nextEdge[v]++];
        if (w >= n) continue;
        if (index[w] < 0) visit(w);
        else if (onStack[w]) low[v] = Math.min(low[v], index[w]);
        continue;
      }
      dfs.pop();
      if (dfs.length) {
        const parent = dfs[dfs.length - 1];
        low[parent] = Math.min(low[parent], low[v]);
      }
      if (low[v] !== index[v]) continue;
      const comp: number[] = [];
      let w: number;
      do {
        w = comps.pop()!;
        onStack[w] = 0;
        comp.push(w);
      } while (w !== v);
      const selfLoop = comp.length === 1 && edges.includes(v);
      if (comp.length > 1 || selfLoop) {
        sccNo++;
        for (const c of comp) env.aux[c].scc = sccNo;
      }
    }
  }
}

/** The level-2 table. */
export function printLiveRegs(env: VerifierEnv): void {
  const log = env.log;
  log.verbose('Live regs before insn:\n');
  for (let i = 0; i < env.insnCnt; i++) {
    const insn = env.insnAt[i];
    if (!insn) continue;
    const a = env.aux[i];
    let cols = '';
    for (let r = 0; r < 10; r++) cols += a.liveBefore & (1 << r) ? String(r) : '.';
    const scc = a.scc ? `${String(a.scc).padStart(3)} ` : '    ';
    log.verbose(`${scc}${String(i).padStart(3)}: ${cols} ${printInsn(insn, insnTextOpts(env))}\n`);
  }
}

/** Disassembly options the verifier log uses (map pointers print as kernel addresses). */
export function insnTextOpts(env: VerifierEnv): {
  allowPtrLeaks: boolean;
  immText: (insn: import('../../isa/insn.ts').Insn) => string | undefined;
  kfuncName: (insn: import('../../isa/insn.ts').Insn) => string | undefined;
} {
  return {
    allowPtrLeaks: env.allowPtrLeaks,
    // disasm_kfunc_name: the kfunc's BTF name (built-in declarations, stack-arg/kfunc.ts).
    kfuncName: (insn) => kfuncDecl(insn.imm)?.name,
    immText: (insn) => arenaValueText(env, insn) ?? (insn.src !== 0 && insn.src !== 4 ? `0x${mapAddr(insn.imm).toString(16)}` : undefined),
  };
}

/** An arena direct value prints as the user address it becomes (checks/arena.ts). */
function arenaValueText(env: VerifierEnv, insn: import('../../isa/insn.ts').Insn): string | undefined {
  if (!isArenaValueLoad(env, insn)) return undefined;
  const addr = arenaValueAddr(env.prog.maps[insn.imm], insn.next?.imm ?? 0);
  return addr === undefined ? undefined : `0x${addr.toString(16)}`;
}

/** A stand-in kernel address for map index `i`; logs mask these when comparing. */
export const mapAddr = (i: number): bigint => 0xffff888100000000n + BigInt(i) * 0x400n;
