// The spec format's public API: load suites, find spec files, and the helpers the runner
// needs to turn a TestSpec into a load request. docs/spec-format.md describes the YAML.

export { findSpecFiles, loadSuiteFile, loadSuiteText } from './load.ts';
export { SpecErrors } from './schema.ts';
export { applyFlagOps, BASE_PROG_FLAGS } from './values.ts';
export { compilePattern, PatternError } from './pattern.ts';
export type * from './types.ts';
