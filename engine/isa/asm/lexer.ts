// Lexer for BPF assembly text: the LLVM BPF dialect that selftest inline asm uses, plus the
// kernel verifier log's instruction text. The input is a GCC asm *template*: `%%` stands for
// a literal `%`, `%[name]` for a bound operand, and `%=` inside a label name for a number
// unique to the text (we keep `%=` verbatim: labels are local to one text anyway, and error
// messages then name the label as the user wrote it).

import { InputError } from '../../errors.ts';

export type TokKind =
  | 'ident' // r1, w2, goto, l0_%=, bpf_map_lookup_elem, .8byte, s%= (see parser)
  | 'num' // 42, 0x2a, 010 (octal, as llvm-mc reads it), with optional C suffixes
  | 'localref' // 1f, 2b: GNU numeric local label references
  | 'operand' // %[name]
  | 'hashnum' // the `#1` of `call bpf_map_lookup_elem#1` (kernel log)
  | 'opcode' // the kernel log's `(b7)` opcode prefix at the start of a statement
  | 'punct' // operators and brackets
  | 'sep' // `;` or a newline: ends a statement
  | 'eof';

export interface Token {
  readonly kind: TokKind;
  /** Identifier / punctuation text, operand name, or the local label's digits. */
  readonly text: string;
  /** Numbers (and the `#N` value). */
  readonly value?: bigint;
  /** For 'localref': 'f' or 'b'. */
  readonly dir?: 'f' | 'b';
  /** 1-based position in the asm text. */
  readonly line: number;
  readonly col: number;
  /** Whitespace (or a comment) came right before this token. */
  readonly spaced: boolean;
}

/** Punctuation, longest first so that `s>>=` wins over `s>` and `>>=` over `>>`. */
const PUNCTS = [
  's>>=', '<<=', '>>=', 's/=', 's%=', 's>=', 's<=',
  '+=', '-=', '*=', '/=', '|=', '&=', '^=', '%=', '==', '!=', '>=', '<=', '<<', '>>', 's>', 's<',
  '(', ')', '[', ']', '*', '+', '-', ',', ':', '=', '>', '<', '&', '|', '^', '~', '/', '%', '!',
];

