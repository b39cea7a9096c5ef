// A synthetic program BTF + func_info for programs with global subprograms. The kernel
// verifies a global function on its own against its BTF prototype, so without func_info it
// would treat it as static. Static-only programs need neither (kernel-oracle notes), and we
// pass none for them.
//
// The BTF is the least that makes the kernel see the prototypes FuncDef describes:
//   int and long, then per parameter type an INT of the C type's size, or a PTR to an INT /
//   to an empty STRUCT with the C struct's name (enough for the kernel to recognise a context
//   argument such as `struct __sk_buff *`, whose check is by name); then one FUNC_PROTO
//   returning int and one FUNC per subprogram, in start order. Types we cannot size from a
//   C string (typedefs other than the common fixed-width ones) are taken as 64-bit scalars.

import type { FuncDef, Program } from '../program/types.ts';
import { BPF_CALL, BPF_JMP, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, LD_IMM64, bpfClass, bpfOp } from '../isa/opcodes.ts';
import { slotOffsets } from '../isa/insn.ts';
import { BTF_KIND } from './vmlinux-btf.ts';

export interface FuncBtf {
  readonly btf: Uint8Array;
  /** struct bpf_func_info records {insn_off, type_id}. */
  readonly funcInfo: Uint8Array;
  readonly funcInfoCnt: number;
  readonly funcInfoRecSize: 8;
}

/** Slot indices where subprograms start: 0, every bpf-to-bpf call target, every
 *  BPF_PSEUDO_FUNC ld_imm64 target, and every FuncDef start. */
export function subprogStarts(prog: Program): number[] {
  const at = slotOffsets(prog.insns);
  const starts = new Set<number>([0, ...prog.funcs.map((f) => f.start)]);
  prog.insns.forEach((insn, i) => {
    const isCall = bpfClass(insn.code) === BPF_JMP && bpfOp(insn.code) === BPF_CALL && insn.src === BPF_PSEUDO_CALL;
    const isFuncRef = insn.code === LD_IMM64 && insn.src === BPF_PSEUDO_FUNC;
    if (isCall || isFuncRef) starts.add(at[i] + insn.imm + 1);
  });
  return [...starts].sort((a, b) => a - b);
}

/** BTF + func_info when some subprogram after the main one is global; undefined otherwise. */
export function funcBtfFor(prog: Program): FuncBtf | undefined {
  if (!prog.funcs.some((f) => f.start > 0 && f.linkage === 'global')) return undefined;
  const byStart = new Map(prog.funcs.map((f) => [f.start, f]));
  const funcs: FuncDef[] = subprogStarts(prog).map((start) =>
    byStart.get(start) ?? { start, name: start === 0 ? 'main' : `sub_${start}`, linkage: 'static' });

  const w = new BtfWriter();
  const intId = w.int('int', 4, true);
  const ids: number[] = [];
  for (const f of funcs) {
    const params = (f.params ?? []).map((p) => ({ name: p.name, type: w.cType(p.type) }));
    const proto = w.proto(intId, params);
    ids.push(w.func(cIdent(f.name), proto, f.linkage === 'global' ? 1 : 0));
  }
  const funcInfo = new Uint8Array(funcs.length * 8);
  const dv = new DataView(funcInfo.buffer);
  funcs.forEach((f, i) => {
    dv.setUint32(i * 8, f.start, true);
    dv.setUint32(i * 8 + 4, ids[i], true);
  });
  return { btf: w.finish(), funcInfo, funcInfoCnt: funcs.length, funcInfoRecSize: 8 };
}

const cIdent = (name: string): string => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : name.replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=\d)/, '_'));

