// Numeric core of the verifier: tnums, scalar ranges, ALU transfer, branch logic, printing.
export * from './tnum.ts';
export * from './bounds.ts';
export * from './alu.ts';
export * from './branch.ts';
export * from './print.ts';
