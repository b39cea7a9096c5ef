// The POSIX ERE -> JS translation (harness/spec/pattern.ts): fixed cases, plus a differential
// check against glibc's regcomp/regexec(REG_EXTENDED | REG_NEWLINE) — the engine test_loader
// uses — over random patterns (fixed seed), when a C compiler is installed.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePattern, ereToJs, findPattern, islandsToEre, PatternError } from '../harness/spec/pattern.ts';
import { mulberry32 } from './lib/rng.ts';

const ereFind = (ere: string, text: string) => {
  const re = new RegExp(ereToJs(ere), 'g');
  const m = re.exec(text);
  return m ? [m.index, m.index + m[0].length] : undefined;
};

t.test('islands: verbatim text is escaped, islands are raw', async (t) => {
  t.equal(islandsToEre('R{{[0-9]}} (x).'), 'R[0-9] \\(x\\)\\.');
  t.equal(islandsToEre('a{{b}}c{{d}}'), 'abcd');
  t.equal(islandsToEre('{{}}'), '');
  t.throws(() => islandsToEre('a{{b'), PatternError);
  t.equal(islandsToEre('a}}b{{c}}'), 'a\\}\\}bc', '"}}" outside an island is verbatim');
  // test_loader's 256-byte buffer: at most 255 bytes of ERE.
  t.doesNotThrow(() => islandsToEre(`{{${'a'.repeat(250)}}}`));
  t.throws(() => islandsToEre(`{{${'a'.repeat(260)}}}`), /too long/);
  t.throws(() => islandsToEre('.'.repeat(130)), /too long/, 'escaping doubles the size');
  t.notOk(compilePattern('plain (text)').isRegex);
  t.ok(compilePattern('x{{y}}').isRegex);
});

t.test('ERE constructs', async (t) => {
  t.same(ereFind('a[]b]c', 'a]c'), [0, 3], '] first in a bracket is literal');
  t.same(ereFind('a[^]b]c', 'axc'), [0, 3]);
  t.same(ereFind('[a\\]', '\\'), [0, 1], 'backslash is literal inside brackets');
  t.same(ereFind('[[:digit:]]+', 'ab123c'), [2, 5]);
  t.same(ereFind('[[:space:]]', 'a\nb'), [1, 2], '[:space:] matches a newline even with REG_NEWLINE');
  t.same(ereFind('[^a]', '\nb'), [1, 2], 'a non-matching list never matches a newline');
  t.same(ereFind('a{2}', 'aaa'), [0, 2]);
  t.same(ereFind('a{,2}b', 'aab'), [0, 3], 'glibc {,n}');
  t.same(ereFind('a+?', 'aaa'), [0, 3], '+? is (a+)? in ERE, not lazy');
  t.same(ereFind('a**', 'aa'), [0, 2]);
  t.same(ereFind('\\d', 'd1'), [0, 1], '\\d is a literal d in glibc ERE');
  t.same(ereFind('\\w+', '  ab_1 '), [2, 6]);
  t.same(ereFind('\\<b', 'ab b'), [3, 4]);
  t.same(ereFind('(a)\\1', 'xaa'), [1, 3]);
  t.same(ereFind('a)', 'a)'), [0, 2], 'unmatched ) is literal');
  t.same(ereFind('[[.-.]]', '-'), [0, 1], 'collating element');
  t.same(ereFind('[.-.]', '.-'), [0, 1], 'a range from . to .');
  t.same(ereFind('[a-]', '-'), [0, 1]);
  t.throws(() => ereToJs('[a'), PatternError);
  t.throws(() => ereToJs('(a'), PatternError);
  t.throws(() => ereToJs('*a'), PatternError);
  t.throws(() => ereToJs('a{x}'), PatternError);
  t.throws(() => ereToJs('a{3,1}'), PatternError);
  t.throws(() => ereToJs('[[:nope:]]'), PatternError);
  t.throws(() => ereToJs('[z-a]'), PatternError);
  t.throws(() => ereToJs('a\\'), PatternError);
  t.same(findPattern(compilePattern('{{^b}}'), 'ab', 1), { start: 1, end: 2 }, '^ matches where the search starts');
});

// ---- differential check against glibc ----

