// The running kernel's BTF (and module BTF split on top of it), read once per process.

import { existsSync, readFileSync } from 'node:fs';
import { parseBtf } from './parse.ts';
import type { Btf } from './types.ts';

export const SYSFS_BTF_DIR = '/sys/kernel/btf';
const cache = new Map<string, Btf | null>();

/** Parse a BTF file; module BTF (anything but vmlinux under /sys/kernel/btf) is split BTF. */
export function loadBtfFile(path: string, base?: Btf): Btf {
  return parseBtf(new Uint8Array(readFileSync(path)), { file: path, ...(base ? { base } : {}) });
}

/** /sys/kernel/btf/vmlinux, or undefined when the kernel has no BTF. */
export function vmlinuxBtf(): Btf | undefined {
  return cached(`${SYSFS_BTF_DIR}/vmlinux`, undefined);
}

/** A loaded module's BTF (e.g. "bpf_testmod"), split on vmlinux; undefined if not loaded. */
export function moduleBtf(name: string): Btf | undefined {
  const base = vmlinuxBtf();
  return base ? cached(`${SYSFS_BTF_DIR}/${name}`, base) : undefined;
}

function cached(path: string, base: Btf | undefined): Btf | undefined {
  let b = cache.get(path);
  if (b === undefined) {
    b = existsSync(path) ? loadBtfFile(path, base) : null;
    cache.set(path, b);
  }
  return b ?? undefined;
}
