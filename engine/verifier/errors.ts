// NotImplementedError lives in index.ts (the public contract); re-exported here so internal
// modules need not import the entry point.
export { NotImplementedError } from './not-implemented.ts';
