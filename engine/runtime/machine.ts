// The interpreter proper: a register file of (hi, lo) u32 pairs and one dispatch loop over
// pre-decoded slots. Semantics follow what a 6.18 kernel program observes after the
// verifier's rewrites (division guards, LD_ABS lowering, may_goto countdown), not the raw
// C of the kernel interpreter, since that is what a test's __retval reflects.

import type { Program } from '../program/types.ts';
import { helperName } from '../isa/helpers.ts';
import type { Code } from './decode.ts';
import { decodeProgram } from './decode.ts';
import {
  OUT, mul64, udiv64, umod64, sdiv64, smod64, lsh64, rsh64, arsh64, bswap16, bswap32, cmp64, cmp32, sext,
} from './alu.ts';
import { AddressSpace, FUNC_ADDR_HI, type Region, RuntimeFault, regionLo, fmtAddr } from './memory.ts';
import type { MapStore, RtMap } from './maps.ts';
// stack args: the r11/r12 forms and argument passing (engine/runtime/stack-args.ts)
import {
  OP_SA_FAULT, OP_SA_LOAD, OP_SA_STORE_IMM, OP_SA_STORE_REG, type StackArgState, calleeArgCounts, prepareStackArgCode,
} from './stack-args.ts';
import type { Series } from '../program/types.ts';
import { MAX_REG_ARGS } from '../program/series.ts';

/** Frames a call chain may hold (6.18 MAX_CALL_FRAMES). */
export const MAX_CALL_FRAMES = 8;
/** Bytes of stack each frame gets (6.18 MAX_BPF_STACK). */
export const MAX_BPF_STACK = 512;
/** Tail calls one run may make (6.18 MAX_TAIL_CALL_CNT). */
export const MAX_TAIL_CALL_CNT = 33;
/** may_goto budget per frame: the kernel's non-timed countdown (6.18 BPF_MAX_LOOPS). On
 *  x86-64 with the JIT, 6.18 uses a timed variant instead (refills 0xffff at a time until
 *  about 250 ms have passed); a deterministic interpreter models the counted one. */
export const BPF_MAX_LOOPS = 8 * 1024 * 1024;

/** A helper reads its arguments from r1..r5 and sets r0 (via Machine methods). */
export type HelperFn = (m: Machine) => void;
/** A kfunc, called with BPF_PSEUDO_KFUNC_CALL; keyed by BTF id (the call's imm). */
export type KfuncFn = (m: Machine) => void;

/** Packet geometry the helpers and LD_ABS need. */
export interface SkbInfo {
  readonly region: Region;
  /** Offset of skb->data (and so of LD_ABS offset 0) in the region. */
  readonly dataOff: number;
  /** skb->len from dataOff. */
  readonly len: number;
  /** Offsets relative to skb->data of the network and mac headers (for SKF_NET_OFF/LL_OFF). */
  readonly netOff: number;
  readonly macOff: number;
}

const REG_COUNT = 16;

export class Machine {
  /** Register file: lo[i], hi[i] are the low and high words of ri. */
  readonly lo = new Uint32Array(REG_COUNT);
  readonly hi = new Uint32Array(REG_COUNT);
  readonly space: AddressSpace;
  readonly codes: Code[] = [];
  /** Map table per code id: prog.maps[i] -> runtime map. */
  private readonly codeMaps: RtMap[][] = [];
  depth = 0;
  private readonly stacks: Region[] = [];
  /** r6..r10 of each caller frame: 10 words per frame. */
  private readonly saved = new Uint32Array(MAX_CALL_FRAMES * 10);
  private readonly retPc = new Int32Array(MAX_CALL_FRAMES);
  private readonly retCode: (Code | undefined)[] = new Array(MAX_CALL_FRAMES);
  private readonly mayGoto = new Float64Array(MAX_CALL_FRAMES);
  insns = 0;
  tailCalls = 0;
  /** Which code the current frame runs (for helpers that need it). */
  current!: Code;
  skb?: SkbInfo;
  ctxRegion?: Region;
  readonly trace: string[] = [];
  /** Program type, for helpers whose result depends on it (bpf_redirect). */
  progType = 'SOCKET_FILTER';
  /** bpf_get_prandom_u32 state (seeded per run) and the fake monotonic clock. */
  rngState = 0;
  clockNs = 1_000_000_000n;
  /** XDP packet bounds, moved by bpf_xdp_adjust_head/tail/meta. */
  xdp?: { region: Region; data: number; dataEnd: number; dataMeta: number };
  /** stack args: the series the program was loaded for (set before `load`), and the
   *  per-frame slots when that series has stack arguments. */
  series: Series = 'none';
  sa?: StackArgState;
  private readonly saFaults: (ReadonlyMap<number, string> | undefined)[] = [];
  private readonly saArgCounts: (ReadonlyMap<number, number> | undefined)[] = [];

