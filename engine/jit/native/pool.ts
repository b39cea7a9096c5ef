// A pool of child processes that run JIT-compiled programs natively. Native code that goes
// wrong takes its process down (SIGSEGV, SIGILL, SIGFPE); here that becomes a failed result
// naming the signal, the worker is replaced, and the caller carries on.

import { fork, type ChildProcess } from 'node:child_process';
import type { Program } from '../../program/types.ts';
import type { NativeEnv, NativeResult } from './run.ts';

const WORKER = new URL('./worker.ts', import.meta.url).pathname;

interface Pending {
  readonly id: number;
  readonly prog: Program;
  readonly env: NativeEnv;
  readonly resolve: (r: NativeResult) => void;
}

interface Worker {
  readonly child: ChildProcess;
  job?: Pending;
  timer?: NodeJS.Timeout;
  /** Being killed: takes no more jobs. */
  dead?: boolean;
}

export interface PoolOptions {
  /** Child processes (default 1: the machine's cores are shared). */
  readonly size?: number;
  /** Wall-clock limit per run; a run over it is killed and reported (default 10 s). */
  readonly timeoutMs?: number;
}

export class NativePool {
  private readonly workers: Worker[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private readonly timeoutMs: number;

  constructor(opts: PoolOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    for (let k = 0; k < (opts.size ?? 1); k++) this.workers.push(this.spawn());
  }

  /** Run `prog` natively in a child; never rejects for anything the program does. */
  run(prog: Program, env: NativeEnv = {}): Promise<NativeResult> {
    if (this.closed) return Promise.resolve({ ok: false, retval: 0n, error: 'pool is closed' });
    return new Promise((resolve) => {
      this.queue.push({ id: this.nextId++, prog, env, resolve });
      this.dispatch();
    });
  }

  close(): void {
    this.closed = true;
    for (const w of this.workers) w.child.kill();
    for (const p of this.queue.splice(0)) p.resolve({ ok: false, retval: 0n, error: 'pool closed' });
  }

  private spawn(): Worker {
    const child = fork(WORKER, [], { execArgv: ['--import', 'tsx'], serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const w: Worker = { child };
    child.stderr?.resume();
    child.on('message', (msg: { id?: number; result?: NativeResult }) => {
      if (msg.id === undefined || !w.job || msg.id !== w.job.id) return;
      this.finish(w, msg.result ?? { ok: false, retval: 0n, error: 'empty answer' });
    });
    child.on('exit', (code, signal) => {
      const idx = this.workers.indexOf(w);
      if (w.job) {
        this.finish(w, { ok: false, retval: 0n, signal: signal ?? undefined, error: signal ? `native code killed by ${signal}` : `worker exited with status ${code}` });
      }
      if (idx >= 0 && !this.closed) {
        this.workers[idx] = this.spawn();
        this.dispatch();
      }
    });
    return w;
  }

  private finish(w: Worker, r: NativeResult): void {
    const job = w.job;
    if (w.timer) clearTimeout(w.timer);
    w.job = undefined;
    w.timer = undefined;
    job?.resolve(r);
    this.dispatch();
  }

  private dispatch(): void {
    for (const w of this.workers) {
      if (w.job || w.dead || this.queue.length === 0 || !w.child.connected) continue;
      const job = this.queue.shift()!;
      w.job = job;
      w.timer = setTimeout(() => {
        w.dead = true;
        w.child.kill('SIGKILL');
        this.finish(w, { ok: false, retval: 0n, error: `timed out after ${this.timeoutMs} ms` });
      }, this.timeoutMs);
      w.child.send({ id: job.id, prog: job.prog, env: job.env });
    }
  }
}