/** Sizes of the scalar C spellings we recognise. */
function scalarSize(type: string): { size: number; signed: boolean } {
  const t = type.replace(/\b(const|volatile)\b/g, '').replace(/\s+/g, ' ').trim();
  const fixed = /^(?:__)?([us])(8|16|32|64)$/.exec(t);
  if (fixed) return { size: Number(fixed[2]) / 8, signed: fixed[1] === 's' };
  const unsigned = /\bunsigned\b/.test(t);
  const base = t.replace(/\b(un)?signed\b/g, '').trim();
  switch (base) {
    case 'char': case '_Bool': case 'bool': return { size: 1, signed: !unsigned && base === 'char' };
    case 'short': case 'short int': return { size: 2, signed: !unsigned };
    case 'int': case '': return { size: 4, signed: !unsigned };
    default: return { size: 8, signed: !unsigned }; // long, long long, size_t, unknown typedefs
  }
}

class BtfWriter {
  private readonly types: Uint8Array[] = [];
  private readonly strs: number[] = [0];
  private readonly strOff = new Map<string, number>([['', 0]]);
  private readonly memo = new Map<string, number>();

  private str(s: string): number {
    let off = this.strOff.get(s);
    if (off === undefined) {
      off = this.strs.length;
      this.strs.push(...new TextEncoder().encode(s), 0);
      this.strOff.set(s, off);
    }
    return off;
  }

  private add(name: string, kind: number, vlen: number, sizeOrType: number, extra: number[] = []): number {
    const rec = new Uint8Array(12 + extra.length * 4);
    const dv = new DataView(rec.buffer);
    dv.setUint32(0, this.str(name), true);
    dv.setUint32(4, ((kind & 0x1f) << 24) | (vlen & 0xffff), true);
    dv.setUint32(8, sizeOrType, true);
    extra.forEach((v, i) => dv.setUint32(12 + i * 4, v, true));
    this.types.push(rec);
    return this.types.length;
  }

  private once(key: string, make: () => number): number {
    let id = this.memo.get(key);
    if (id === undefined) {
      id = make();
      this.memo.set(key, id);
    }
    return id;
  }

  int(name: string, size: number, signed: boolean): number {
    return this.once(`int:${name}`, () => this.add(name, BTF_KIND.INT, 0, size, [((signed ? 1 : 0) << 24) | (size * 8)]));
  }

  /** A parameter's C type: scalar, pointer to scalar, or pointer to a named struct. */
  cType(type: string): number {
    const t = type.trim();
    if (t.endsWith('*')) {
      const inner = t.slice(0, -1).replace(/\b(const|volatile)\b/g, '').trim();
      const st = /^struct\s+([A-Za-z_]\w*)$/.exec(inner);
      const target = st
        ? this.once(`struct:${st[1]}`, () => this.add(st[1], BTF_KIND.STRUCT, 0, 0))
        : this.cType(inner === 'void' ? 'char' : inner);
      return this.once(`ptr:${target}`, () => this.add('', BTF_KIND.PTR, 0, target));
    }
    const { size, signed } = scalarSize(t);
    return this.int(`${signed ? '' : 'unsigned '}${['', 'char', 'short', '', 'int', '', '', '', 'long'][size]}`.trim(), size, signed);
  }

  proto(ret: number, params: readonly { name: string; type: number }[]): number {
    return this.add('', BTF_KIND.FUNC_PROTO, params.length, ret, params.flatMap((p) => [this.str(cIdent(p.name)), p.type]));
  }

  func(name: string, proto: number, linkage: number): number {
    return this.add(name, BTF_KIND.FUNC, linkage, proto);
  }

  finish(): Uint8Array {
    const typeLen = this.types.reduce((n, t) => n + t.length, 0);
    const out = new Uint8Array(24 + typeLen + this.strs.length);
    const dv = new DataView(out.buffer);
    dv.setUint16(0, 0xeb9f, true);
    dv.setUint8(2, 1);
    dv.setUint32(4, 24, true);
    dv.setUint32(8, 0, true);
    dv.setUint32(12, typeLen, true);
    dv.setUint32(16, typeLen, true);
    dv.setUint32(20, this.strs.length, true);
    let at = 24;
    for (const t of this.types) {
      out.set(t, at);
      at += t.length;
    }
    out.set(this.strs, at);
    return out;
  }
}