  constructor(
    readonly maps: MapStore,
    readonly helpers: ReadonlyMap<number, HelperFn>,
    readonly kfuncs: ReadonlyMap<number, KfuncFn>,
    readonly maxInsns: number,
    readonly progs: readonly (Program | undefined)[],
  ) {
    this.space = maps.space;
    for (let i = 0; i < MAX_CALL_FRAMES; i++) {
      this.stacks.push(this.space.add(`stack of frame ${i}`, new Uint8Array(MAX_BPF_STACK)));
    }
  }

  /** Unmap the per-run regions (the maps stay). */
  release(): void {
    for (const r of this.stacks) this.space.release(r);
    if (this.skb) this.space.release(this.skb.region);
    if (this.ctxRegion) this.space.release(this.ctxRegion);
  }

  /** Register a program's code (once) and return it. */
  load(prog: Program): Code {
    const shared = decodeProgram(prog);
    let code = this.codes.find((c) => c.prog === prog);
    if (code) return code;
    // stack args: r11/r12 instructions get private opcodes (or a fault) for this series.
    const sa = prepareStackArgCode(shared, this.series);
    code = { ...shared, id: this.codes.length, ...(sa ? { op: sa.op } : {}) };
    this.saFaults.push(sa?.faults);
    this.saArgCounts.push(undefined);
    this.codes.push(code);
    this.codeMaps.push(prog.maps.map((d) => this.maps.ensure(d)));
    return code;
  }

  // ---- register access for helpers -------------------------------------------------------

  argU64(i: number): bigint {
    return (BigInt(this.hi[i]) << 32n) | BigInt(this.lo[i]);
  }
  argI64(i: number): bigint {
    return BigInt.asIntN(64, this.argU64(i));
  }
  argU32(i: number): number {
    return this.lo[i];
  }
  argI32(i: number): number {
    return this.lo[i] | 0;
  }
  setReg(i: number, v: bigint | number): void {
    if (typeof v === 'number') {
      // A JS number: an exact integer in [-2^53, 2^53].
      this.lo[i] = v >>> 0 === v ? v : Number(BigInt.asUintN(32, BigInt(v)));
      this.hi[i] = v >= 0 ? Math.floor(v / 0x100000000) : Number(BigInt.asUintN(64, BigInt(v)) >> 32n);
      return;
    }
    const u = BigInt.asUintN(64, v);
    this.lo[i] = Number(u & 0xffffffffn);
    this.hi[i] = Number(u >> 32n);
  }
  setR0(v: bigint | number): void {
    this.setReg(0, v);
  }
  /** Bytes at the address in register i (faults when out of bounds). */
  argMem(i: number, len: number, write = false): Uint8Array {
    return this.space.slice(this.hi[i], this.lo[i], len, write);
  }
  /** The map whose handle is in register i, or a fault. */
  argMap(i: number): RtMap {
    const m = this.maps.byHandle(this.hi[i], this.lo[i]);
    if (!m) throw new RuntimeFault(`R${i} (${fmtAddr(this.hi[i], this.lo[i])}) is not a map`);
    return m;
  }

  /** Address of a function in the current code, as a BPF_PSEUDO_FUNC ld_imm64 gives it. */
  funcAddress(code: Code, pc: number): { hi: number; lo: number } {
    return { hi: FUNC_ADDR_HI, lo: ((code.id << 20) | pc) >>> 0 };
  }

  /** Call a BPF function by address (helper callbacks): r1..r5 = args; returns r0. */
  callback(hi: number, lo: number, args: readonly bigint[]): bigint {
    const code = hi === FUNC_ADDR_HI ? this.codes[lo >>> 20] : undefined;
    const pc = lo & 0xfffff;
    if (!code || !code.funcStarts.has(pc)) {
      throw new RuntimeFault(`callback address ${fmtAddr(hi, lo)} is not a function`);
    }
    for (let i = 0; i < 5; i++) this.setReg(i + 1, args[i] ?? 0n);
    const caller = this.current;
    this.pushFrame(-1, caller);
    this.sa?.enter(this.depth, []); // stack args: a callback takes at most 5 args
    this.exec(code, pc, this.depth);
    this.popFrame();
    this.current = caller;
    return this.argU64(0);
  }

