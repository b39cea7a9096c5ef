// `bpfconform jit`: hex and --disasm output for a spec program, and usage errors.

import t from 'tap';
import { run } from '../harness/commands/jit.ts';
import { UsageError } from '../harness/commands/io.ts';

const capture = () => {
  const out: string[] = [];
  return { io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void out.push(s) }, text: () => out.join('') };
};

t.test('hex and disassembly of a spec program', async (t) => {
  const file = new URL('../specs/calls.yaml', import.meta.url).pathname;
  const hex = capture();
  t.equal(await run([file, '--test', 'call_static_subprog'], hex.io), 0);
  t.match(hex.text(), /func #0 \(\d+ bytes\):\n    0f 1f 44 00 00 0f 1f 00 55 48 89 e5/);
  t.match(hex.text(), /func #1/, 'the subprogram has its own image');
  const dis = capture();
  t.equal(await run([file, '--test', 'call_static_subprog', '--disasm'], dis.io), 0);
  t.match(dis.text(), /func #0:\n0:\t0f 1f 44 00 00 +\tnopl\t\(%rax,%rax\)/);
  t.match(dis.text(), /\tleave\n/);
});

t.test('usage errors', async (t) => {
  await t.rejects(run([], capture().io), UsageError);
  await t.rejects(run(['a.yaml', '--bogus'], capture().io), UsageError);
  await t.rejects(run([new URL('../specs/calls.yaml', import.meta.url).pathname, '--test', 'no_such_test'], capture().io), UsageError);
});
