// The native counterpart of the kernel's BPF exception table (ex_handler_bpf): a SIGSEGV /
// SIGBUS handler, written here as x86-64 machine code, that looks the faulting RIP up in the
// table the JIT produced for the running image (JitFuncImage.extable). A hit resumes after
// the faulting instruction, zeroing the destination register first for a load; anything
// else goes to whatever handler was there before (Node's, which lets V8 handle wasm traps
// and otherwise crashes the process), or, when that was SIG_DFL/SIG_IGN, re-raises the
// signal with its default action, so a real crash still ends the process with the signal.
//
// Layout, shared by the handler and the TS side (docs/jit-x86-64.md, "Native fault fix-ups"):
//   data page  +0    u64  address of the current table (0: no native run in progress)
//              +8    32   zero bytes: a kernel k_sigaction meaning SIG_DFL
//              +64   152  glibc struct sigaction as it was for SIGSEGV before ours
//              +256  152  the same for SIGBUS
//   table      16-byte entries { u64 rip; u64 fixup }, ended by rip == 0;
//              fixup = length of the faulting insn | (ucontext byte offset of the register
//              to zero, or 0 for none) << 8 -- the kernel's `fixup` with ucontext offsets in
//              place of pt_regs ones.
// The handler runs only on faults, so a linear scan is fine.

import koffi from 'koffi';
import type { ExEntry } from '../x86_64/types.ts';
import { getLibc, mapAnon, pageRound, PROT_RX } from './libc.ts';

const SIGBUS = 7;
const SIGSEGV = 11;
const SA_SIGINFO = 0x4;
const SA_ONSTACK = 0x08000000;
const SYS_RT_SIGACTION = 13;
const SYS_GETPID = 39;
const SYS_KILL = 62;

const D_TABLE = 0;
const D_SIG_DFL = 8;
const D_OLD: Readonly<Record<number, number>> = { [SIGSEGV]: 64, [SIGBUS]: 256 };
/** sizeof(struct sigaction) in glibc x86-64: handler, 128-byte mask, flags, restorer. */
const SIGACTION_SIZE = 152;
const SA_FLAGS_OFF = 136;

/** ucontext_t: uc_flags, uc_link, uc_stack (24 bytes), then uc_mcontext.gregs[]. */
const GREGS = 40;
/** glibc's REG_* index of each x86 register by hardware number (rax, rcx, ... r15). */
const REG_INDEX: readonly number[] = [13, 14, 12, 11, 15, 10, 9, 8, 0, 1, 2, 3, 4, 5, 6, 7];
const REG_RIP = 16;
/** ucontext byte offset of an x86 register's saved value. */
export const gregOffset = (x86: number): number => GREGS + 8 * REG_INDEX[x86];
const RIP_OFF = GREGS + 8 * REG_RIP; // 168 = 0xa8

/** Bytes with rel8 jumps to labels, resolved at the end. */
class Asm {
  readonly bytes: number[] = [];
  private readonly labels = new Map<string, number>();
  private readonly jumps: { at: number; label: string }[] = [];

  b(...xs: number[]): this {
    for (const x of xs) this.bytes.push(x & 0xff);
    return this;
  }

  i32(v: number): this {
    return this.b(v, v >>> 8, v >>> 16, v >>> 24);
  }

  i64(v: bigint): this {
    for (let k = 0n; k < 64n; k += 8n) this.bytes.push(Number((v >> k) & 0xffn));
    return this;
  }

  /** A short jump (opcode `op`) to `label`. */
  j8(op: number, label: string): this {
    this.b(op, 0);
    this.jumps.push({ at: this.bytes.length - 1, label });
    return this;
  }

  label(name: string): this {
    this.labels.set(name, this.bytes.length);
    return this;
  }

  done(): Uint8Array {
    for (const { at, label } of this.jumps) {
      const rel = (this.labels.get(label) as number) - (at + 1);
      if (rel < -128 || rel > 127) throw new Error(`handler jump to ${label} out of rel8 range`);
      this.bytes[at] = rel & 0xff;
    }
    return Uint8Array.from(this.bytes);
  }
}

