// Values the kernel bakes into the rewritten program that depend on the running kernel image,
// not on the program: helper call targets, the address of `jiffies`, the per-CPU address of
// the CPU number. The xlated dump shows them raw (a call's imm is the target's distance from
// __bpf_call_base, which test_loader's printer cannot name, hence "call unknown").
//
// Engine scheme (documented for the harness diff): a direct call's imm is
// KERNEL_CALL_BASE + a small number standing for the target (stable per target name), which
// prints as "call unknown" like the kernel's. Addresses come from KernelConsts; the defaults
// are what the 6.18 kernel this project is checked against showed (the xlated recorder
// stores the live values, and tests pass those in).

/** Far outside the helper id table, so the printer says "unknown". */
export const KERNEL_CALL_BASE = 0x10000000;

const targets = new Map<string, number>();

/** imm of a direct call to kernel function `name` (helper:<id>, map_ops:<type>:<id>, or a
 *  kernel symbol such as __htab_map_lookup_elem). */
export function kernelCallImm(name: string): number {
  let n = targets.get(name);
  if (n === undefined) {
    n = stableHash(name);
    targets.set(name, n);
  }
  return KERNEL_CALL_BASE + n;
}

/** FNV-1a, folded to 24 bits: the same name always gives the same imm, in any run. */
function stableHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h & 0xffffff;
}

export interface KernelConsts {
  /** &jiffies (bpf_jiffies64 inlining loads it with ld_imm64). */
  readonly jiffiesAddr: bigint;
  /** (u32)&cpu_number, the per-CPU address bpf_get_smp_processor_id inlining reads. */
  readonly cpuNumberOffset: number;
  /** The program's bpf_prog_aux (bpf_timer_set_callback's hidden argument); a stand-in
   *  when absent: it differs per load. */
  readonly progAuxAddr?: bigint;
}

/** Seen on the reference 6.18.44 kernel (no KASLR offset on that VM). */
export const DEFAULT_KERNEL_CONSTS: KernelConsts = {
  jiffiesAddr: 0xffffffff83805980n,
  cpuNumberOffset: 0x83b0e034 | 0,
};
