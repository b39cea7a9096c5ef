// Test annotations as stored in an object's BTF: DECL_TAGs on the program's FUNC with
// component_idx -1, in one of three encodings (bpf_misc.h over the years):
//   A  "comment:test_expect_msg=<msg>"             no counter (identical tags merge)
//   B  "comment:test_expect_msg=<N>=<msg>"         counter only on message-like tags (6.12)
//   C  "comment:<N>:test_expect_msg=<msg>"         counter on every tag (newest)
// C restores source order by sorting on the counter (the loader uses strverscmp); A and B
// keep BTF order, which clang emits in source order.

import type { Btf } from '../btf/types.ts';
import { declTags } from '../btf/resolve.ts';

export type TagEncoding = 'A' | 'B' | 'C';

/** Tags whose payload is a message list entry, and so carry B's `<N>=` counter. */
const MESSAGE_TAGS = [
  'test_expect_msg=', 'test_expect_not_msg=', 'test_expect_msg_unpriv=', 'test_expect_not_msg_unpriv=',
  'test_expect_xlated=', 'test_expect_xlated_unpriv=', 'test_jited=', 'test_jited_unpriv=',
  'test_expect_stderr=', 'test_expect_stderr_unpriv=', 'test_expect_stdout=', 'test_expect_stdout_unpriv=',
];

const GEN_C = /^comment:(\d+):/;

/** The raw tag strings on a function, in BTF order. */
export function rawTestTags(btf: Btf, funcId: number): string[] {
  return declTags(btf, funcId, -1).filter((t) => t.startsWith('comment:'));
}

/** Which encoding an object uses, judged from all its test tags: C if any tag has the
 *  `comment:<N>:` shape; B if every message-like tag carries `<N>=`; else A. */
export function detectEncoding(allTags: readonly string[]): TagEncoding {
  if (allTags.some((t) => GEN_C.test(t))) return 'C';
  const msgs = allTags.map((t) => t.slice('comment:'.length)).filter((p) => MESSAGE_TAGS.some((m) => p.startsWith(m)));
  if (msgs.length > 0 && msgs.every((p) => /^[a-z_]+=\d+=/.test(p))) return 'B';
  return msgs.length === 0 ? 'B' : 'A';
}

/** glibc strverscmp for the strings we meet: digit runs compare by value. */
export function versionCompare(a: string, b: string): number {
  const re = /(\d+)|(\D+)/g;
  const pa = a.match(re) ?? [];
  const pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      // strverscmp: a run with a leading zero is a fraction and sorts before an integer;
      // two fractions compare as text (a prefix sorts after: "000" < "00"); two integers by value.
      const fx = x.length > 1 && x.startsWith('0');
      const fy = y.length > 1 && y.startsWith('0');
      if (fx !== fy) return fx ? -1 : 1;
      if (fx) return x.startsWith(y) ? -1 : y.startsWith(x) ? 1 : x < y ? -1 : 1;
      const d = BigInt(x) - BigInt(y);
      return d < 0n ? -1 : 1;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** Payloads (`test_expect_msg=foo`, `test_expect_success`, ...) in source order, with the
 *  encoding's prefix and counters removed. Tags of another shape are dropped, as the kernel's
 *  loader ignores them. */
export function testTagPayloads(tags: readonly string[], enc: TagEncoding): string[] {
  if (enc === 'C') {
    return tags
      .filter((t) => GEN_C.test(t))
      .sort(versionCompare)
      .map((t) => t.replace(GEN_C, ''));
  }
  return tags.map((t) => {
    const p = t.slice('comment:'.length);
    if (enc === 'B') {
      const m = MESSAGE_TAGS.find((pfx) => p.startsWith(pfx));
      // skip_dynamic_pfx: everything up to and including the next '=' after the prefix.
      if (m) {
        const eq = p.indexOf('=', m.length);
        return eq < 0 ? p : m + p.slice(eq + 1);
      }
    }
    return p;
  });
}
