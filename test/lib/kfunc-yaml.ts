// Kernel kfunc declarations for test suites written inline: each prototype as a spec's
// `kfuncs:` entry, with the running kernel's BTF id when the test can ask the kernel (root),
// else a distinct stand-in (the interpreter binds kfuncs by name).

import { findByName } from '../../engine/btf/resolve.ts';
import { vmlinuxBtf } from '../../engine/btf/vmlinux.ts';

// Prototypes as the kfunc: entries of a spec declare them (the kernel checks its own BTF).
const PROTOS: Record<string, string> = {
  bpf_arena_alloc_pages: 'params: [{p__map: void *}, {addr__ign: void *}, {page_cnt: __u32}, {node_id: int}, {flags: __u64}]\n    ret: void *',
  bpf_arena_free_pages: 'params: [{p__map: void *}, {ptr__ign: void *}, {page_cnt: __u32}]\n    ret: void',
  bpf_iter_bits_new: 'params: [{it: struct bpf_iter_bits *}, {unsafe_ptr__ign: const u64 *}, {nr_words: u32}]\n    ret: int',
  bpf_iter_bits_next: 'params: [{it: struct bpf_iter_bits *}]\n    ret: int *',
  bpf_iter_bits_destroy: 'params: [{it: struct bpf_iter_bits *}]\n    ret: void',
  bpf_dynptr_from_skb: 'params: [{s: struct __sk_buff *}, {flags: u64}, {ptr__uninit: struct bpf_dynptr *}]\n    ret: int',
  bpf_dynptr_slice: 'params: [{p: const struct bpf_dynptr *}, {offset: u32}, {buffer__opt: void *}, {buffer__szk: u32}]\n    ret: void *',
};

const root = process.getuid?.() === 0;
const btf = root ? vmlinuxBtf() : undefined;

/** Live: the running kernel's id. Otherwise any distinct id does. */
const kfuncId = (name: string, i: number): number => (btf ? findByName(btf, name, 'FUNC')?.id : undefined) ?? 900000 + i;

/** The `kfuncs:` section (its body, two-space indented) declaring `names`. */
export function kfuncsYaml(names: readonly string[]): string {
  return names
    .map((n, i) => {
      const proto = PROTOS[n];
      if (!proto) throw new RangeError(`no prototype for ${n}`);
      return `  ${n}:\n    ${proto}\n    flags: []\n    btf_id: ${kfuncId(n, i)}\n`;
    })
    .join('');
}
