// An assembler for the bpf_conformance / ubpf assembly dialect:
//   mov32 %r0, 1        lddw %r0, 0x1122334455667788     ldxdw %r0, [%r1+8]
//   stw [%r10-4], 7     stxb [%r1+2], %r3                jeq %r1, 0, +1 / jeq %r1, 0, label
//   call local label    call 5 / call helper 5 / call bpf_map_lookup_elem   exit
//   lock fetch add [%r1+0], %r2     be16 %r0     neg %r0    label:
// Registers are written `%rN` or `rN`. Jump targets are `+N`/`-N` slots or labels; the
// first `exit` also defines the label `exit`. Extensions for the v4 ISA follow the names
// the rest of this dialect uses: sdiv/smod, movsx{8,16,32}[32], ldxs{b,h,w}, swap{16,32,64},
// ja32 (gotol). Errors are InputErrors with the line and column.

import { InputError } from '../../engine/errors.ts';
import type { Insn, RawSlot } from '../../engine/isa/insn.ts';
import { helperId } from '../../engine/isa/helpers.ts';
import { parseU64, type SourceLine } from './format.ts';

export interface AsmResult {
  readonly insns: Insn[];
  /** Slot indices that `call local` targets (subprogram starts), plus 0. */
  readonly funcStarts: number[];
}

const ALU_OPS: Record<string, number> = {
  add: 0x00, sub: 0x10, mul: 0x20, div: 0x30, sdiv: 0x30, or: 0x40, and: 0x50, lsh: 0x60, rsh: 0x70,
  neg: 0x80, mod: 0x90, smod: 0x90, xor: 0xa0, mov: 0xb0, arsh: 0xc0,
};
const JMP_OPS: Record<string, number> = {
  jeq: 0x10, jgt: 0x20, jge: 0x30, jset: 0x40, jne: 0x50, jsgt: 0x60, jsge: 0x70, jlt: 0xa0,
  jle: 0xb0, jslt: 0xc0, jsle: 0xd0,
};
const SIZES: Record<string, number> = { w: 0x00, h: 0x08, b: 0x10, dw: 0x18 };
const ATOMIC_OPS: Record<string, number> = { add: 0x00, or: 0x40, and: 0x50, xor: 0xa0, xchg: 0xe1, cmpxchg: 0xf1 };

interface Pending {
  /** Index into `out` of the instruction to patch, and the slot it starts at. */
  readonly insn: number;
  readonly slot: number;
  readonly label: string;
  readonly field: 'off' | 'imm';
  readonly line: SourceLine;
  readonly col: number;
}