  private pushFrame(retPc: number, retCode: Code): void {
    if (this.depth + 1 >= MAX_CALL_FRAMES) {
      throw new RuntimeFault(`call stack too deep (${MAX_CALL_FRAMES} frames)`);
    }
    const base = this.depth * 10;
    for (let r = 6; r <= 10; r++) {
      this.saved[base + (r - 6) * 2] = this.lo[r];
      this.saved[base + (r - 6) * 2 + 1] = this.hi[r];
    }
    this.depth++;
    this.retPc[this.depth] = retPc;
    this.retCode[this.depth] = retCode;
    this.enterFrame();
  }

  /** Point r10 at the top of the current frame's stack; reset its may_goto budget. Stacks
   *  start zeroed per run and are not cleared per call (the kernel does not either; the
   *  verifier keeps programs from reading what they did not write, and a run stays
   *  deterministic). */
  enterFrame(): void {
    const st = this.stacks[this.depth];
    this.lo[10] = regionLo(MAX_BPF_STACK);
    this.hi[10] = st.hi;
    this.mayGoto[this.depth] = BPF_MAX_LOOPS;
  }

  private popFrame(): void {
    this.depth--;
    const base = this.depth * 10;
    for (let r = 6; r <= 10; r++) {
      this.lo[r] = this.saved[base + (r - 6) * 2];
      this.hi[r] = this.saved[base + (r - 6) * 2 + 1];
    }
  }

  private fault(code: Code, pc: number, msg: string): never {
    const f = new RuntimeFault(`insn ${pc}${code.id > 0 ? ` of ${code.prog.name}` : ''}: ${msg}`);
    f.located = true;
    throw f;
  }

  /** LD_ABS/LD_IND: the packet bytes at skb->data + off, big endian, or -1 when out of range. */
  ldAbs(off: number, size: number): number {
    const skb = this.skb;
    if (!skb) return -1;
    if (off < 0) {
      // SKF_NET_OFF (-0x100000) and SKF_LL_OFF (-0x200000) address the headers.
      if (off >= -0x100000) off = off + 0x100000 + skb.netOff;
      else if (off >= -0x200000) off = off + 0x200000 + skb.macOff;
      else return -1;
    }
    const pos = skb.dataOff + off;
    if (pos < 0 || off + size > skb.len) return -1;
    const v = skb.region.view;
    return size === 1 ? v.getUint8(pos) : size === 2 ? v.getUint16(pos, false) : v.getUint32(pos, false);
  }

