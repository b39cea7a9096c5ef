// The full example in docs/spec-format.md must load, so the documentation cannot drift.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { loadSuiteText } from '../harness/spec/index.ts';

t.test('the docs example loads', async (t) => {
  const md = readFileSync(new URL('../docs/spec-format.md', import.meta.url), 'utf8');
  const m = /```yaml\n([\s\S]*?)```/.exec(md);
  t.ok(m, 'the doc has a yaml example');
  const s = loadSuiteText(m![1], 'docs/spec-format.md');
  t.equal(s.suite, 'stack_arg_basics');
  t.same(s.tests.map((x) => x.name), ['stack_arg_7args', 'gap_at_minus_8', 'from_c']);
  t.same(s.tests[0].program.funcs.map((f) => f.name), ['stack_arg_7args', 'subprog_7args']);
  t.equal(s.tests[1].priv?.msgs[1].negative, true);
  t.equal(s.tests[1].unpriv?.msgs[0].text, 'R11 is invalid');
  t.equal(s.kfuncs?.[0].params[6].suffix, '__sz');
  t.equal(s.maps[1].init?.[0].value.length, 48);
});
