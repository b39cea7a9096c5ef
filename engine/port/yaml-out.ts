// A ported suite as YAML text: the header comment, suite-level fields, then the tests, each
// preceded by comments for facts the spec format has no field for. Output is a pure function
// of the PortedSuite, so two runs give byte-identical files.

import { Document, isMap, isSeq, type YAMLMap } from 'yaml';
import type { PortedSuite, Yaml } from './port-object.ts';

export interface YamlHeader {
  /** Where the suite came from (a path relative to something stable, never absolute). */
  readonly source: string;
  /** How it was built (compiler and flags), for the header comment. */
  readonly build?: string;
}

export function suiteYaml(s: PortedSuite, h: YamlHeader): string {
  const root: { [k: string]: Yaml } = { ...s.header, tests: s.tests.map((t) => t.yaml) };
  const doc = new Document(root);
  const lines = [
    ` Ported by 'bpfconform port' from ${h.source} (annotation encoding ${s.encoding}).`,
    ' Generated file: edit the source and port again rather than editing this file.',
  ];
  if (h.build) lines.push(` Built with: ${h.build}`);
  for (const f of s.failures) lines.push(` NOT PORTED ${f.name}: ${f.reason}`);
  for (const n of s.notes) lines.push(` note: ${n}`);
  doc.commentBefore = lines.join('\n');
  // Small mappings (maps, params, kfunc entries) read best on one line.
  const flowMaps = (node: unknown): void => {
    if (!isMap(node)) return;
    for (const pair of (node as YAMLMap).items) {
      if (isMap(pair.value)) {
        const m = pair.value as YAMLMap;
        if (!m.items.some((i) => isMap(i.value) || isSeq(i.value))) m.flow = true;
      }
    }
  };
  const top = doc.contents as YAMLMap;
  for (const key of ['maps', 'kfuncs']) flowMaps(top.get(key, true));
  const tests = top.get('tests', true);
  if (isSeq(tests)) {
    tests.items.forEach((item, i) => {
      const notes = s.tests[i].notes;
      if (notes.length && isMap(item)) (item as YAMLMap).commentBefore = notes.map((n) => ` note: ${n}`).join('\n');
    });
  }
  return doc.toString({ lineWidth: 0, blockQuote: 'literal', indentSeq: true, flowCollectionPadding: false });
}
