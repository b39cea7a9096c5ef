// BTF as plain data: one record per type id, discriminated by `kind`. Field names follow
// include/uapi/linux/btf.h so a reader can cross-check against the kernel's structs.

/** BTF_KIND_* (uapi btf.h). */
export const BTF_KIND = {
  UNKN: 0, INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8,
  VOLATILE: 9, CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15,
  FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19,
} as const;
export type BtfKindName = keyof typeof BTF_KIND;

/** Kind names by number, as the kernel's btf_type_str() prints them. */
export const KIND_NAMES: readonly BtfKindName[] = Object.keys(BTF_KIND) as BtfKindName[];

/** BTF_INT_* encoding bits. */
export const BTF_INT_SIGNED = 1 << 0;
export const BTF_INT_CHAR = 1 << 1;
export const BTF_INT_BOOL = 1 << 2;

/** BTF_FUNC_* linkage of a FUNC (in its vlen bits) and BTF_VAR_* of a VAR. */
export const FUNC_LINKAGE = ['static', 'global', 'extern'] as const;
export type FuncLinkage = (typeof FUNC_LINKAGE)[number];
export const VAR_LINKAGE = ['static', 'global', 'extern'] as const;

export interface BtfMember {
  readonly name: string;
  readonly type: number;
  readonly bitOffset: number;
  /** Non-zero for a bitfield member (kind_flag set). */
  readonly bitfieldSize: number;
}

export interface BtfEnumValue {
  readonly name: string;
  /** ENUM: the 32-bit value (signed when the enum is signed); ENUM64: the 64-bit value. */
  readonly value: bigint;
}

export interface BtfParam {
  /** Empty for an unnamed parameter (e.g. clang drops them for __naked functions). */
  readonly name: string;
  /** 0 with an empty name marks a trailing `...` (variadic). */
  readonly type: number;
}

export interface BtfVarSecInfo {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}

interface Common {
  readonly id: number;
  readonly name: string;
}

export type BtfType =
  | (Common & { readonly kind: 'UNKN' })
  | (Common & { readonly kind: 'INT'; readonly size: number; readonly encoding: number; readonly offset: number; readonly bits: number })
  | (Common & { readonly kind: 'PTR' | 'TYPEDEF' | 'VOLATILE' | 'CONST' | 'RESTRICT' | 'TYPE_TAG'; readonly type: number })
  | (Common & { readonly kind: 'ARRAY'; readonly type: number; readonly indexType: number; readonly nelems: number })
  | (Common & { readonly kind: 'STRUCT' | 'UNION'; readonly size: number; readonly members: readonly BtfMember[] })
  | (Common & { readonly kind: 'ENUM' | 'ENUM64'; readonly size: number; readonly signed: boolean; readonly values: readonly BtfEnumValue[] })
  | (Common & { readonly kind: 'FWD'; readonly union: boolean })
  | (Common & { readonly kind: 'FUNC'; readonly type: number; readonly linkage: FuncLinkage | 'unknown' })
  | (Common & { readonly kind: 'FUNC_PROTO'; readonly type: number; readonly params: readonly BtfParam[] })
  | (Common & { readonly kind: 'VAR'; readonly type: number; readonly linkage: number })
  | (Common & { readonly kind: 'DATASEC'; readonly size: number; readonly vars: readonly BtfVarSecInfo[] })
  | (Common & { readonly kind: 'FLOAT'; readonly size: number })
  | (Common & { readonly kind: 'DECL_TAG'; readonly type: number; readonly componentIdx: number });

export type BtfTypeOf<K extends BtfKindName> = BtfType & { readonly kind: K };

export interface Btf {
  /** Index = type id. [0] is void. For split BTF the base's types come first. */
  readonly types: readonly BtfType[];
  /** Number of leading ids that belong to the base BTF (0 for a standalone blob). */
  readonly baseCount: number;
  /** Bytes of string section, the base's included (split BTF's own offsets start there). */
  readonly strLen: number;
  /** String at an offset of the string section (split BTF: offsets past the base's strings). */
  str(off: number): string;
}