/** Punctuation candidates by first character, longest first. */
const PUNCT_BY_CHAR: ReadonlyMap<string, readonly string[]> = (() => {
  const m = new Map<string, string[]>();
  for (const p of PUNCTS) {
    if (p.startsWith('s')) continue; // signed operators are found after a lone `s` name
    const list = m.get(p[0]) ?? [];
    list.push(p);
    m.set(p[0], list);
  }
  return m;
})();
const SIGNED_PUNCTS = PUNCTS.filter((p) => p.startsWith('s'));

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isIdentStart = (c: string): boolean =>
  (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === '.' || c === '$';
const isIdentChar = (c: string): boolean => isIdentStart(c) || isDigit(c);

// Sticky patterns, matched in place at `lastIndex` (no slicing, no per-call allocation).
const HASH_NUM = /#(-?[0-9]+)/y;
const OPCODE = /\(([0-9a-fA-F]{2})\)/y;
const OPERAND = /%\[([A-Za-z_][A-Za-z0-9_]{0,255})\]/y;
const LOCAL_REF = /([0-9]+)([fb])(?![A-Za-z0-9_.$])/y;
const NUMBER = /(0[xX][0-9A-Fa-f]+|0[bB][01]+|[0-9]+)([uU]?[lL]{0,2}|[lL]{1,2}[uU]?)(?![A-Za-z0-9_.$])/y;

function matchAt(re: RegExp, text: string, at: number): RegExpExecArray | null {
  re.lastIndex = at;
  return re.exec(text);
}

/** Reports errors in text coordinates; the caller maps them to file coordinates. */
export type ErrorAt = (message: string, line: number, col: number) => InputError;

export function lex(text: string, errorAt: ErrorAt): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  let spaced = true;
  const col = (): number => i - lineStart + 1;
  const push = (t: Omit<Token, 'line' | 'col' | 'spaced'>, at: number, atLine: number, atLineStart: number): void => {
    // One object shape for every token keeps the parser's property accesses monomorphic.
    out.push({ kind: t.kind, text: t.text, value: t.value, dir: t.dir, line: atLine, col: at - atLineStart + 1, spaced });
    spaced = false;
  };

  while (i < text.length) {
    const c = text[i];
    // Newlines end statements; a backslash-newline (a pasted C continuation) does not.
    if (c === '\n') {
      push({ kind: 'sep', text: '\n' }, i, line, lineStart);
      i++;
      line++;
      lineStart = i;
      spaced = true;
      continue;
    }
    if (c === '\\' && (text[i + 1] === '\n' || (text[i + 1] === '\r' && text[i + 2] === '\n'))) {
      i += text[i + 1] === '\r' ? 3 : 2;
      line++;
      lineStart = i;
      spaced = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      i++;
      spaced = true;
      continue;
    }
    if (c === ';') {
      push({ kind: 'sep', text: ';' }, i, line, lineStart);
      i++;
      spaced = true;
      continue;
    }
    // Comments: `//` and `#` to end of line (llvm-mc's BPF comment forms), `/* ... */`.
    if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      spaced = true;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      const startLine = line;
      const startCol = col();
      i += 2;
      for (;;) {
        if (i >= text.length) throw errorAt('unterminated comment', startLine, startCol);
        if (text[i] === '*' && text[i + 1] === '/') {
          i += 2;
          break;
        }
        if (text[i] === '\n') {
          line++;
          lineStart = i + 1;
        }
        i++;
      }
      spaced = true;
      continue;
    }
    if (c === '#') {
      // The kernel log's `call name#1` / `call unknown#-5`: a `#` glued to a name and
      // followed by a number. Anything else is a comment.
      const prev = out[out.length - 1];
      const m = matchAt(HASH_NUM, text, i);
      if (m && !spaced && prev && prev.kind === 'ident') {
        push({ kind: 'hashnum', text: m[0], value: BigInt(m[1]) }, i, line, lineStart);
        i += m[0].length;
        continue;
      }
      while (i < text.length && text[i] !== '\n') i++;
      spaced = true;
      continue;
    }
    if (c === '%') {
      if (text[i + 1] === '%') {
        // `%%` is a literal percent: `r1 %%= r2`, `r1 s%%= r2`.
        const prev = out[out.length - 1];
        if (text[i + 2] === '=') {
          // Glue a preceding bare `s` (as in `s%%=`) into the signed operator.
          if (prev && prev.kind === 'ident' && prev.text === 's' && !spaced) {
            out.pop();
            out.push({ kind: 'punct', text: 's%=', line: prev.line, col: prev.col, spaced: prev.spaced });
          } else {
            push({ kind: 'punct', text: '%=' }, i, line, lineStart);
          }
          i += 3;
          continue;
        }
        push({ kind: 'punct', text: '%' }, i, line, lineStart);
        i += 2;
        continue;
      }
      if (text[i + 1] === '[') {
        const m = matchAt(OPERAND, text, i);
        if (!m) throw errorAt("malformed operand reference (expected '%[name]')", line, col());
        push({ kind: 'operand', text: m[1] }, i, line, lineStart);
        i += m[0].length;
        continue;
      }
    }
    if (c === '(') {
      // `(b7)` right at the start of a statement (or after `12:`) is the log's opcode byte.
      const prev = out[out.length - 1];
      const m = matchAt(OPCODE, text, i);
      if (m && (!prev || prev.kind === 'sep' || (prev.kind === 'punct' && prev.text === ':'))) {
        push({ kind: 'opcode', text: m[0], value: BigInt(`0x${m[1]}`) }, i, line, lineStart);
        i += 4;
        continue;
      }
    }
    if (isDigit(c)) {
      const start = i;
      // GNU local label references: `1f`, `2b` (not hex digits: `0x1f` is lexed below).
      const lm = matchAt(LOCAL_REF, text, i);
      if (lm) {
        push({ kind: 'localref', text: lm[1], dir: lm[2] as 'f' | 'b' }, start, line, lineStart);
        i += lm[0].length;
        continue;
      }
      const m = matchAt(NUMBER, text, i);
      if (!m) {
        let j = i;
        while (j < text.length && isIdentChar(text[j])) j++;
        throw errorAt(`malformed number '${text.slice(i, j)}'`, line, col());
      }
      push({ kind: 'num', text: m[0], value: parseNumber(m[1]) }, start, line, lineStart);
      i += m[0].length;
      continue;
    }
    if (isIdentStart(c)) {
      const start = i;
      while (i < text.length) {
        if (isIdentChar(text[i])) i++;
        // `%=` glued inside a name is the template's unique-number marker (`l0_%=`); after a
        // lone `s` it is the signed-modulo operator instead.
        else if (text[i] === '%' && text[i + 1] === '=' && !(i - start === 1 && text[start] === 's')) i += 2;
        else break;
      }
      const word = text.slice(start, i);
      // `s%=` (signed modulo) lexes as punctuation, not as a name.
      if (word === 's' && text[i] === '%' && text[i + 1] === '=') {
        push({ kind: 'punct', text: 's%=' }, start, line, lineStart);
        i += 2;
        continue;
      }
      // Signed operators spelled with a leading `s`: `s>>=`, `s/=`, `s>`, `s<=`, ...
      if (word === 's') {
        const p = SIGNED_PUNCTS.find((q) => text.startsWith(q, start));
        if (p) {
          push({ kind: 'punct', text: p }, start, line, lineStart);
          i = start + p.length;
          continue;
        }
      }
      push({ kind: 'ident', text: word }, start, line, lineStart);
      continue;
    }
    const p = PUNCT_BY_CHAR.get(c)?.find((q) => text.startsWith(q, i));
    if (p) {
      push({ kind: 'punct', text: p }, i, line, lineStart);
      i += p.length;
      continue;
    }
    const shown = c.charCodeAt(0) < 0x20 || c.charCodeAt(0) > 0x7e ? `\\u{${c.codePointAt(0)?.toString(16)}}` : c;
    throw errorAt(`unexpected character '${shown}'`, line, col());
  }
  out.push({ kind: 'eof', text: '', line, col: col(), spaced: true });
  return out;
}

/** llvm-mc's integer spelling: 0x hex, 0b binary, a leading 0 means octal. */
function parseNumber(s: string): bigint {
  if (/^0[xX]/.test(s)) return BigInt(s);
  if (/^0[bB]/.test(s)) return BigInt(s);
  if (s.length > 1 && s[0] === '0') {
    if (/[89]/.test(s)) return BigInt(s); // not octal after all; llvm-mc would reject it
    return BigInt(`0o${s.slice(1)}`);
  }
  return BigInt(s);
}
