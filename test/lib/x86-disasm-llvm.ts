// Test-only oracle: the selftests' own way of turning a JIT image into `__jited` text, run
// through LLVM's C disassembler API (libLLVM 19, loaded with koffi). It follows the steps of
// tools/testing/selftests/bpf/jit_disasm_helpers.c (6.12): one disassembler per function for
// the default triple with PrintImmHex, a first pass that records in-function branch targets
// (at most 32, duplicates kept) through the symbol-lookup callback, sorted and named L0..,
// a second pass that prints `pc:\tbytes` padded to 36 columns, then `L<n>:` and LLVM's text
// (at most 63 characters, the size of the selftest's buffer).
//
// engine/jit/x86-disasm.ts reimplements this without LLVM; this file exists to check it.

import { existsSync } from 'node:fs';
import koffi from 'koffi';
import type { TypeObject } from 'koffi';

const LIB_CANDIDATES = ['/usr/lib/llvm-19/lib/libLLVM.so.1', '/usr/lib/x86_64-linux-gnu/libLLVM-19.so', '/usr/lib/llvm-19/lib/libLLVM-19.so'];

/** LLVMDisassembler_Option_PrintImmHex and the reference types of llvm-c/Disassembler.h. */
const OPTION_PRINT_IMM_HEX = 2n;
const REF_IN_BRANCH = 1n;
const REF_NONE = 0n;
const MAX_LOCAL_LABELS = 32;
/** char buf[64] in disasm_one_func. */
const TEXT_BUF = 64;

interface Llvm {
  triple: string;
  create: (triple: string, info: null, tag: number, opInfo: null, lookup: unknown) => unknown;
  setOptions: (ctx: unknown, opts: bigint) => number;
  disasm: (ctx: unknown, bytes: Uint8Array, size: number, pc: number, out: Uint8Array, outSize: number) => number | bigint;
  dispose: (ctx: unknown) => void;
  lookupProto: TypeObject;
}

let llvm: Llvm | undefined | null;

/** Path of the libLLVM used, or undefined when none is installed. */
export function llvmLibrary(): string | undefined {
  return LIB_CANDIDATES.find((p) => existsSync(p));
}

function load(): Llvm | null {
  if (llvm !== undefined) return llvm;
  const path = llvmLibrary();
  if (!path) return (llvm = null);
  const lib = koffi.load(path);
  for (const n of ['LLVMInitializeX86TargetInfo', 'LLVMInitializeX86TargetMC', 'LLVMInitializeX86Disassembler']) lib.func(`void ${n}()`)();
  const getTriple = lib.func('char *LLVMGetDefaultTargetTriple()');
  const lookupProto = koffi.proto('void *K3LookupCb(void *info, uint64_t value, void *type, uint64_t pc, void *refName)');
  llvm = {
    triple: String(getTriple()),
    create: lib.func('void *LLVMCreateDisasm(const char *triple, void *info, int tag, void *opinfo, K3LookupCb *lookup)'),
    setOptions: lib.func('int LLVMSetDisasmOptions(void *ctx, uint64_t opts)'),
    disasm: lib.func('size_t LLVMDisasmInstruction(void *ctx, uint8_t *bytes, uint64_t size, uint64_t pc, _Out_ uint8_t *out, size_t outSize)'),
    dispose: lib.func('void LLVMDisasmDispose(void *ctx)'),
    lookupProto,
  };
  return llvm;
}

export function llvmAvailable(): boolean {
  return load() !== null;
}

/** glibc's bsearch over a sorted array (which of several equal keys it finds matters). */
function bsearchIndex(sorted: readonly bigint[], key: bigint): number {
  let l = 0;
  let u = sorted.length;
  while (l < u) {
    const idx = (l + u) >> 1;
    const v = sorted[idx];
    if (key < v) u = idx;
    else if (key > v) l = idx + 1;
    else return idx;
  }
  return -1;
}

