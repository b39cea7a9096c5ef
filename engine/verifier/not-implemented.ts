/** A feature of the 6.18 verifier this model does not cover yet: never a guessed verdict. */
export class NotImplementedError extends Error {
  constructor(what: string) {
    super(`${what} not implemented`);
    this.name = 'NotImplementedError';
  }
}
