// Where backends come from. Workers build their own backend instances from a plain
// description (a module URL is cloneable, a Backend object is not).

import type { Backend } from '../backend.ts';
import type { BackendName } from './plan.ts';

/** How to obtain backends: the built-in ones, or a module exporting
 *  `createBackend(name: BackendName): Backend | Promise<Backend>` (used by the harness's own
 *  tests and for out-of-tree backends; it then serves every backend name). */
export type BackendSource = { readonly kind: 'builtin' } | { readonly kind: 'module'; readonly url: string };

type Factory = (name: BackendName) => Backend | Promise<Backend>;

function pickFactory(mod: Record<string, unknown>, names: readonly string[], where: string): Factory {
  for (const n of names) {
    const f = mod[n];
    if (typeof f === 'function') return f as Factory;
  }
  throw new Error(`${where} exports none of ${names.join(', ')}`);
}

async function importModule(url: string): Promise<Record<string, unknown>> {
  return (await import(url)) as Record<string, unknown>;
}

export async function createBackend(source: BackendSource, name: BackendName): Promise<Backend> {
  if (source.kind === 'module') {
    return pickFactory(await importModule(source.url), ['createBackend'], source.url)(name);
  }
  if (name === 'engine') {
    const { createEngineBackend } = await import('../backends/engine.ts');
    return createEngineBackend();
  }
  // The kernel adapter is imported only when asked for: it loads koffi and needs bpf().
  const url = new URL('../backends/kernel.ts', import.meta.url).href;
  return pickFactory(await importModule(url), ['createKernelBackend', 'createBackend'], 'harness/backends/kernel.ts')(name);
}

/** Keeps one backend per name for the life of a worker (or the in-process runner). */
export class BackendCache {
  private readonly made = new Map<BackendName, Promise<Backend>>();
  constructor(private readonly source: BackendSource) {}

  get(name: BackendName): Promise<Backend> {
    let b = this.made.get(name);
    if (!b) {
      b = createBackend(this.source, name);
      this.made.set(name, b);
      // A factory failure is per test, but retrying it for every test would be slow and noisy.
    }
    return b;
  }

  async closeAll(): Promise<void> {
    for (const b of this.made.values()) {
      try {
        await (await b).close?.();
      } catch {
        // Closing is best effort; a backend that failed to start has nothing to close.
      }
    }
    this.made.clear();
  }
}