  /** Run `code` from `pc` until the frame at depth `base` exits. */
  exec(entry: Code, entryPc: number, base: number): void {
    const L = this.lo, H = this.hi, space = this.space, max = this.maxInsns;
    let code = entry;
    let op = code.op, D = code.dst, S = code.src, OFF = code.off, IMM = code.imm;
    let pc = entryPc;
    let n = this.insns;
    let i = pc;
    this.current = code;
    try {
    for (;;) {
      i = pc++;
      const c = op[i];
      const d = D[i], s = S[i], imm = IMM[i];
      if (++n > max) {
        n--;
        this.fault(code, i, `instruction limit of ${max} reached`);
      }
      switch (c) {
        // ---- ALU64 ------------------------------------------------------------------------
        case 0x07: case 0x0f: { // add
          const bl = c & 8 ? L[s] : imm >>> 0, bh = c & 8 ? H[s] : imm >> 31;
          const sum = L[d] + bl;
          L[d] = sum;
          H[d] = H[d] + bh + (sum > 0xffffffff ? 1 : 0);
          break;
        }
        case 0x17: case 0x1f: { // sub
          const bl = c & 8 ? L[s] : imm >>> 0, bh = c & 8 ? H[s] : imm >> 31;
          const dif = L[d] - bl;
          L[d] = dif;
          H[d] = H[d] - bh - (dif < 0 ? 1 : 0);
          break;
        }
        case 0x27: case 0x2f: // mul
          if (c & 8) mul64(H[d], L[d], H[s], L[s]); else mul64(H[d], L[d], imm >> 31, imm >>> 0);
          L[d] = OUT[0]; H[d] = OUT[1];
          break;
        case 0x37: case 0x3f: case 0x97: case 0x9f: { // div, mod (off 1: sdiv, smod)
          const bl = c & 8 ? L[s] : imm >>> 0, bh = (c & 8 ? H[s] : imm >> 31) >>> 0;
          const isDiv = c < 0x90;
          if (bl === 0 && bh === 0) { // div by 0 -> 0; mod by 0 -> dst unchanged
            if (isDiv) { L[d] = 0; H[d] = 0; }
            break;
          }
          if (OFF[i] === 1) {
            if (bl === 0xffffffff && bh === 0xffffffff) { // x / -1 = -x; x % -1 = 0
              if (isDiv) { const l = L[d]; L[d] = -l; H[d] = ~H[d] + (l === 0 ? 1 : 0); }
              else { L[d] = 0; H[d] = 0; }
              break;
            }
            if (isDiv) sdiv64(H[d], L[d], bh, bl); else smod64(H[d], L[d], bh, bl);
          } else if (isDiv) udiv64(H[d], L[d], bh, bl);
          else umod64(H[d], L[d], bh, bl);
          L[d] = OUT[0]; H[d] = OUT[1];
          break;
        }
        case 0x47: L[d] |= imm; H[d] |= imm >> 31; break;
        case 0x4f: L[d] |= L[s]; H[d] |= H[s]; break;
        case 0x57: L[d] &= imm; H[d] &= imm >> 31; break;
        case 0x5f: L[d] &= L[s]; H[d] &= H[s]; break;
        case 0xa7: L[d] ^= imm; H[d] ^= imm >> 31; break;
        case 0xaf: L[d] ^= L[s]; H[d] ^= H[s]; break;
        case 0x67: case 0x6f: lsh64(H[d], L[d], c & 8 ? L[s] : imm); L[d] = OUT[0]; H[d] = OUT[1]; break;
        case 0x77: case 0x7f: rsh64(H[d], L[d], c & 8 ? L[s] : imm); L[d] = OUT[0]; H[d] = OUT[1]; break;
        case 0xc7: case 0xcf: arsh64(H[d], L[d], c & 8 ? L[s] : imm); L[d] = OUT[0]; H[d] = OUT[1]; break;
        case 0x87: { const l = L[d]; L[d] = -l; H[d] = ~H[d] + (l === 0 ? 1 : 0); break; }
        case 0xb7: L[d] = imm; H[d] = imm >> 31; break;
        case 0xbf: {
          const o = OFF[i];
          if (o === 8 || o === 16 || o === 32) { sext(L[s], o); L[d] = OUT[0]; H[d] = OUT[1]; }
          else if (o === 1) this.addrSpaceCast(d, s, imm);
          else { L[d] = L[s]; H[d] = H[s]; }
          break;
        }
        case 0xd7: // bswap (ALU64 | END): unconditional byte swap
          if (imm === 16) { L[d] = bswap16(L[d]); H[d] = 0; }
          else if (imm === 32) { L[d] = bswap32(L[d]); H[d] = 0; }
          else if (imm === 64) { const l = L[d]; L[d] = bswap32(H[d]); H[d] = bswap32(l); }
          else this.fault(code, i, `invalid bswap width ${imm}`);
          break;

        // ---- ALU32: results are zero-extended into the high word ------------------------
        case 0x04: L[d] = L[d] + imm; H[d] = 0; break;
        case 0x0c: L[d] = L[d] + L[s]; H[d] = 0; break;
        case 0x14: L[d] = L[d] - imm; H[d] = 0; break;
        case 0x1c: L[d] = L[d] - L[s]; H[d] = 0; break;
        case 0x24: L[d] = Math.imul(L[d], imm); H[d] = 0; break;
        case 0x2c: L[d] = Math.imul(L[d], L[s]); H[d] = 0; break;
        case 0x34: case 0x3c: case 0x94: case 0x9c: {
          const b = c & 8 ? L[s] : imm >>> 0, a = L[d];
          const isDiv = c < 0x90;
          H[d] = 0;
          if (b === 0) { if (isDiv) L[d] = 0; break; } // mod: dst's low word, zero-extended
          if (OFF[i] === 1) {
            if (b === 0xffffffff) L[d] = isDiv ? -a : 0;
            else L[d] = isDiv ? (a | 0) / (b | 0) : (a | 0) % (b | 0);
          } else L[d] = isDiv ? a / b : a % b;
          break;
        }
        case 0x44: L[d] |= imm; H[d] = 0; break;
        case 0x4c: L[d] |= L[s]; H[d] = 0; break;
        case 0x54: L[d] &= imm; H[d] = 0; break;
        case 0x5c: L[d] &= L[s]; H[d] = 0; break;
        case 0xa4: L[d] ^= imm; H[d] = 0; break;
        case 0xac: L[d] ^= L[s]; H[d] = 0; break;
        case 0x64: L[d] = L[d] << (imm & 31); H[d] = 0; break;
        case 0x6c: L[d] = L[d] << (L[s] & 31); H[d] = 0; break;
        case 0x74: L[d] = L[d] >>> (imm & 31); H[d] = 0; break;
        case 0x7c: L[d] = L[d] >>> (L[s] & 31); H[d] = 0; break;
        case 0xc4: L[d] = (L[d] | 0) >> (imm & 31); H[d] = 0; break;
        case 0xcc: L[d] = (L[d] | 0) >> (L[s] & 31); H[d] = 0; break;
        case 0x84: L[d] = -L[d]; H[d] = 0; break;
        case 0xb4: L[d] = imm; H[d] = 0; break;
        case 0xbc: {
          const o = OFF[i];
          L[d] = o === 8 || o === 16 ? (L[s] << (32 - o)) >> (32 - o) : L[s];
          H[d] = 0;
          break;
        }
        case 0xd4: // le: on a little-endian host, truncation
          if (imm === 16) L[d] &= 0xffff;
          else if (imm !== 32 && imm !== 64) this.fault(code, i, `invalid endian width ${imm}`);
          if (imm !== 64) H[d] = 0;
          break;
        case 0xdc: // be: byte swap
          if (imm === 16) { L[d] = bswap16(L[d]); H[d] = 0; }
          else if (imm === 32) { L[d] = bswap32(L[d]); H[d] = 0; }
          else if (imm === 64) { const l = L[d]; L[d] = bswap32(H[d]); H[d] = bswap32(l); }
          else this.fault(code, i, `invalid endian width ${imm}`);
          break;

        // ---- JMP / JMP32 -------------------------------------------------------------------
        case 0x05: pc += OFF[i]; break; // ja
        case 0x06: pc += imm; break; // gotol
        case 0x15: case 0x1d: case 0x25: case 0x2d: case 0x35: case 0x3d: case 0x45: case 0x4d:
        case 0x55: case 0x5d: case 0x65: case 0x6d: case 0x75: case 0x7d: case 0xa5: case 0xad:
        case 0xb5: case 0xbd: case 0xc5: case 0xcd: case 0xd5: case 0xdd:
          if (c & 8 ? cmp64(c & 0xf0, H[d], L[d], H[s], L[s]) : cmp64(c & 0xf0, H[d], L[d], (imm >> 31) >>> 0, imm >>> 0)) {
            pc += OFF[i];
          }
          break;
        case 0x16: case 0x1e: case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x46: case 0x4e:
        case 0x56: case 0x5e: case 0x66: case 0x6e: case 0x76: case 0x7e: case 0xa6: case 0xae:
        case 0xb6: case 0xbe: case 0xc6: case 0xce: case 0xd6: case 0xde:
          if (cmp32(c & 0xf0, L[d], c & 8 ? L[s] : imm >>> 0)) pc += OFF[i];
          break;
        case 0xe5: // may_goto: jump once this frame's budget is spent, else spend one
          if (s !== 0) this.fault(code, i, `unknown JCOND src ${s}`);
          if (this.mayGoto[this.depth] === 0) pc += OFF[i];
          else this.mayGoto[this.depth]--;
          break;
        case 0x85: {
          this.insns = n;
          if (s === 1) { // bpf-to-bpf call
            const target = pc + imm;
            if (target < 0 || target >= code.len) {
              this.fault(code, i, `call to pc ${target} outside the program`);
            }
            const incoming = this.sa ? this.stackArgsFor(code, target) : undefined; // stack args
            this.pushFrame(pc, code);
            if (incoming) this.sa?.enter(this.depth, incoming);
            pc = target;
            break;
          }
          if (s === 2) {
            const k = this.kfuncs.get(imm);
            if (!k) this.fault(code, i, `unknown kfunc (btf_id ${imm})`);
            k(this);
            this.sa?.afterCall(this.depth); // stack args: merged forgets outgoing slots
          } else if (s === 0 && imm === 12) { // bpf_tail_call
            const next = this.tailCall();
            if (next) {
              code = next;
              this.current = code;
              op = code.op; D = code.dst; S = code.src; OFF = code.off; IMM = code.imm;
              this.mayGoto[this.depth] = BPF_MAX_LOOPS;
              this.sa?.enter(this.depth, []); // stack args: a tail call starts a fresh frame
              pc = 0;
            }
          } else if (s === 0) {
            const h = this.helpers.get(imm);
            if (!h) this.fault(code, i, `unknown helper ${helperName(imm) ?? 'id'}#${imm}`);
            h(this);
            this.current = code;
            this.sa?.afterCall(this.depth); // stack args
          } else this.fault(code, i, `invalid call src_reg ${s}`);
          n = this.insns;
          break;
        }
        case 0x95: // exit
          if (this.depth === base) {
            this.insns = n;
            return;
          }
          pc = this.retPc[this.depth];
          code = this.retCode[this.depth] as Code;
          this.popFrame();
          this.sa?.afterCall(this.depth); // stack args
          this.current = code;
          op = code.op; D = code.dst; S = code.src; OFF = code.off; IMM = code.imm;
          break;

        // ---- loads and stores --------------------------------------------------------------
        case 0x61: case 0x69: case 0x71: case 0x79: case 0x81: case 0x89: case 0x91: {
          const size = c === 0x79 ? 8 : (c & 0x18) === 0 ? 4 : (c & 0x18) === 8 ? 2 : 1;
          const a = L[s] + OFF[i];
          const r = space.resolve(a < 0 ? H[s] - 1 : a > 0xffffffff ? H[s] + 1 : H[s], a >>> 0, size, false);
          const o = space.off, v = r.view;
          if (r.special !== undefined && r.special.load(o, size, L, H, d)) break;
          if (c < 0x80) {
            if (size === 4) L[d] = v.getUint32(o, true);
            else if (size === 2) L[d] = v.getUint16(o, true);
            else if (size === 1) L[d] = v.getUint8(o);
            else { L[d] = v.getUint32(o, true); H[d] = v.getUint32(o + 4, true); break; }
            H[d] = 0;
          } else { // memsx: sign-extend to 64 bits
            const x = size === 4 ? v.getInt32(o, true) : size === 2 ? v.getInt16(o, true) : v.getInt8(o);
            L[d] = x; H[d] = x >> 31;
          }
          break;
        }
        case 0x62: case 0x6a: case 0x72: case 0x7a: case 0x63: case 0x6b: case 0x73: case 0x7b: {
          const size = (c & 0x18) === 0 ? 4 : (c & 0x18) === 8 ? 2 : (c & 0x18) === 0x10 ? 1 : 8;
          const a = L[d] + OFF[i];
          const r = space.resolve(a < 0 ? H[d] - 1 : a > 0xffffffff ? H[d] + 1 : H[d], a >>> 0, size, true);
          const o = space.off, v = r.view;
          const isX = (c & 7) === 3;
          const lo = isX ? L[s] : imm >>> 0;
          if (size === 4) v.setUint32(o, lo, true);
          else if (size === 2) v.setUint16(o, lo & 0xffff, true);
          else if (size === 1) v.setUint8(o, lo & 0xff);
          else { v.setUint32(o, lo, true); v.setUint32(o + 4, isX ? H[s] : imm >> 31, true); }
          break;
        }
        case 0xc3: case 0xdb: case 0xd3: case 0xcb:
          this.atomic(code, i, c, d, s, OFF[i], imm);
          break;
        case 0x18: { // ld_imm64
          pc++;
          const imm2 = code.imm2[i];
          if (s === 0) { L[d] = imm; H[d] = imm2; break; }
          this.ldImm64Pseudo(code, i, d, s, imm, imm2);
          break;
        }
        case 0x20: case 0x28: case 0x30: case 0x40: case 0x48: case 0x50: { // LD_ABS / LD_IND
          const size = c & 0x18 ? (c & 0x18) === 8 ? 2 : 1 : 4;
          const off = c >= 0x40 ? (L[s] + imm) | 0 : imm;
          const v = this.ldAbs(off, size);
          if (v < 0) { // the lowered sequence returns 0 from the current function
            L[0] = 0; H[0] = 0;
            if (this.depth === base) { this.insns = n; return; }
            pc = this.retPc[this.depth];
            code = this.retCode[this.depth] as Code;
            this.popFrame();
            this.sa?.afterCall(this.depth); // stack args
            this.current = code;
            op = code.op; D = code.dst; S = code.src; OFF = code.off; IMM = code.imm;
          } else { L[0] = v; H[0] = 0; }
          break;
        }
        // ---- stack args (engine/runtime/stack-args.ts) ----------------------------------------
        case OP_SA_LOAD: {
          if (!this.sa) this.fault(code, i, 'stack-arg load without a stack-argument series');
          this.setReg(d, this.sa.load(this.depth, OFF[i]));
          break;
        }
        case OP_SA_STORE_REG: case OP_SA_STORE_IMM: {
          if (!this.sa) this.fault(code, i, 'stack-arg store without a stack-argument series');
          this.sa.store(this.depth, OFF[i], c === OP_SA_STORE_REG ? this.argU64(s) : BigInt(imm));
          break;
        }
        case OP_SA_FAULT:
          this.fault(code, i, this.saFaults[code.id]?.get(i) ?? 'invalid stack-arg instruction');
        default:
          if (i < 0 || i >= code.len) this.fault(code, i, 'jumped out of the program');
          this.fault(code, i, `invalid opcode 0x${(c ?? 0).toString(16).padStart(2, '0')}`);
      }
    }
    } catch (e) {
      if (e instanceof RuntimeFault && !e.located) {
        e.located = true;
        e.message = `insn ${i}${code.id > 0 ? ` of ${code.prog.name}` : ''}: ${e.message}`;
      }
      // A nested run (a callback) has already counted its own instructions.
      if (this.insns < n) this.insns = n;
      throw e;
    }
  }