function hex2(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function disasmOneFunc(L: Llvm, image: Uint8Array): string {
  const len = image.length;
  const pcs: bigint[] = [];
  let printPhase = false;
  // Label names live in native memory: the callback returns pointers into it.
  const names = BigInt(koffi.alloc('char', MAX_LOCAL_LABELS * 4) as bigint);
  const cb = koffi.register((_info: unknown, value: number | bigint, type: unknown, _pc: unknown, refName: unknown) => {
    const t = BigInt(koffi.decode(type, 'uint64_t') as number | bigint);
    koffi.encode(type, 'uint64_t', REF_NONE);
    koffi.encode(refName, 'uint64_t', 0n);
    if (t !== REF_IN_BRANCH) return null;
    const v = BigInt.asUintN(64, BigInt(value));
    if (printPhase) {
      const i = pcs.indexOf(v);
      return i >= 0 ? names + BigInt(i * 4) : null;
    }
    if (pcs.length < MAX_LOCAL_LABELS && v < BigInt(len)) pcs.push(v);
    return null;
  }, koffi.pointer(L.lookupProto));
  const ctx = L.create(L.triple, null, 0, null, cb);
  try {
    if (!ctx) throw new Error('LLVMCreateDisasm failed');
    if (L.setOptions(ctx, OPTION_PRINT_IMM_HEX) !== 1) throw new Error('LLVMSetDisasmOptions failed');
    const buf = new Uint8Array(TEXT_BUF);
    const step = (pc: number, size: number): number => {
      const n = Number(L.disasm(ctx, image.subarray(pc), len - pc, pc, buf, size));
      if (n <= 0) throw new Error(`LLVM cannot disassemble at offset ${pc}: ${Array.from(image.subarray(pc, pc + 16), hex2).join(' ')}`);
      return n;
    };
    for (let pc = 0; pc < len; ) pc += step(pc, 1);
    pcs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 0; i < pcs.length; i++) {
      const s = `L${i}`;
      koffi.encode(names + BigInt(i * 4), 'char', [...s].map((c) => c.charCodeAt(0)).concat(0), s.length + 1);
    }
    printPhase = true;
    let out = '';
    for (let pc = 0; pc < len; ) {
      const n = step(pc, TEXT_BUF);
      const end = buf.indexOf(0);
      const text = Buffer.from(buf.subarray(0, end < 0 ? TEXT_BUF : end)).toString('latin1');
      const li = bsearchIndex(pcs, BigInt(pc));
      const label = li >= 0 ? `L${li}:` : '';
      const bytes = Array.from(image.subarray(pc, pc + n), (b) => `${hex2(b)} `).join('');
      out += `${pc.toString(16)}:\t${bytes.padEnd(36, ' ')}${label}${text}\n`;
      pc += n;
    }
    return out;
  } finally {
    if (ctx) L.dispose(ctx);
    koffi.unregister(cb);
    koffi.free(names);
  }
}

/** The `__jited` text test_loader would build from this image, by LLVM itself. */
export function llvmJitedText(image: Uint8Array, funcLens: readonly number[]): string {
  const L = load();
  if (!L) throw new Error('libLLVM 19 is not installed');
  let out = '';
  let pc = 0;
  funcLens.forEach((n, i) => {
    out += `func #${i}:\n${disasmOneFunc(L, image.subarray(pc, pc + n))}\n`;
    pc += n;
  });
  return out;
}

/** One instruction's text as LLVM prints it at `pc` (no labels), for unit checks. */
export function llvmInsnText(bytes: Uint8Array, pc = 0): { text: string; length: number } {
  const L = load();
  if (!L) throw new Error('libLLVM 19 is not installed');
  const cb = koffi.register((_i: unknown, _v: unknown, type: unknown, _p: unknown, refName: unknown) => {
    koffi.encode(type, 'uint64_t', REF_NONE);
    koffi.encode(refName, 'uint64_t', 0n);
    return null;
  }, koffi.pointer(L.lookupProto));
  const ctx = L.create(L.triple, null, 0, null, cb);
  try {
    L.setOptions(ctx, OPTION_PRINT_IMM_HEX);
    const buf = new Uint8Array(256);
    const n = Number(L.disasm(ctx, bytes, bytes.length, pc, buf, buf.length));
    const end = buf.indexOf(0);
    return { text: Buffer.from(buf.subarray(0, end)).toString('latin1'), length: n };
  } finally {
    L.dispose(ctx);
    koffi.unregister(cb);
  }
}
