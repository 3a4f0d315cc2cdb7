/**
 * The BTF type model: kind numbers as the kernel's uapi numbers them, and one plain object per
 * type, discriminated by `kind`. Type ids are global: in split BTF they continue after the base.
 */

export const BTF_MAGIC = 0xeb9f;
export const BTF_HEADER_MIN = 24;

export const BtfKind = {
  VOID: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;
export type BtfKindNumber = (typeof BtfKind)[keyof typeof BtfKind];

/** Kind names as bpftool prints them, indexed by kind number. */
export const BTF_KIND_NAMES: readonly string[] = [
  "UNKNOWN",
  "INT",
  "PTR",
  "ARRAY",
  "STRUCT",
  "UNION",
  "ENUM",
  "FWD",
  "TYPEDEF",
  "VOLATILE",
  "CONST",
  "RESTRICT",
  "FUNC",
  "FUNC_PROTO",
  "VAR",
  "DATASEC",
  "FLOAT",
  "DECL_TAG",
  "TYPE_TAG",
  "ENUM64",
];
export const BTF_KIND_MAX = 19;

export type BtfKindName =
  | "VOID"
  | "INT"
  | "PTR"
  | "ARRAY"
  | "STRUCT"
  | "UNION"
  | "ENUM"
  | "FWD"
  | "TYPEDEF"
  | "VOLATILE"
  | "CONST"
  | "RESTRICT"
  | "FUNC"
  | "FUNC_PROTO"
  | "VAR"
  | "DATASEC"
  | "FLOAT"
  | "DECL_TAG"
  | "TYPE_TAG"
  | "ENUM64";

/** BTF_INT_* encoding bits. */
export const BtfIntEncoding = { SIGNED: 1, CHAR: 2, BOOL: 4 } as const;

interface Base {
  readonly id: number;
  /** "" for anonymous types. */
  readonly name: string;
}

export interface BtfVoid extends Base {
  readonly kind: "VOID";
}
export interface BtfInt extends Base {
  readonly kind: "INT";
  readonly size: number;
  /** BtfIntEncoding bits. */
  readonly encoding: number;
  readonly bitsOffset: number;
  readonly bits: number;
}
export interface BtfRef extends Base {
  readonly kind: "PTR" | "TYPEDEF" | "VOLATILE" | "CONST" | "RESTRICT" | "TYPE_TAG";
  readonly type: number;
}
export interface BtfArray extends Base {
  readonly kind: "ARRAY";
  readonly type: number;
  readonly indexType: number;
  readonly nelems: number;
}
export interface BtfMember {
  readonly name: string;
  readonly type: number;
  /** Offset in bits from the start of the struct. */
  readonly bitOffset: number;
  /** 0 unless the member is a bitfield (only with kind_flag set). */
  readonly bitfieldSize: number;
}
export interface BtfComposite extends Base {
  readonly kind: "STRUCT" | "UNION";
  readonly size: number;
  /** kind_flag: member offsets carry bitfield sizes. */
  readonly kindFlag: boolean;
  readonly members: readonly BtfMember[];
}
export interface BtfEnumValue {
  readonly name: string;
  readonly value: number;
}
export interface BtfEnum extends Base {
  readonly kind: "ENUM";
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly BtfEnumValue[];
}
export interface BtfEnum64Value {
  readonly name: string;
  readonly value: bigint;
}
export interface BtfEnum64 extends Base {
  readonly kind: "ENUM64";
  readonly size: number;
  readonly signed: boolean;
  readonly values: readonly BtfEnum64Value[];
}
export interface BtfFwd extends Base {
  readonly kind: "FWD";
  /** kind_flag: a forward-declared union rather than struct. */
  readonly union: boolean;
}
export interface BtfFunc extends Base {
  readonly kind: "FUNC";
  readonly type: number;
  /** 0 static, 1 global, 2 extern. */
  readonly linkage: number;
}
export interface BtfParam {
  readonly name: string;
  readonly type: number;
}
export interface BtfFuncProto extends Base {
  readonly kind: "FUNC_PROTO";
  readonly returnType: number;
  readonly params: readonly BtfParam[];
}
export interface BtfVar extends Base {
  readonly kind: "VAR";
  readonly type: number;
  /** 0 static, 1 global allocated, 2 extern. */
  readonly linkage: number;
}
export interface BtfVarSecinfo {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
}
export interface BtfDatasec extends Base {
  readonly kind: "DATASEC";
  readonly size: number;
  readonly vars: readonly BtfVarSecinfo[];
}
export interface BtfFloat extends Base {
  readonly kind: "FLOAT";
  readonly size: number;
}
export interface BtfDeclTag extends Base {
  readonly kind: "DECL_TAG";
  readonly type: number;
  /** -1 for the type itself, else the member/parameter index. */
  readonly componentIdx: number;
}

export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfRef
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfEnum64
  | BtfFwd
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;
