/**
 * The few BTF queries CO-RE needs, phrased as libbpf phrases them: modifier skipping that keeps
 * the resolved id, sizes that report failure instead of throwing, and member/enum accessors that
 * tolerate any kind (the algorithm checks kinds itself and turns surprises into failed records).
 */
import { BtfError } from "../../errors.js";
import type { Btf } from "../btf/btf.js";
import type { BtfMember, BtfType } from "../btf/types.js";

/** Codes of the BtfErrors a CO-RE relocation can end with (also the `error.code` of a failed record). */
export const CORE_ERROR = {
  /** The access string does not parse or does not fit the local type (libbpf: parsing ... failed). */
  BAD_SPEC: "CORE_BAD_SPEC",
  /** More than 64 access steps (libbpf's BPF_CORE_SPEC_MAX_LEN). */
  SPEC_TOO_LONG: "CORE_SPEC_TOO_LONG",
  /** A type on the access path has no size. */
  UNSIZED: "CORE_UNSIZED",
  /** The local type is anonymous, so no candidate can be searched by name. */
  ANONYMOUS: "CORE_ANONYMOUS",
  /** Candidates disagree on the offset or the value. */
  AMBIGUOUS: "CORE_AMBIGUOUS",
  /** A bitfield that no 8-byte load covers. */
  BITFIELD: "CORE_BITFIELD",
  /** A kind that cannot apply to what the access string names (e.g. FIELD_SIGNED on an array element). */
  KIND_MISMATCH: "CORE_KIND_MISMATCH",
  /** A relocation kind number outside the enum. */
  UNKNOWN_KIND: "CORE_UNKNOWN_KIND",
  /** The instruction is not of a relocatable form, or its value is not the one the local BTF implies. */
  BAD_INSN: "CORE_BAD_INSN",
  /** The new offset does not fit the instruction's 16-bit offset. */
  RANGE: "CORE_RANGE",
  /** The record's instruction offset is unaligned or outside the program. */
  INSN_OFFSET: "CORE_INSN_OFFSET",
  /** No target BTF (neither the given file nor /sys/kernel/btf/vmlinux). */
  NO_TARGET_BTF: "CORE_NO_TARGET_BTF",
} as const;
export type CoreErrorCode = (typeof CORE_ERROR)[keyof typeof CORE_ERROR];

export function coreFail(code: CoreErrorCode, message: string, typeId?: number): never {
  throw new BtfError(code, message, typeId === undefined ? {} : { typeId });
}

/** Follow typedefs and const/volatile/restrict/type_tag; the id of what is underneath. */
export function skipMods(btf: Btf, id: number): number {
  return btf.resolve(id);
}

/** libbpf's btf__resolve_size: the size in bytes, or -1 when the type has none. */
export function sizeOrNeg(btf: Btf, id: number): number {
  try {
    return btf.sizeOf(id);
  } catch (e) {
    if (e instanceof BtfError && e.code !== "BTF_BAD_TYPE_ID") return -1;
    throw e;
  }
}

/** Size in bytes, or a failed record naming the type. */
export function sizeOrFail(btf: Btf, id: number): number {
  const sz = sizeOrNeg(btf, id);
  if (sz < 0) coreFail(CORE_ERROR.UNSIZED, `type [${id}] has no size`, id);
  return sz;
}

export function isComposite(t: BtfType): t is Extract<BtfType, { kind: "STRUCT" | "UNION" }> {
  return t.kind === "STRUCT" || t.kind === "UNION";
}

export function isAnyEnum(t: BtfType): t is Extract<BtfType, { kind: "ENUM" | "ENUM64" }> {
  return t.kind === "ENUM" || t.kind === "ENUM64";
}

/** Same kind, or both enums of either width (libbpf's btf_kind_core_compat). */
export function kindsCoreCompatible(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

/** Number of members/values/params (vlen) of a type; 0 for kinds without a list. */
export function vlen(t: BtfType): number {
  switch (t.kind) {
    case "STRUCT":
    case "UNION":
      return t.members.length;
    case "ENUM":
    case "ENUM64":
      return t.values.length;
    case "FUNC_PROTO":
      return t.params.length;
    case "DATASEC":
      return t.vars.length;
    default:
      return 0;
  }
}

export function memberAt(t: BtfType, idx: number): BtfMember {
  if (!isComposite(t) || idx < 0 || idx >= t.members.length) {
    coreFail(CORE_ERROR.BAD_SPEC, `member #${idx} out of range`, t.id);
  }
  return t.members[idx];
}

/**
 * An enumerator's value as libbpf reads it into a u64: a 32-bit value is the uapi's `__s32`,
 * so it is sign-extended whatever the enum's signedness; a 64-bit value is taken as unsigned.
 */
export function enumValueU64(t: BtfType, idx: number): bigint {
  if (t.kind === "ENUM") return BigInt.asUintN(64, BigInt(t.values[idx].value | 0));
  if (t.kind === "ENUM64") return BigInt.asUintN(64, t.values[idx].value);
  coreFail(CORE_ERROR.BAD_SPEC, "not an enum", t.id);
}

export function enumValueName(t: BtfType, idx: number): string {
  if (t.kind === "ENUM" || t.kind === "ENUM64") return t.values[idx].name;
  coreFail(CORE_ERROR.BAD_SPEC, "not an enum", t.id);
}

/** Kind names as libbpf's btf_kind_str prints them (lower case, "void" for id 0). */
export function libbpfKindName(t: BtfType): string {
  return t.kind === "VOID" ? "void" : t.kind.toLowerCase();
}
