// Expectation patterns as test_loader reads them: a plain substring, or (when the text holds
// "{{") verbatim text with POSIX extended-regex islands `{{...}}`, compiled with REG_NEWLINE.
// We translate the ERE into a JavaScript RegExp that accepts the same strings.
//
// Known deviation: POSIX picks the leftmost-LONGEST match, JS the leftmost-first (greedy,
// backtracking). Whether a pattern matches and where the match starts are the same; the end
// can be shorter in JS when an earlier choice that looked best makes the whole match shorter:
// `{{a|ab}}` on "ab", or `{{[^a]a?(ab)*}}` on "cab" (JS takes the "a" with `a?`). The end
// matters only because the next pattern is searched from it. test/match-ere.test.ts checks
// this against glibc's regexec on random patterns.

export class PatternError extends Error {
  constructor(
    message: string,
    /** Offset into the pattern text where the problem is, when known. */
    readonly offset = 0,
  ) {
    super(message);
    this.name = 'PatternError';
  }
}

/** A compiled pattern. `regex` is absent for substring patterns. */
export interface CompiledPattern {
  readonly text: string;
  readonly isRegex: boolean;
  /** The ERE test_loader would hand to regcomp (verbatim parts escaped). */
  readonly ere?: string;
  readonly regex?: RegExp;
}

/** Characters test_loader backslash-escapes in the verbatim parts of a pattern. */
const ERE_SPECIALS = '.[]\\()*+?{}|^$';

/** test_loader builds the ERE in a 256-byte buffer and stops copying at 254 bytes. */
const ERE_BUF_LIMIT = 254;

/** Turn the `{{...}}` notation into a single ERE, the way test_loader does. */
export function islandsToEre(pattern: string): string {
  let out = '';
  let inRegex = false;
  let i = 0;
  while (i < pattern.length && utf8Len(out) < ERE_BUF_LIMIT) {
    if (!inRegex && pattern.startsWith('{{', i)) {
      inRegex = true;
      i += 2;
      continue;
    }
    if (inRegex && pattern.startsWith('}}', i)) {
      inRegex = false;
      i += 2;
      continue;
    }
    const c = pattern[i++];
    out += !inRegex && ERE_SPECIALS.includes(c) ? `\\${c}` : c;
  }
  if (i < pattern.length) throw new PatternError(`regexp too long (test_loader's limit is ${ERE_BUF_LIMIT + 1} bytes after escaping)`, i);
  if (inRegex) throw new PatternError("regexp has open '{{' but no closing '}}'", pattern.lastIndexOf('{{'));
  return out;
}

const utf8Len = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Compile a pattern; throws PatternError for an unclosed island or a bad ERE. */
export function compilePattern(text: string): CompiledPattern {
  if (!text.includes('{{')) return { text, isRegex: false };
  const ere = islandsToEre(text);
  const source = ereToJs(ere);
  let regex: RegExp;
  try {
    regex = new RegExp(source, 'g');
  } catch (e) {
    throw new PatternError(`bad regular expression '${ere}': ${(e as Error).message}`);
  }
  return { text, isRegex: true, ere, regex };
}

/** Find `p` in `text` at or after `from`: [start, end) or undefined. Like test_loader, the
 *  search sees the text from `from` on as a fresh string, so `^` matches at `from`. */
export function findPattern(p: CompiledPattern, text: string, from: number): { start: number; end: number } | undefined {
  if (!p.regex) {
    const at = text.indexOf(p.text, from);
    return at < 0 ? undefined : { start: at, end: at + p.text.length };
  }
  const rest = from === 0 ? text : text.slice(from);
  p.regex.lastIndex = 0;
  const m = p.regex.exec(rest);
  if (!m) return undefined;
  return { start: from + m.index, end: from + m.index + m[0].length };
}

// ---- POSIX ERE (glibc flavour, REG_EXTENDED | REG_NEWLINE, C locale) -> JS RegExp ----

