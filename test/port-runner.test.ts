// How test_progs drives a verifier_* file, read from prog_tests/: which files keep
// CAP_SYS_ADMIN (RUN_TESTS) and which maps a pre_execution_cb seeds. A synthetic tree pins
// the parsing; the real 6.12 tree, when unpacked, pins the facts the corpus depends on.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runnerFacts, testValSeed } from '../engine/port/runner.ts';

t.test('test_val seed: index = 28, foo[6] = 0xabcdef12, 48 bytes', async (t) => {
  const { key, value } = testValSeed();
  t.equal(key, '00000000');
  const b = Buffer.from(value, 'hex');
  t.equal(b.length, 48);
  t.equal(b.readUInt32LE(0), 28);
  t.equal(b.readUInt32LE(28), 0xabcdef12);
  t.equal(b.filter((x) => x !== 0).length, 5, 'nothing else set');
});

t.test('synthetic prog_tests: RUN drops, RUN_TESTS keeps, callbacks seed maps', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'k4-runner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'prog_tests'));
  writeFileSync(join(dir, 'prog_tests', 'verifier.c'), [
    'void test_verifier_and(void) { RUN(verifier_and); }',
    'void test_verifier_ctx(void) { RUN_TESTS(verifier_ctx); }',
    'static int init_x(struct bpf_object *obj)\n{\n\treturn init_test_val_map(obj, "map_x");\n}',
    'void test_verifier_seeded(void)\n{\n\trun_tests_aux("verifier_seeded",\n\t\tverifier_seeded__elf_bytes,\n\t\tinit_x);\n}',
  ].join('\n'));
  writeFileSync(join(dir, 'prog_tests', 'verifier_own.c'), 'void test_verifier_own(void) { RUN_TESTS(verifier_own); }\n');
  t.same(runnerFacts(dir, 'verifier_and'), { keepSysAdmin: false, mapSeeds: {} });
  t.same(runnerFacts(dir, 'verifier_ctx'), { keepSysAdmin: true, mapSeeds: {} });
  t.same(runnerFacts(dir, 'verifier_own'), { keepSysAdmin: true, mapSeeds: {} });
  t.same(runnerFacts(dir, 'verifier_seeded'), { keepSysAdmin: false, mapSeeds: { map_x: [testValSeed()] } });
  t.same(runnerFacts(dir, 'verifier_unknown'), { keepSysAdmin: false, mapSeeds: {} }, 'default: prog_tests/verifier.c RUN()');
});

// $KERNEL_SRC, else the tree `make kernel-selftests` unpacks into the cache.
const TREE = [process.env.KERNEL_SRC, join(import.meta.dirname, '..', '.cache', 'linux-source-6.12')]
  .filter((r): r is string => !!r)
  .map((r) => join(r, 'tools', 'testing', 'selftests', 'bpf'))
  .find((d) => existsSync(join(d, 'prog_tests', 'verifier.c')));

t.test('the 6.12 tree', { skip: TREE ? false : 'no 6.12 kernel tree unpacked' }, async (t) => {
  t.same(runnerFacts(TREE!, 'verifier_array_access').mapSeeds, { map_array_ro: [testValSeed()] });
  t.same(runnerFacts(TREE!, 'verifier_value_ptr_arith').mapSeeds, { map_array_48b: [testValSeed()] });
  t.equal(runnerFacts(TREE!, 'verifier_kfunc_prog_types').keepSysAdmin, true, 'its own RUN_TESTS runner');
  t.equal(runnerFacts(TREE!, 'verifier_ctx').keepSysAdmin, false, '6.12 still RUN()s verifier_ctx');
  t.equal(runnerFacts(TREE!, 'verifier_and').keepSysAdmin, false);
});