/** The handler for one signal: void handler(int sig, siginfo_t *info, ucontext_t *uc). */
export function handlerCode(data: bigint, oldOff: number): Uint8Array {
  const a = new Asm();
  a.b(0x49, 0xbb).i64(data); //                movabs r11, data
  a.b(0x49, 0x8b, 0x0b); //                     mov rcx, [r11]            ; table (D_TABLE = 0)
  a.b(0x48, 0x85, 0xc9); //                     test rcx, rcx
  a.j8(0x74, 'chain'); //                        jz chain                  ; no run in progress
  a.b(0x48, 0x8b, 0x82).i32(RIP_OFF); //        mov rax, [rdx + RIP]      ; the faulting rip
  a.label('loop');
  a.b(0x4c, 0x8b, 0x01); //                     mov r8, [rcx]             ; entry's rip
  a.b(0x4d, 0x85, 0xc0); //                     test r8, r8
  a.j8(0x74, 'chain'); //                        jz chain                  ; end of table
  a.b(0x4c, 0x39, 0xc0); //                     cmp rax, r8
  a.j8(0x74, 'found'); //                        je found
  a.b(0x48, 0x83, 0xc1, 0x10); //               add rcx, 16
  a.j8(0xeb, 'loop'); //                         jmp loop
  a.label('found');
  a.b(0x4c, 0x8b, 0x41, 0x08); //               mov r8, [rcx + 8]         ; fixup
  a.b(0x45, 0x0f, 0xb6, 0xc8); //               movzx r9d, r8b            ; insn length
  a.b(0x4c, 0x01, 0xc8); //                     add rax, r9
  a.b(0x48, 0x89, 0x82).i32(RIP_OFF); //        mov [rdx + RIP], rax      ; resume after it
  a.b(0x49, 0xc1, 0xe8, 0x08); //               shr r8, 8                 ; register offset
  a.j8(0x74, 'ret'); //                          jz ret                    ; 0: nothing to clear
  a.b(0x4a, 0xc7, 0x04, 0x02).i32(0); //        mov qword [rdx + r8], 0   ; zero the load's dst
  a.label('ret');
  a.b(0xc3); //                                  ret                       ; to the restorer
  a.label('chain');
  a.b(0x49, 0x8b, 0x83).i32(oldOff); //         mov rax, [r11 + old]      ; previous sa_handler
  a.b(0x48, 0x83, 0xf8, 0x01); //               cmp rax, 1
  a.j8(0x77, 'prev'); //                         ja prev                   ; a real handler
  // SIG_DFL / SIG_IGN: restore the default action and send the signal again; it stays
  // pending (blocked while we run) and ends the process once we return.
  a.b(0x41, 0x89, 0xf8); //                     mov r8d, edi              ; the signal
  a.b(0x49, 0x8d, 0x73, D_SIG_DFL); //          lea rsi, [r11 + 8]        ; zero k_sigaction
  a.b(0x31, 0xd2); //                           xor edx, edx              ; no old action
  a.b(0x41, 0xba).i32(8); //                    mov r10d, 8               ; sizeof(sigset_t)
  a.b(0xb8).i32(SYS_RT_SIGACTION); //           mov eax, 13
  a.b(0x0f, 0x05); //                           syscall                   ; rt_sigaction(sig, DFL)
  a.b(0xb8).i32(SYS_GETPID); //                 mov eax, 39
  a.b(0x0f, 0x05); //                           syscall                   ; getpid()
  a.b(0x89, 0xc7); //                           mov edi, eax
  a.b(0x44, 0x89, 0xc6); //                     mov esi, r8d
  a.b(0xb8).i32(SYS_KILL); //                   mov eax, 62
  a.b(0x0f, 0x05); //                           syscall                   ; kill(pid, sig)
  a.b(0xc3); //                                  ret
  a.label('prev');
  a.b(0xff, 0xe0); //                           jmp rax                   ; same args, same return
  return a.done();
}

interface Installed {
  readonly data: bigint;
  readonly dataView: DataView;
  readonly code: bigint;
}

let installed: Installed | undefined;

/** Install the handlers for SIGSEGV and SIGBUS once per process. */
export function installFaultHandler(): Installed {
  if (installed) return installed;
  const c = getLibc();
  const data = mapAnon(4096);
  const dataView = new DataView(koffi.view(data, 4096));
  const segv = handlerCode(data, D_OLD[SIGSEGV]);
  const bus = handlerCode(data, D_OLD[SIGBUS]);
  const len = pageRound(segv.length + bus.length);
  const code = mapAnon(len);
  const view = new Uint8Array(koffi.view(code, len));
  view.set(segv, 0);
  view.set(bus, segv.length);
  if (c.mprotect(code, len, PROT_RX) !== 0) throw new Error('mprotect of the fault handler failed');
  const act = new Uint8Array(SIGACTION_SIZE);
  const av = new DataView(act.buffer);
  av.setInt32(SA_FLAGS_OFF, SA_SIGINFO | SA_ONSTACK, true);
  for (const [sig, at] of [[SIGSEGV, code], [SIGBUS, code + BigInt(segv.length)]] as const) {
    av.setBigUint64(0, at, true);
    if (c.sigaction(sig, act, data + BigInt(D_OLD[sig])) !== 0) throw new Error(`sigaction(${sig}) failed`);
  }
  installed = { data, dataView, code };
  return installed;
}

/** One image's extable entry at its native address. */
export interface NativeExEntry {
  readonly rip: bigint;
  readonly len: number;
  /** x86 register to zero (undefined: none). */
  readonly clear?: number;
}

/** Table entries for an image laid out at `base` (function images back to back). */
export function nativeExtable(funcs: readonly { readonly code: { readonly length: number }; readonly extable?: readonly ExEntry[] }[], base: bigint): NativeExEntry[] {
  const out: NativeExEntry[] = [];
  let at = base;
  for (const f of funcs) {
    for (const e of f.extable ?? []) out.push({ rip: at + BigInt(e.at), len: e.len, ...(e.clear !== undefined ? { clear: e.clear } : {}) });
    at += BigInt(f.code.length);
  }
  return out;
}

/** Run `body` with `entries` as the fault handler's table (installing it if need be). An
 *  empty table installs nothing. */
export function withExtable<T>(entries: readonly NativeExEntry[], body: () => T): T {
  if (entries.length === 0) return body();
  const h = installFaultHandler();
  const c = getLibc();
  const len = pageRound(16 * (entries.length + 1));
  const table = mapAnon(len);
  const tv = new DataView(koffi.view(table, len));
  entries.forEach((e, k) => {
    if (e.len <= 0 || e.len > 255) throw new Error(`extable entry of ${e.len} bytes`);
    tv.setBigUint64(16 * k, e.rip, true);
    tv.setBigUint64(16 * k + 8, BigInt(e.len | ((e.clear === undefined ? 0 : gregOffset(e.clear)) << 8)), true);
  });
  // The terminating entry is the mapping's zeros.
  const prev = h.dataView.getBigUint64(D_TABLE, true);
  h.dataView.setBigUint64(D_TABLE, table, true);
  try {
    return body();
  } finally {
    h.dataView.setBigUint64(D_TABLE, prev, true);
    c.munmap(table, len);
  }
}