/** ASCII sets of the POSIX character classes in the C locale, as JS class contents. */
const CHAR_CLASSES: Readonly<Record<string, string>> = {
  alpha: 'A-Za-z',
  digit: '0-9',
  alnum: '0-9A-Za-z',
  upper: 'A-Z',
  lower: 'a-z',
  space: ' \\t\\n\\v\\f\\r',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  print: ' -~',
  graph: '!-~',
  cntrl: '\\x00-\\x1f\\x7f',
  xdigit: '0-9A-Fa-f',
};

/** Escape one character for use inside a JS character class or as a JS literal. */
function jsLiteral(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (/[A-Za-z0-9 _]/.test(c)) return c;
  if (code < 0x20 || code === 0x7f) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code > 0x7e) return c; // no special meaning in a JS pattern without the u flag
  return `\\${c}`;
}

/** Parse a bracket expression starting at ere[i] === '['. Returns the JS class and the
 *  index after the closing ']'. Backslash is an ordinary character inside brackets. */
function translateBracket(ere: string, i: number): { js: string; next: number } {
  const open = i;
  i++;
  let negate = false;
  if (ere[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  const single = (): { ch: string; next: number } | undefined => {
    // One collating element: a plain char, [.x.] or [=x=] (single characters only here).
    if (ere[i] === '[' && (ere[i + 1] === '.' || ere[i + 1] === '=')) {
      const kind = ere[i + 1];
      const close = ere.indexOf(`${kind}]`, i + 2);
      if (close < 0) throw new PatternError('unterminated [. or [= in bracket expression', i);
      const name = ere.slice(i + 2, close);
      if ([...name].length !== 1) throw new PatternError(`unsupported collating element '${name}'`, i);
      return { ch: name, next: close + 2 };
    }
    if (i >= ere.length) return undefined;
    return { ch: ere[i], next: i + 1 };
  };
  for (;;) {
    if (i >= ere.length) throw new PatternError('unmatched [ in regular expression', open);
    if (ere[i] === ']' && !first) {
      i++;
      break;
    }
    first = false;
    if (ere[i] === '[' && ere[i + 1] === ':') {
      const close = ere.indexOf(':]', i + 2);
      if (close < 0) throw new PatternError('unterminated [: in bracket expression', i);
      const name = ere.slice(i + 2, close);
      const set = CHAR_CLASSES[name];
      if (set === undefined) throw new PatternError(`invalid character class '${name}'`, i);
      body += set;
      i = close + 2;
      continue;
    }
    const lo = single();
    if (!lo) throw new PatternError('unmatched [ in regular expression', open);
    i = lo.next;
    // A range a-z, unless the '-' is the last thing before ']'.
    if (ere[i] === '-' && i + 1 < ere.length && ere[i + 1] !== ']') {
      i++;
      const hi = single();
      if (!hi) throw new PatternError('unmatched [ in regular expression', open);
      i = hi.next;
      if (hi.ch.codePointAt(0)! < lo.ch.codePointAt(0)!) throw new PatternError('invalid range end in bracket expression', i);
      body += `${jsLiteral(lo.ch)}-${jsLiteral(hi.ch)}`;
      continue;
    }
    body += jsLiteral(lo.ch);
  }
  // REG_NEWLINE: a non-matching list never matches a newline.
  if (negate) return { js: `[^\\n${body}]`, next: i };
  return { js: body === '' ? '[]' : `[${body}]`, next: i };
}

/** Translate a glibc ERE (REG_NEWLINE) to an equivalent JS RegExp source (no flags needed). */
export function ereToJs(ere: string): string {
  let out = '';
  // Start offset (in `out`) of the last complete atom, for quantifiers; -1 when none.
  let atomStart = -1;
  // Whether the last thing emitted was a quantifier (ERE allows `a*+`; JS does not).
  let afterQuant = false;
  const groups: number[] = []; // `out` offsets of open groups
  let i = 0;
  const atom = (js: string): void => {
    atomStart = out.length;
    out += js;
    afterQuant = false;
  };
  const quantify = (q: string, at: number): void => {
    if (atomStart < 0) throw new PatternError('quantifier without a preceding expression', at);
    if (afterQuant) out = `${out.slice(0, atomStart)}(?:${out.slice(atomStart)})`;
    out += q;
    afterQuant = true;
  };
  while (i < ere.length) {
    const c = ere[i];
    switch (c) {
      case '\\': {
        const n = ere[i + 1];
        if (n === undefined) throw new PatternError('trailing backslash in regular expression', i);
        i += 2;
        if (n >= '1' && n <= '9') {
          atom(`\\${n}`);
        } else if (n === 'w' || n === 'W' || n === 's' || n === 'S') {
          // GNU extensions; \s includes the newline, like [[:space:]].
          atom(n === 'w' ? '[0-9A-Za-z_]' : n === 'W' ? '[^0-9A-Za-z_]' : n === 's' ? '[ \\t\\n\\v\\f\\r]' : '[^ \\t\\n\\v\\f\\r]');
        } else if (n === 'b' || n === 'B') {
          out += `\\${n}`;
          atomStart = -1;
        } else if (n === '<') {
          out += '\\b(?=[0-9A-Za-z_])';
          atomStart = -1;
        } else if (n === '>') {
          out += '\\b(?<=[0-9A-Za-z_])';
          atomStart = -1;
        } else if (n === '`') {
          out += '(?<![\\s\\S])';
          atomStart = -1;
        } else if (n === "'") {
          out += '(?![\\s\\S])';
          atomStart = -1;
        } else {
          atom(jsLiteral(n)); // any other escaped character is itself
        }
        afterQuant = false;
        continue;
      }
      case '[': {
        const { js, next } = translateBracket(ere, i);
        i = next;
        atom(js);
        continue;
      }
      case '.':
        i++;
        atom('[^\\n]'); // REG_NEWLINE: '.' does not match a newline ('\r' it does)
        continue;
      case '^':
        i++;
        out += '(?<![^\\n])';
        atomStart = -1;
        afterQuant = false;
        continue;
      case '$':
        i++;
        out += '(?![^\\n])';
        atomStart = -1;
        afterQuant = false;
        continue;
      case '(':
        i++;
        groups.push(out.length);
        out += '(';
        atomStart = -1;
        afterQuant = false;
        continue;
      case ')': {
        i++;
        const start = groups.pop();
        if (start === undefined) {
          atom('\\)'); // glibc: an unmatched ')' in an ERE is an ordinary character
          continue;
        }
        out += ')';
        atomStart = start;
        afterQuant = false;
        continue;
      }
      case '|':
        i++;
        out += '|';
        atomStart = -1;
        afterQuant = false;
        continue;
      case '*':
      case '+':
      case '?':
        quantify(c, i);
        i++;
        continue;
      case '{': {
        const m = /^\{(\d*)(,(\d*))?\}/.exec(ere.slice(i));
        if (!m || (m[1] === '' && m[2] === undefined)) throw new PatternError('invalid interval in regular expression', i);
        const lo = m[1] === '' ? 0 : Number(m[1]);
        const hi = m[2] === undefined ? lo : m[3] === '' ? Infinity : Number(m[3]);
        if (lo > hi || lo > 0x7fff || (hi !== Infinity && hi > 0x7fff)) throw new PatternError('invalid interval bounds in regular expression', i);
        quantify(m[2] === undefined ? `{${lo}}` : hi === Infinity ? `{${lo},}` : `{${lo},${hi}}`, i);
        i += m[0].length;
        continue;
      }
      default:
        i++;
        atom(jsLiteral(c));
    }
  }
  if (groups.length) throw new PatternError('unmatched ( in regular expression', ere.length);
  return out;
}
