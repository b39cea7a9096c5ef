// How a check fails: the message the kernel prints (one or more lines, no final newline)
// and the errno bpf(BPF_PROG_LOAD) returns.

export const EPERM = 1;
export const E2BIG = 7;
export const EACCES = 13;
export const EFAULT = 14;
export const EINVAL = 22;
export const ENOTSUPP = 524;

export class Reject extends Error {
  constructor(
    readonly errno: number,
    /** Text for the log; empty when the kernel prints nothing. */
    readonly text: string,
  ) {
    super(text || `errno ${errno}`);
    this.name = 'Reject';
  }
}

export const reject = (errno: number, text: string): Reject => new Reject(errno, text);
