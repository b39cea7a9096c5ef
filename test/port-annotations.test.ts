// Annotation tags in their three encodings, and their meaning.
import t from 'tap';
import { detectEncoding, testTagPayloads, versionCompare } from '../engine/port/tags.ts';
import { parseAnnotations, parseCInt } from '../engine/port/annotations.ts';

t.test('encodings', async (t) => {
  const a = ['comment:test_expect_failure', 'comment:test_expect_msg=R1 invalid mem access', 'comment:test_expect_msg=x=y'];
  const b = ['comment:test_expect_failure', 'comment:test_expect_msg=3=R1 invalid mem access', 'comment:test_expect_msg=4=x=y', 'comment:test_description=a=b'];
  const c = ['comment:10:test_expect_msg=second', 'comment:9:test_expect_msg=first', 'comment:2:test_expect_failure', 'comment:odd', 'comment:11:test_description=d'];
  t.equal(detectEncoding(a), 'A');
  t.equal(detectEncoding(b), 'B');
  t.equal(detectEncoding(c), 'C');
  t.equal(detectEncoding(['comment:test_expect_success']), 'B', 'no message tags: A and B read the same');
  t.same(testTagPayloads(a, 'A'), ['test_expect_failure', 'test_expect_msg=R1 invalid mem access', 'test_expect_msg=x=y']);
  t.same(testTagPayloads(b, 'B'), ['test_expect_failure', 'test_expect_msg=R1 invalid mem access', 'test_expect_msg=x=y', 'test_description=a=b'],
    'only message-like tags carry the counter');
  t.same(testTagPayloads(c, 'C'), ['test_expect_failure', 'test_expect_msg=first', 'test_expect_msg=second', 'test_description=d'],
    'numeric order, not string order; other shapes dropped');
});

t.test('versionCompare orders digit runs by value', async (t) => {
  const xs = ['comment:10:a', 'comment:9:b', 'comment:100:c', 'comment:09:d'];
  t.same([...xs].sort(versionCompare), ['comment:09:d', 'comment:9:b', 'comment:10:a', 'comment:100:c']);
  t.equal(versionCompare('a', 'a'), 0);
});

t.test('parseCInt is strtol(s, 0) into an int', async (t) => {
  t.equal(parseCInt('42'), 42);
  t.equal(parseCInt('-1'), -1);
  t.equal(parseCInt('0x10'), 16);
  t.equal(parseCInt('010'), 8);
  t.equal(parseCInt('0xffffffff'), -1);
  t.equal(parseCInt('0'), 0);
  t.equal(parseCInt('abc'), undefined);
  t.equal(parseCInt('1 2'), undefined);
});

t.test('annotations', async (t) => {
  const a = parseAnnotations([
    'test_description=desc', 'test_expect_failure', 'test_expect_msg=m1', 'test_expect_not_msg=n1',
    'test_expect_failure_unpriv', 'test_expect_msg_unpriv=u1', 'test_log_level=2', 'test_prog_flags=BPF_F_ANY_ALIGNMENT',
    'test_prog_flags=!BPF_F_TEST_RND_HI32', 'test_prog_flags=0x8', 'test_retval=POINTER_VALUE', 'test_retval_unpriv=TEST_DATA_LEN',
    'test_arch=X86_64', 'test_jited=\tendbr64', 'test_jited=...', 'test_arch=ARM64', 'test_jited=\tpaciasp',
    'test_expect_xlated=0: r0 = 1', 'test_caps_unpriv=39|38', 'test_auxiliary_unpriv', 'test_btf_path=btf__core.bpf.o', 'test_expect_regex=R[0-9]', 'test_new_thing=1',
  ]);
  t.equal(a.description, 'desc');
  t.equal(a.logLevel, 2);
  t.same(a.flags, ['BPF_F_ANY_ALIGNMENT', '!BPF_F_TEST_RND_HI32', '8']);
  t.same(a.priv, {
    result: 'failure',
    msgs: [{ text: 'm1', negative: false }, { text: 'n1', negative: true }, { text: '{{R[0-9]}}', negative: false }],
    xlated: ['0: r0 = 1'],
    jited: { x86_64: ['\tendbr64', '...'], arm64: ['\tpaciasp'] },
    retval: 'POINTER_VALUE',
    stderr: [],
    stdout: [],
  });
  t.same(a.unpriv.msgs, [{ text: 'u1', negative: false }]);
  t.equal(a.unpriv.retval, 64);
  t.same(a.arch, ['x86_64', 'arm64']);
  t.same(a.capsUnpriv, [39, 38]);
  t.ok(a.auxiliaryUnpriv);
  t.equal(a.btfPath, 'btf__core.bpf.o');
  t.same(a.problems, ['unknown tag "test_new_thing=1"']);
  t.same(parseAnnotations(['test_jited=x']).problems, ['__jited before any __arch_*: "x"']);
  t.same(parseAnnotations(['test_retval=oops']).problems, ['unreadable __retval(oops)']);
});
