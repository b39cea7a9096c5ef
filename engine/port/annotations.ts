// Test annotation payloads (see tags.ts) -> the fields of one spec test, following the rules
// of the selftests' test_loader (parse_test_spec) without copying it:
//  - `...` in xlated/jited lists lets the next pattern skip lines (kept as a list entry);
//  - __jited patterns belong to the arch of the last __arch_* before them;
//  - __retval names INT_MIN / POINTER_VALUE / TEST_DATA_LEN, or a strtol(…, 0) number;
//  - unknown payloads are reported, not guessed at.

export interface MsgEntry {
  readonly text: string;
  readonly negative: boolean;
}

export interface RunAnnotations {
  result?: 'success' | 'failure';
  msgs: MsgEntry[];
  xlated: string[];
  /** Keyed by spec arch name (x86_64, arm64, ...). */
  jited: Record<string, string[]>;
  retval?: number | 'POINTER_VALUE' | 'INT_MIN';
  stderr: string[];
  stdout: string[];
}

export interface TestAnnotations {
  description?: string;
  logLevel?: number;
  flags: string[];
  auxiliary: boolean;
  auxiliaryUnpriv: boolean;
  arch: string[];
  capsUnpriv: number[];
  btfPath?: string;
  btfFuncPath?: string;
  loadMode?: string;
  linearSize?: number;
  skip?: string;
  priv: RunAnnotations;
  unpriv: RunAnnotations;
  /** Payloads the porter does not know, or could not read, with the reason. */
  problems: string[];
}

const ARCH_NAMES: Readonly<Record<string, string>> = {
  X86_64: 'x86_64', ARM64: 'arm64', RISCV64: 'riscv64', s390x: 's390x', S390X: 's390x', LOONGARCH: 'loongarch',
};

const emptyRun = (): RunAnnotations => ({ msgs: [], xlated: [], jited: {}, stderr: [], stdout: [] });

/** C's strtol(s, 0): decimal, 0x hex or 0 octal, with a sign; whole string. */
export function parseCInt(s: string): number | undefined {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2];
  const v = /^0[xX]/.test(body) ? BigInt(body) : body.length > 1 && body.startsWith('0') ? BigInt(`0o${body.slice(1)}`) : BigInt(body);
  const n = m[1] === '-' ? -v : v;
  // An int in test_loader: values past 32 bits wrap as they would when stored.
  return Number(BigInt.asIntN(32, n));
}

function parseRetval(v: string): RunAnnotations['retval'] {
  if (v === 'POINTER_VALUE') return 'POINTER_VALUE';
  if (v === 'INT_MIN' || v === '_INT_MIN') return 'INT_MIN';
  if (v === 'TEST_DATA_LEN') return 64;
  return parseCInt(v);
}

/** Payloads in source order -> annotations. */
export function parseAnnotations(payloads: readonly string[]): TestAnnotations {
  const a: TestAnnotations = {
    flags: [], auxiliary: false, auxiliaryUnpriv: false, arch: [], capsUnpriv: [], priv: emptyRun(), unpriv: emptyRun(), problems: [],
  };
  let jitArch: string | undefined;
  const run = (unpriv: boolean) => (unpriv ? a.unpriv : a.priv);
  for (const p of payloads) {
    const eq = p.indexOf('=');
    const key = eq < 0 ? p : p.slice(0, eq);
    const val = eq < 0 ? '' : p.slice(eq + 1);
    const unpriv = key.endsWith('_unpriv');
    const base = unpriv ? key.slice(0, -'_unpriv'.length) : key;
    switch (base) {
      case 'test_expect_success':
        run(unpriv).result = 'success';
        break;
      case 'test_expect_failure':
        run(unpriv).result = 'failure';
        break;
      case 'test_expect_msg':
        run(unpriv).msgs.push({ text: val, negative: false });
        break;
      case 'test_expect_not_msg':
        run(unpriv).msgs.push({ text: val, negative: true });
        break;
      case 'test_expect_regex':
        // Generation A's whole-string regex is a single {{...}} island today.
        run(unpriv).msgs.push({ text: `{{${val}}}`, negative: false });
        break;
      case 'test_expect_xlated':
        run(unpriv).xlated.push(val);
        break;
      case 'test_jited': {
        if (!jitArch) {
          a.problems.push(`__jited before any __arch_*: ${JSON.stringify(val)}`);
          break;
        }
        (run(unpriv).jited[jitArch] ??= []).push(val);
        break;
      }
      case 'test_expect_stderr':
        run(unpriv).stderr.push(val);
        break;
      case 'test_expect_stdout':
        run(unpriv).stdout.push(val);
        break;
      case 'test_retval': {
        const r = parseRetval(val);
        if (r === undefined) a.problems.push(`unreadable __retval${unpriv ? '_unpriv' : ''}(${val})`);
        else run(unpriv).retval = r;
        break;
      }
      case 'test_description':
        a.description = val;
        break;
      case 'test_log_level': {
        const n = parseCInt(val);
        if (n === undefined) a.problems.push(`unreadable __log_level(${val})`);
        else a.logLevel = n;
        break;
      }
      case 'test_prog_flags': {
        // A leading "!" clears the flag; anything but a BPF_F_* name is a number.
        const clear = val.startsWith('!') ? '!' : '';
        const name = val.slice(clear.length);
        const n = /^BPF_F_[A-Z0-9_]+$/.test(name) ? name : parseCInt(name);
        if (n === undefined) a.problems.push(`unreadable __flag(${val})`);
        else a.flags.push(`${clear}${n}`);
        break;
      }
      case 'test_auxiliary':
        if (unpriv) a.auxiliaryUnpriv = true;
        else a.auxiliary = true;
        break;
      case 'test_arch': {
        const arch = ARCH_NAMES[val];
        if (!arch) {
          a.problems.push(`unknown __arch(${val})`);
          break;
        }
        if (!a.arch.includes(arch)) a.arch.push(arch);
        jitArch = arch;
        break;
      }
      case 'test_caps':
        if (!unpriv) a.problems.push(`unknown tag ${p}`);
        for (const c of val.split('|')) {
          const n = parseCInt(c);
          if (n === undefined || n <= 0) a.problems.push(`unreadable __caps_unpriv entry ${JSON.stringify(c)}`);
          else if (!a.capsUnpriv.includes(n)) a.capsUnpriv.push(n);
        }
        break;
      case 'test_btf_path':
        a.btfPath = val;
        break;
      case 'test_btf_func_path':
        a.btfFuncPath = val;
        break;
      case 'load_mode':
        a.loadMode = val;
        break;
      case 'test_linear_size': {
        const n = parseCInt(val);
        if (n === undefined) a.problems.push(`unreadable __linear_size(${val})`);
        else a.linearSize = n;
        break;
      }
      case 'test_skip':
        a.skip = val;
        break;
      case 'test_log_always':
        break;
      default:
        a.problems.push(`unknown tag ${JSON.stringify(p)}`);
    }
  }
  return a;
}