const HELPER_C = `
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static char *unhex(const char *h) {
  size_t n = strlen(h) / 2; char *s = malloc(n + 1);
  for (size_t i = 0; i < n; i++) { unsigned v; sscanf(h + 2 * i, "%2x", &v); s[i] = (char)v; }
  s[n] = 0; return s;
}
int main(void) {
  static char line[1 << 16];
  while (fgets(line, sizeof line, stdin)) {
    char *sp = strchr(line, ' '); if (!sp) continue; *sp = 0;
    char *nl = strchr(sp + 1, '\\n'); if (nl) *nl = 0;
    char *pat = unhex(line), *txt = unhex(sp + 1);
    regex_t re; regmatch_t m[1];
    if (regcomp(&re, pat, REG_EXTENDED | REG_NEWLINE)) { printf("E\\n"); }
    else { if (regexec(&re, txt, 1, m, 0) == 0) printf("M %d %d\\n", (int)m[0].rm_so, (int)m[0].rm_eo); else printf("N\\n"); regfree(&re); }
    free(pat); free(txt);
  }
  return 0;
}
`;


const ATOMS = ['a', 'b', 'c', '.', '[ab]', '[^a]', '[[:digit:]]', '[a-c]', '[]a]', '\\.', '1', ' ', '(ab)', '(a|b)', '(b|bc)', '^', '$', '[[:space:]]', '\\w', 'x'];
const QUANTS = ['', '', '', '*', '+', '?', '{1,2}', '{2}', '{0,1}'];

function randomEre(rnd: () => number): string {
  const n = 1 + Math.floor(rnd() * 4);
  let out = '';
  for (let i = 0; i < n; i++) {
    const atom = ATOMS[Math.floor(rnd() * ATOMS.length)];
    const q = atom === '^' || atom === '$' ? '' : QUANTS[Math.floor(rnd() * QUANTS.length)];
    out += atom + q;
  }
  return out;
}
function randomText(rnd: () => number): string {
  const chars = 'abc1. x\n';
  let s = '';
  const n = Math.floor(rnd() * 12);
  for (let i = 0; i < n; i++) s += chars[Math.floor(rnd() * chars.length)];
  return s;
}

function haveCc(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

t.test('random EREs agree with glibc regexec (REG_EXTENDED | REG_NEWLINE)', { skip: haveCc() ? false : 'no C compiler installed' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ere-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'h.c'), HELPER_C);
  execFileSync('cc', ['-O1', '-o', join(dir, 'h'), join(dir, 'h.c')]);
  const rnd = mulberry32(0x5eed);
  const cases: { ere: string; text: string }[] = [];
  for (let i = 0; i < 3000; i++) cases.push({ ere: randomEre(rnd), text: randomText(rnd) });
  const hex = (s: string) => Buffer.from(s, 'utf8').toString('hex');
  const input = cases.map((c) => `${hex(c.ere)} ${hex(c.text)}\n`).join('');
  const out = execFileSync(join(dir, 'h'), { input }).toString().trim().split('\n');
  t.equal(out.length, cases.length);
  let compared = 0;
  let startMismatch = 0;
  let endMismatch = 0;
  let longerInGlibc = 0;
  const bad: string[] = [];
  cases.forEach((c, i) => {
    const g = out[i];
    let ours: number[] | undefined | 'E';
    try {
      ours = ereFind(c.ere, c.text);
    } catch {
      ours = 'E';
    }
    if (g === 'E' || ours === 'E') {
      if ((g === 'E') !== (ours === 'E')) bad.push(`compile: ${JSON.stringify(c.ere)} glibc=${g} ours=${String(ours)}`);
      return;
    }
    compared++;
    if (g === 'N' || ours === undefined) {
      if ((g === 'N') !== (ours === undefined)) bad.push(`match: ${JSON.stringify(c)} glibc=${g} ours=${JSON.stringify(ours)}`);
      return;
    }
    const [, so, eo] = g.split(' ').map(Number);
    if (so !== ours[0]) {
      startMismatch++;
      bad.push(`start: ${JSON.stringify(c)} glibc=${so},${eo} ours=${ours.join(',')}`);
    } else if (eo !== ours[1]) {
      // Leftmost-longest (POSIX) vs leftmost-first (JS): same start, glibc may end later.
      if (eo > ours[1]) longerInGlibc++;
      else {
        endMismatch++;
        bad.push(`end: ${JSON.stringify(c)} glibc=${so},${eo} ours=${ours.join(',')}`);
      }
    }
  });
  t.ok(compared > 2000, `compared ${compared} matches`);
  t.same(bad.slice(0, 10), [], 'no disagreement beyond the documented longest-match ends');
  t.equal(startMismatch + endMismatch, 0);
  t.ok(longerInGlibc < compared / 50, `leftmost-longest end differences stay rare (${longerInGlibc})`);
});