  /** stack args: the incoming stack args of a bpf-to-bpf call from `code` to `target`. The
   *  callee's argument count comes from its declared parameters; merged can do without
   *  (the leading initialized slots are passed), v4 cannot (its layout depends on it). */
  private stackArgsFor(code: Code, target: number): readonly bigint[] {
    const sa = this.sa as StackArgState;
    const counts = (this.saArgCounts[code.id] ??= calleeArgCounts(code.prog));
    const nargs = counts.get(target);
    if (nargs !== undefined) return nargs > MAX_REG_ARGS ? sa.gather(this.depth, nargs) : [];
    if (sa.series === 'merged') return sa.leadingSlots(this.depth);
    if (sa.hasOutgoing(this.depth)) {
      throw new RuntimeFault(`v4 call to pc ${target}: the callee's argument count is unknown (no declared params), so its stack args cannot be placed`);
    }
    return [];
  }

  /** addr_space_cast (MOV64 with off 1; imm = dst_as << 16 | src_as). To the kernel's
   *  address space (1 -> 0): the 32-bit arena offset. To the arena's (0 -> 1): that offset
   *  under user_vm_start's upper half, NULL staying NULL. Without an arena: a plain move. */
  private addrSpaceCast(d: number, s: number, imm: number): void {
    const L = this.lo, H = this.hi;
    const arena = this.maps.maps.find((m) => m.arena)?.arena;
    L[d] = L[s];
    if (!arena) H[d] = H[s];
    else if (imm === 1) H[d] = 0;
    else if (imm === 1 << 16) H[d] = L[d] === 0 ? 0 : arena.userHi;
    else H[d] = H[s];
  }

