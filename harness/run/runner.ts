// Running a plan: in process for --jobs 1, else on worker threads. Results are handed to the
// caller strictly in plan order (a reorder buffer), so output never depends on scheduling.
// A dead or timed-out worker fails the one run it held; a fresh worker takes its place.

import { Worker } from 'node:worker_threads';
import { BackendCache, type BackendSource } from './backends.ts';
import { crashResult, executeItem } from './execute.ts';
import type { RunResult } from './judge.ts';
import type { RunItem } from './plan.ts';
import type { FromWorker, ToWorker } from './worker.ts';

export interface RunnerOptions {
  /** Parallel runs; 1 runs in this thread. */
  readonly jobs: number;
  readonly source: BackendSource;
  /** Per-run limit. Enforced by terminating the worker; in process only async waits end. */
  readonly timeoutMs?: number;
  /** Called once per item, in plan order. */
  readonly onResult?: (item: RunItem, result: RunResult) => void;
  /** Called whenever a run finishes (any order). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** Delivers results in id order however they arrive. */
class InOrder {
  private readonly pending = new Map<number, RunResult>();
  private next = 0;
  readonly results: RunResult[] = [];
  private done = 0;

  constructor(
    private readonly items: readonly RunItem[],
    private readonly opts: RunnerOptions,
  ) {}

  add(result: RunResult): void {
    this.pending.set(result.id, result);
    this.opts.onProgress?.(++this.done, this.items.length);
    while (this.next < this.items.length && this.pending.has(this.items[this.next].id)) {
      const item = this.items[this.next++];
      const r = this.pending.get(item.id) as RunResult;
      this.pending.delete(item.id);
      this.results.push(r);
      this.opts.onResult?.(item, r);
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number | undefined, onTimeout: () => T): Promise<T> {
  if (!ms) return p;
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(onTimeout()), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

async function runInProcess(items: readonly RunItem[], opts: RunnerOptions, sink: InOrder): Promise<void> {
  const cache = new BackendCache(opts.source);
  try {
    for (const item of items) {
      const t0 = performance.now();
      const run = executeItem(item, { name: item.backend, run: async (req) => (await cache.get(item.backend)).run(req) });
      sink.add(await withTimeout(run, opts.timeoutMs, () => crashResult(item, `timed out after ${opts.timeoutMs} ms`, performance.now() - t0)));
    }
  } finally {
    await cache.closeAll();
  }
}

// Workers run TypeScript from source: a tiny eval'd bootstrap registers tsx in the worker,
// then imports the real entry. (`execArgv: ['--import', 'tsx']` does not take effect in
// Node 20 workers: they fail with "Unknown file extension .ts".)
const WORKER_BOOT = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
  .then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./worker.ts', import.meta.url).href)}); })
  .catch((err) => { process.nextTick(() => { throw err; }); });`;

function runOnWorkers(items: readonly RunItem[], opts: RunnerOptions, sink: InOrder): Promise<void> {
  const queue = [...items];
  let outstanding = items.length;
  const nWorkers = Math.min(opts.jobs, items.length);

  return new Promise<void>((resolveAll) => {
    const finishOne = (r: RunResult): void => {
      sink.add(r);
      if (--outstanding === 0) resolveAll();
    };

    const spawn = (): void => {
      // A backend's console output must not land in the TAP stream: send it to stderr.
      const w = new Worker(WORKER_BOOT, { eval: true, stdout: true });
      w.stdout.pipe(process.stderr, { end: false });
      let current: { item: RunItem; t0: number; timer?: NodeJS.Timeout } | undefined;
      let dead = false;
      let closing = false;

      const dispatch = (): void => {
        const item = queue.shift();
        if (!item) {
          closing = true;
          w.postMessage({ type: 'close' } satisfies ToWorker);
          return;
        }
        current = { item, t0: performance.now() };
        if (opts.timeoutMs) {
          current.timer = setTimeout(() => die(`timed out after ${opts.timeoutMs} ms`), opts.timeoutMs);
        }
        w.postMessage({ type: 'run', item } satisfies ToWorker);
      };

      // The worker is gone (crash, exit, timeout): fail its run, replace it if work remains.
      // A worker that dies before taking a run fails the next queued one instead, so a worker
      // that cannot even start still makes progress rather than respawning forever.
      const die = (why: string): void => {
        if (dead) return;
        dead = true;
        const held = current;
        current = undefined;
        if (held) {
          clearTimeout(held.timer);
          finishOne(crashResult(held.item, why, performance.now() - held.t0));
        } else if (!closing) {
          const next = queue.shift();
          if (next) finishOne(crashResult(next, `a worker failed before running this test: ${why}`, 0));
        }
        void w.terminate();
        if (queue.length > 0) spawn();
      };

      w.on('message', (msg: FromWorker) => {
        if (dead) return; // a late answer after a timeout: that run is already a failure
        if (msg.type === 'ready') return dispatch();
        const held = current;
        if (!held || held.item.id !== msg.result.id) return;
        current = undefined;
        clearTimeout(held.timer);
        finishOne(msg.result);
        dispatch();
      });
      w.on('error', (err) => die(`uncaught error in its worker thread: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`));
      w.on('exit', (code) => die(`its worker thread exited (code ${code})`));
      w.postMessage({ type: 'init', source: opts.source } satisfies ToWorker);
    };

    for (let i = 0; i < nWorkers; i++) spawn();
  });
}

/** Run every item; the returned results are in plan order. */
export async function runItems(items: readonly RunItem[], opts: RunnerOptions): Promise<RunResult[]> {
  const sink = new InOrder(items, opts);
  if (items.length === 0) return [];
  if (opts.jobs <= 1 || items.length === 1) await runInProcess(items, opts, sink);
  else await runOnWorkers(items, opts, sink);
  return sink.results;
}