interface MutSlot {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** Map names (from `-- map`) that lddw may reference, by index. */
export type MapNames = readonly string[];

export function assembleConformance(lines: readonly SourceLine[], file: string, maps: MapNames = []): AsmResult {
  const out: MutSlot[] = [];
  /** Second slots of lddw, by first-slot index. */
  const seconds = new Map<number, MutSlot>();
  const labels = new Map<string, number>();
  const pending: Pending[] = [];
  const funcStarts = new Set<number>([0]);
  let sawExit = false;
  let slot = 0;

  for (const src of lines) {
    let text = src.text;
    const fail = (msg: string, col = 1): never => {
      throw new InputError(msg, { file, line: src.line, col });
    };
    // Labels: `name:` possibly followed by an instruction.
    const lm = /^([A-Za-z_.$][\w.$]*):\s*/.exec(text);
    if (lm) {
      if (labels.has(lm[1])) fail(`duplicate label '${lm[1]}'`);
      labels.set(lm[1], slot);
      text = text.slice(lm[0].length);
      if (!text) continue;
    }
    const sp = text.search(/\s/);
    const mnem = (sp < 0 ? text : text.slice(0, sp)).toLowerCase();
    const rest = sp < 0 ? '' : text.slice(sp + 1);
    const ops = rest.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    const opCol = (i: number): number => {
      const at = src.text.indexOf(ops[i] ?? '');
      return at >= 0 ? at + 1 : 1;
    };
    const need = (n: number): void => {
      if (ops.length !== n) fail(`'${mnem}' takes ${n} operand${n === 1 ? '' : 's'}, got ${ops.length}`);
    };
    const reg = (i: number): number => {
      const m = /^%?r(\d+)$/i.exec(ops[i] ?? '');
      if (!m || Number(m[1]) > 15) return fail(`expected a register, got '${ops[i] ?? ''}'`, opCol(i));
      return Number(m[1]);
    };
    const isReg = (i: number): boolean => /^%?r\d+$/i.test(ops[i] ?? '');
    const imm32 = (i: number): number => {
      const v = parseU64(ops[i] ?? '');
      const t = (ops[i] ?? '').trim();
      const neg = t.startsWith('-');
      if (v === undefined || (!neg && v > 0xffffffffn) || (neg && BigInt.asIntN(64, v) < -(1n << 31n))) {
        return fail(`expected a 32-bit immediate, got '${ops[i] ?? ''}'`, opCol(i));
      }
      return Number(BigInt.asIntN(32, v));
    };
    const mem = (i: number): { reg: number; off: number } => {
      const m = /^\[\s*%?r(\d+)\s*(?:([+-])\s*(0x[0-9a-f]+|\d+))?\s*\]$/i.exec(ops[i] ?? '');
      if (!m || Number(m[1]) > 15) return fail(`expected [reg+off], got '${ops[i] ?? ''}'`, opCol(i));
      const off = m[3] ? Number(BigInt(m[3])) * (m[2] === '-' ? -1 : 1) : 0;
      if (off < -32768 || off > 65535) fail(`offset ${off} does not fit 16 bits`, opCol(i));
      return { reg: Number(m[1]), off: (off << 16) >> 16 };
    };
    const target = (i: number, field: 'off' | 'imm'): number => {
      const t = ops[i] ?? '';
      if (/^[+-]/.test(t)) {
        const v = parseU64(t);
        if (v === undefined) return fail(`bad jump offset '${t}'`, opCol(i));
        const n = Number(BigInt.asIntN(64, v));
        if (field === 'off' && (n < -32768 || n > 32767)) fail(`jump offset ${n} does not fit 16 bits`, opCol(i));
        return n;
      }
      if (!/^[A-Za-z_.$][\w.$]*$/.test(t)) return fail(`bad jump target '${t}'`, opCol(i));
      pending.push({ insn: out.length, slot, label: t, field, line: src, col: opCol(i) });
      return 0;
    };
    const emit = (s: MutSlot): void => {
      out.push(s);
      slot++;
    };
    const I = (code: number, dst = 0, srcReg = 0, off = 0, imm = 0): MutSlot => ({ code, dst, src: srcReg, off, imm });

    // ---- ALU ------------------------------------------------------------------------------
    let m: RegExpExecArray | null;
    if ((m = /^(be|le|swap)(16|32|64)$/.exec(mnem))) {
      need(1);
      const code = m[1] === 'swap' ? 0xd7 : m[1] === 'be' ? 0xdc : 0xd4;
      emit(I(code, reg(0), 0, 0, Number(m[2])));
      continue;
    }
    if ((m = /^movsx(8|16|32)(32)?$/.exec(mnem))) {
      need(2);
      if (m[2] && m[1] === '32') fail('movsx32 has no 32-bit form');
      emit(I(m[2] ? 0xbc : 0xbf, reg(0), reg(1), Number(m[1])));
      continue;
    }
    if ((m = /^([a-z]+?)(32)?$/.exec(mnem)) && m[1] in ALU_OPS) {
      const op = ALU_OPS[m[1]];
      const cls = m[2] ? 0x04 : 0x07;
      const signed = m[1] === 'sdiv' || m[1] === 'smod' ? 1 : 0;
      if (op === 0x80) {
        need(1);
        emit(I(cls | op, reg(0)));
        continue;
      }
      need(2);
      if (isReg(1)) emit(I(cls | op | 0x08, reg(0), reg(1), signed));
      else emit(I(cls | op, reg(0), 0, signed, imm32(1)));
      continue;
    }

    // ---- jumps and calls ---------------------------------------------------------------
    if (mnem === 'exit') {
      need(0);
      if (!sawExit && !labels.has('exit')) labels.set('exit', slot);
      sawExit = true;
      emit(I(0x95));
      continue;
    }
    if (mnem === 'ja') {
      need(1);
      emit(I(0x05, 0, 0, target(0, 'off')));
      continue;
    }
    if (mnem === 'ja32' || mnem === 'gotol') {
      need(1);
      emit(I(0x06, 0, 0, 0, target(0, 'imm')));
      continue;
    }
    if ((m = /^([a-z]+?)(32)?$/.exec(mnem)) && m[1] in JMP_OPS) {
      need(3);
      const code = (m[2] ? 0x06 : 0x05) | JMP_OPS[m[1]];
      const d = reg(0);
      if (isReg(1)) emit(I(code | 0x08, d, reg(1), target(2, 'off')));
      else emit(I(code, d, 0, target(2, 'off'), imm32(1)));
      continue;
    }
    if (mnem === 'call') {
      const words = rest.trim().split(/\s+/).filter(Boolean);
      if (words.length === 2 && words[0] === 'local') {
        ops.splice(0, ops.length, words[1]);
        emit(I(0x85, 0, 1, 0, target(0, 'imm')));
        continue;
      }
      const kind = words.length === 2 ? words[0] : 'helper';
      const what = words.length === 2 ? words[1] : words[0];
      if (words.length < 1 || words.length > 2 || (kind !== 'helper' && kind !== 'runtime')) {
        fail(`call takes 'N', 'helper N', 'runtime N', 'local LABEL' or a helper name`);
      }
      const byName = /^[a-z_]\w*$/i.test(what) ? helperId(what) : undefined;
      if (/^[a-z_]\w*$/i.test(what) && byName === undefined) fail(`unknown helper '${what}'`);
      const v = byName ?? parseU64(what);
      if (v === undefined) fail(`bad call target '${what}'`);
      emit(I(0x85, 0, kind === 'runtime' ? 2 : 0, 0, Number(BigInt.asIntN(32, BigInt(v as number | bigint)))));
      continue;
    }
    if (mnem === 'callx') {
      need(1);
      emit(I(0x8d, reg(0)));
      continue;
    }

    // ---- loads and stores ----------------------------------------------------------------
    if (mnem === 'lddw') {
      need(2);
      const d = reg(0);
      const t = ops[1];
      const mm = /^(map_by_fd|map_by_idx|map_val_by_fd|map_val_by_idx|code_addr)\(\s*([\w.$]+)\s*\)\s*(?:\+\s*(\d+))?$/.exec(t);
      if (mm) {
        const kind = mm[1];
        if (kind === 'code_addr') {
          pending.push({ insn: out.length, slot, label: mm[2], field: 'imm', line: src, col: opCol(1) });
          emit(I(0x18, d, 4, 0, 0));
          seconds.set(out.length - 1, I(0, 0, 0, 0, 0));
          slot++;
          continue;
        }
        const idx = /^\d+$/.test(mm[2]) ? Number(mm[2]) : maps.indexOf(mm[2]);
        if (idx < 0) fail(`unknown map '${mm[2]}'`, opCol(1));
        const srcReg = { map_by_fd: 1, map_val_by_fd: 2, map_by_idx: 5, map_val_by_idx: 6 }[kind] as number;
        emit(I(0x18, d, srcReg, 0, idx));
        seconds.set(out.length - 1, I(0, 0, 0, 0, Number(mm[3] ?? 0)));
        slot++;
        continue;
      }
      const v = parseU64(t);
      if (v === undefined) fail(`expected a 64-bit immediate, got '${t}'`, opCol(1));
      const u = v as bigint;
      emit(I(0x18, d, 0, 0, Number(BigInt.asIntN(32, u & 0xffffffffn))));
      seconds.set(out.length - 1, I(0, 0, 0, 0, Number(BigInt.asIntN(32, u >> 32n))));
      slot++;
      continue;
    }
    if ((m = /^ldx(s)?(b|h|w|dw)$/.exec(mnem))) {
      need(2);
      if (m[1] && m[2] === 'dw') fail('ldxsdw does not exist');
      const a = mem(1);
      emit(I((m[1] ? 0x81 : 0x61) | SIZES[m[2]], reg(0), a.reg, a.off));
      continue;
    }
    if ((m = /^st(x)?(b|h|w|dw)$/.exec(mnem))) {
      need(2);
      const a = mem(0);
      if (m[1]) emit(I(0x63 | SIZES[m[2]], a.reg, reg(1), a.off));
      else emit(I(0x62 | SIZES[m[2]], a.reg, 0, a.off, imm32(1)));
      continue;
    }
    if ((m = /^ld(abs|ind)(b|h|w)$/.exec(mnem))) {
      if (m[1] === 'abs') { need(1); emit(I(0x20 | SIZES[m[2]], 0, 0, 0, imm32(0))); }
      else { need(2); emit(I(0x40 | SIZES[m[2]], 0, reg(0), 0, imm32(1))); }
      continue;
    }
    if (mnem === 'lock') {
      // lock [fetch] op[32] [dst+off], src
      const words = /^(fetch\s+)?([a-z]+?)(32)?\s+(.*)$/.exec(rest.trim());
      if (!words || !(words[2] in ATOMIC_OPS)) fail(`bad atomic operation '${rest.trim()}'`);
      const w = words as RegExpExecArray;
      const aops = w[4].split(',').map((s) => s.trim());
      ops.splice(0, ops.length, ...aops);
      need(2);
      const a = mem(0);
      let imm = ATOMIC_OPS[w[2]];
      if (w[1] && imm < 0xe0) imm |= 1;
      emit(I(w[3] ? 0xc3 : 0xdb, a.reg, reg(1), a.off, imm));
      continue;
    }
    fail(`unknown mnemonic '${mnem}'`);
  }

  for (const p of pending) {
    const to = labels.get(p.label);
    if (to === undefined) throw new InputError(`undefined label '${p.label}'`, { file, line: p.line.line, col: p.col });
    const rel = to - p.slot - 1;
    const s = out[p.insn];
    if (s.code === 0x85 && s.src === 1) funcStarts.add(to);
    if (s.code === 0x18) funcStarts.add(to);
    if (p.field === 'off') {
      if (rel < -32768 || rel > 32767) throw new InputError(`jump to '${p.label}' does not fit 16 bits`, { file, line: p.line.line, col: p.col });
      s.off = rel;
    } else s.imm = rel;
  }

  // Fold lddw's second slot into the Insn.
  const insns: Insn[] = [];
  for (let i = 0; i < out.length; i++) {
    const s = out[i];
    const second = seconds.get(i);
    if (second) insns.push({ ...s, next: second as RawSlot });
    else insns.push({ ...s });
  }
  return { insns, funcStarts: [...funcStarts].sort((a, b) => a - b) };
}