  private ldImm64Pseudo(code: Code, i: number, d: number, s: number, imm: number, imm2: number): void {
    const L = this.lo, H = this.hi;
    switch (s) {
      case 1: case 5: { // map fd / map idx -> the map's handle
        const m = this.codeMaps[code.id][imm];
        if (!m) this.fault(code, i, `ld_imm64 names map #${imm}, which does not exist`);
        L[d] = m.handleLo; H[d] = m.handle.hi;
        return;
      }
      case 2: case 6: { // map value: &value[0] of an array map, plus imm2
        const m = this.codeMaps[code.id][imm];
        if (!m) this.fault(code, i, `ld_imm64 names map #${imm}, which does not exist`);
        if (m.arena) { // the arena's user address (its __arena globals)
          this.setReg(d, m.arena.userVmStart + BigInt(imm2 >>> 0));
          return;
        }
        const slot = m.isArray ? m.lookup(new Uint8Array(4)) : undefined;
        if (!slot || slot.kind !== 'value') this.fault(code, i, `map ${m.def.name} has no direct value address`);
        L[d] = regionLo(slot.ref.off + imm2); H[d] = slot.ref.region.hi;
        return;
      }
      case 4: { // function address
        const a = this.funcAddress(code, i + imm + 1);
        L[d] = a.lo; H[d] = a.hi;
        return;
      }
      default:
        this.fault(code, i, `ld_imm64 with src_reg ${s} is not supported by the interpreter`);
    }
  }

