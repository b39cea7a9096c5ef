// BPF ELF objects: the ELF container (format.ts), the object model (object.ts, maps.ts) and
// libbpf-order linking with relocations (link.ts). Reading only: nothing here loads or runs.

export * from './format.ts';
export * from './object.ts';
export * from './maps.ts';
export * from './link.ts';
