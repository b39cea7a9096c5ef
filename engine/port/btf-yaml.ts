// A map key/value type from an object's BTF, written as the spec's type description
// (harness/spec/btf-type.ts reads it back: the two are inverses).

import type { BtfTypeDesc } from '../program/types.ts';
import type { Yaml } from './port-object.ts';

/** The YAML form of a type (the porter writes it; parseBtfType reads it back). */
export function btfTypeYaml(t: BtfTypeDesc): Yaml {
  switch (t.kind) {
    case 'void':
      return 'void';
    case 'int':
      return t.name;
    case 'ptr':
      return { ptr: btfTypeYaml(t.type), ...(t.tags?.length ? { tags: [...t.tags] } : {}) };
    case 'array':
      return { array: btfTypeYaml(t.type), len: t.len };
    default:
      if (!t.members.length && !t.size) return `${t.kind} ${t.name}`;
      return { [t.kind]: t.name, size: t.size, members: t.members.map((m) => ({ name: m.name, type: btfTypeYaml(m.type), offset: m.offset })) };
  }
}
