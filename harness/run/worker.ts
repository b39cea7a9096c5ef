// Worker-thread entry: builds backends from the plain source it is given and runs one item
// per message. Judging happens here too, so large logs are matched off the main thread.

import { parentPort } from 'node:worker_threads';
import { BackendCache, type BackendSource } from './backends.ts';
import { executeItem } from './execute.ts';
import type { RunItem } from './plan.ts';

export type ToWorker = { readonly type: 'init'; readonly source: BackendSource } | { readonly type: 'run'; readonly item: RunItem } | { readonly type: 'close' };
export type FromWorker = { readonly type: 'result'; readonly result: import('./judge.ts').RunResult } | { readonly type: 'ready' };

const port = parentPort;
if (!port) throw new Error('harness/run/worker.ts must run in a worker thread');

let cache: BackendCache | undefined;

port.on('message', (msg: ToWorker) => {
  void (async () => {
    if (msg.type === 'init') {
      cache = new BackendCache(msg.source);
      port.postMessage({ type: 'ready' } satisfies FromWorker);
    } else if (msg.type === 'run') {
      if (!cache) throw new Error('worker got a run before init');
      const c = cache;
      const item = msg.item;
      const result = await executeItem(item, {
        name: item.backend,
        run: async (req) => (await c.get(item.backend)).run(req),
      });
      port.postMessage({ type: 'result', result } satisfies FromWorker);
    } else {
      await cache?.closeAll();
      port.close();
    }
  })();
});
