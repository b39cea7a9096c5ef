// Compare our image with the kernel's, ignoring fields that hold addresses of things outside
// the image (helpers, thunks, maps, per-CPU symbols): they differ per boot and per load.

import type { JitImage, RelocKind } from './types.ts';

/** Kinds whose value we cannot know without the kernel's symbol table. */
export const EXTERNAL_RELOCS: ReadonlySet<RelocKind> = new Set<RelocKind>(['call', 'return-thunk', 'indirect-thunk', 'map', 'percpu', 'native-helper', 'arena', 'priv-stack', 'tail-call-target']);

/** The image with every external field zeroed; also subprog/func fields unless `exactLinks`. */
export function maskedImage(img: JitImage, exactLinks = true): Uint8Array {
  const out = img.code.slice();
  let base = 0;
  for (const f of img.funcs) {
    for (const r of f.relocs) {
      if (EXTERNAL_RELOCS.has(r.kind) || !exactLinks) out.fill(0, base + r.at, base + r.at + r.size);
    }
    base += f.code.length;
  }
  return out;
}

export interface ImageDiff {
  readonly equal: boolean;
  /** First differing byte offset (or -1), and the function it falls in. */
  readonly firstDiff: number;
  readonly func: number;
  readonly lengthsEqual: boolean;
  readonly ours: readonly number[];
  readonly theirs: readonly number[];
}

/** Compare with the kernel's bytes, masking the same fields in both. */
export function compareImages(ours: JitImage, kernelCode: Uint8Array, kernelFuncLens: readonly number[], exactLinks = true): ImageDiff {
  const a = maskedImage(ours, exactLinks);
  const b = kernelCode.slice();
  let base = 0;
  for (const f of ours.funcs) {
    for (const r of f.relocs) {
      if ((EXTERNAL_RELOCS.has(r.kind) || !exactLinks) && base + r.at + r.size <= b.length) b.fill(0, base + r.at, base + r.at + r.size);
    }
    base += f.code.length;
  }
  const lengthsEqual = ours.funcLens.length === kernelFuncLens.length && ours.funcLens.every((l, k) => l === kernelFuncLens[k]);
  let firstDiff = -1;
  const n = Math.max(a.length, b.length);
  for (let k = 0; k < n; k++) {
    if (a[k] !== b[k]) {
      firstDiff = k;
      break;
    }
  }
  let func = -1;
  if (firstDiff >= 0) {
    let acc = 0;
    func = ours.funcLens.findIndex((l) => (acc += l) > firstDiff);
  }
  return { equal: firstDiff < 0 && lengthsEqual, firstDiff, func, lengthsEqual, ours: ours.funcLens, theirs: kernelFuncLens };
}
