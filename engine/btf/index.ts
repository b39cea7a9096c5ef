// BTF reader: raw blobs (parse.ts), .BTF.ext (ext.ts), lookups and names (resolve.ts), the
// running kernel's BTF (vmlinux.ts). Pure data in, data out; nothing here loads programs.

export * from './types.ts';
export { parseBtf, BTF_MAGIC, type ParseBtfOptions } from './parse.ts';
export * from './resolve.ts';
export * from './ext.ts';
export * from './vmlinux.ts';