  private atomic(code: Code, i: number, c: number, d: number, s: number, off: number, imm: number): void {
    const L = this.lo, H = this.hi;
    const size = c === 0xdb ? 8 : c === 0xc3 ? 4 : c === 0xcb ? 2 : 1;
    if (imm === 0x100) { // load-acquire: dst = *(src + off)
      const a = L[s] + off;
      const r = this.space.resolve(a < 0 ? H[s] - 1 : a > 0xffffffff ? H[s] + 1 : H[s], a >>> 0, size, false);
      // A faulting arena access: the fix-up of an atomic leaves every register as it was.
      if (r.faults) return;
      const o = this.space.off, v = r.view;
      L[d] = size === 8 || size === 4 ? v.getUint32(o, true) : size === 2 ? v.getUint16(o, true) : v.getUint8(o);
      H[d] = size === 8 ? v.getUint32(o + 4, true) : 0;
      return;
    }
    const a = L[d] + off;
    const r = this.space.resolve(a < 0 ? H[d] - 1 : a > 0xffffffff ? H[d] + 1 : H[d], a >>> 0, size, true);
    if (r.faults) return;
    const o = this.space.off, v = r.view;
    if (imm === 0x110) { // store-release: *(dst + off) = src
      if (size === 8) { v.setUint32(o, L[s], true); v.setUint32(o + 4, H[s], true); }
      else if (size === 4) v.setUint32(o, L[s], true);
      else if (size === 2) v.setUint16(o, L[s] & 0xffff, true);
      else v.setUint8(o, L[s] & 0xff);
      return;
    }
    if (size < 4) this.fault(code, i, `atomic op 0x${imm.toString(16)} needs a 32- or 64-bit size`);
    const oldL = v.getUint32(o, true), oldH = size === 8 ? v.getUint32(o + 4, true) : 0;
    const srcL = L[s], srcH = size === 8 ? H[s] : 0;
    let nl: number, nh: number;
    switch (imm & ~1) {
      case 0x00: { const sum = oldL + srcL; nl = sum >>> 0; nh = (oldH + srcH + (sum > 0xffffffff ? 1 : 0)) >>> 0; break; }
      case 0x40: nl = (oldL | srcL) >>> 0; nh = (oldH | srcH) >>> 0; break;
      case 0x50: nl = (oldL & srcL) >>> 0; nh = (oldH & srcH) >>> 0; break;
      case 0xa0: nl = (oldL ^ srcL) >>> 0; nh = (oldH ^ srcH) >>> 0; break;
      case 0xe0: // xchg
        if (imm !== 0xe1) this.fault(code, i, 'xchg without BPF_FETCH');
        nl = srcL; nh = srcH; break;
      case 0xf0: { // cmpxchg: compare with r0, old value to r0
        if (imm !== 0xf1) this.fault(code, i, 'cmpxchg without BPF_FETCH');
        const eq = size === 8 ? oldL === L[0] && oldH === H[0] : oldL === L[0];
        if (eq) {
          v.setUint32(o, srcL, true);
          if (size === 8) v.setUint32(o + 4, srcH, true);
        }
        L[0] = oldL; H[0] = oldH;
        return;
      }
      default:
        this.fault(code, i, `invalid atomic op 0x${imm.toString(16)}`);
    }
    v.setUint32(o, nl, true);
    if (size === 8) v.setUint32(o + 4, nh, true);
    if (imm & 1) { L[s] = oldL; H[s] = oldH; } // BPF_FETCH: old value to src
  }

  /** bpf_tail_call(ctx, prog_array, index): the target's code, or undefined to fall through. */
  private tailCall(): Code | undefined {
    const m = this.argMap(2);
    if (m.def.type !== 'PROG_ARRAY') throw new RuntimeFault(`bpf_tail_call on ${m.def.type} map ${m.def.name}`);
    const idx = this.lo[3];
    if (idx >= m.def.maxEntries) return undefined;
    // The count is spent before the slot is checked, as the kernel's tail-call code does.
    if (this.tailCalls >= MAX_TAIL_CALL_CNT) return undefined;
    this.tailCalls++;
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, idx, true);
    const slot = m.lookup(key);
    if (!slot || slot.kind !== 'prog') return undefined;
    return this.load(slot.prog);
  }
}
