// Child-process side of the native pool: receive {id, prog, env}, run it natively, answer
// {id, result}. If the program crashes the process, the parent sees the signal instead.

import { runNativeInProcess, type NativeEnv } from './run.ts';
import type { Program } from '../../program/types.ts';

interface Job {
  readonly id: number;
  readonly prog: Program;
  readonly env?: NativeEnv;
}

process.on('message', (msg: Job) => {
  const result = runNativeInProcess(msg.prog, msg.env ?? {});
  process.send?.({ id: msg.id, result });
});
process.send?.({ ready: true });
