// Finding and loading spec suites through the spec loader (harness/spec/, owned by the spec
// format work). Kept behind a small interface so tests can hand in suites directly.

import { existsSync } from 'node:fs';
import { InputError } from '../../engine/errors.ts';
import type { SuiteSpec } from '../spec/types.ts';

export interface SuiteLoader {
  /** Spec files under the given files/directories (dirs recursively, `*.yaml`, sorted). */
  findSpecFiles(paths: string[]): string[];
  loadSuiteFile(path: string): SuiteSpec;
}

/** Every InputError of a load, reported together (exit status 2). */
export class InputErrors extends Error {
  constructor(readonly errors: readonly InputError[]) {
    super(errors.map((e) => e.format()).join('\n'));
    this.name = 'InputErrors';
  }
}

const LOADER_MODULES = ['../spec/index.ts', '../spec/load.ts', '../spec/loader.ts'];

/** The spec loader module, wherever it settled among the likely names. */
export async function defaultSuiteLoader(): Promise<SuiteLoader> {
  for (const rel of LOADER_MODULES) {
    const url = new URL(rel, import.meta.url);
    if (!existsSync(url)) continue;
    const mod = (await import(url.href)) as Partial<SuiteLoader>;
    if (typeof mod.findSpecFiles === 'function' && typeof mod.loadSuiteFile === 'function') {
      return { findSpecFiles: mod.findSpecFiles, loadSuiteFile: mod.loadSuiteFile };
    }
  }
  throw new Error('the spec loader (harness/spec: findSpecFiles, loadSuiteFile) is not available');
}

/** Flatten what a loader threw into InputErrors, or undefined if it is not about input. */
export function inputErrorsOf(err: unknown): InputError[] | undefined {
  if (err instanceof InputError) return [err];
  if (err instanceof InputErrors) return [...err.errors];
  if (err instanceof AggregateError && err.errors.length > 0 && err.errors.every((e) => e instanceof InputError)) {
    return err.errors as InputError[];
  }
  return undefined;
}

/** A path given on the command line that does not exist is bad input. */
export function checkPathsExist(paths: readonly string[]): void {
  const missing = paths.filter((p) => !existsSync(p)).map((p) => new InputError('no such file or directory', { file: p, line: 0, col: 0 }));
  if (missing.length) throw new InputErrors(missing);
}

/** Load every suite under `paths`; all input errors of all files are thrown together. */
export function loadSuites(paths: readonly string[], loader: SuiteLoader): SuiteSpec[] {
  checkPathsExist(paths);
  const files = loader.findSpecFiles([...paths]);
  const suites: SuiteSpec[] = [];
  const errors: InputError[] = [];
  for (const file of files) {
    try {
      suites.push(loader.loadSuiteFile(file));
    } catch (err) {
      const inputs = inputErrorsOf(err);
      if (!inputs) throw err;
      errors.push(...inputs);
    }
  }
  if (errors.length) throw new InputErrors(errors);
  return suites;
}
