/**
 * The values of a relocation (libbpf's bpf_core_calc_relo): what the instruction holds for the
 * local BTF (`origVal`, checked unless `validate` is off) and what it must hold for the target
 * (`newVal`), or `poison` when the target lacks what the instruction needs. Values are u64.
 */
import type { ByteOrder } from "../../isa/instruction.js";
import { BtfIntEncoding } from "../btf/types.js";
import { CORE_ERROR, coreFail, enumValueU64, isAnyEnum, sizeOrFail, skipMods } from "./btf-access.js";
import { CoreReloKind, coreKindShortName, isEnumvalKind, isFieldKind, isTypeKind } from "./kinds.js";
import type { CoreSpec } from "./spec.js";

export interface CoreReloValues {
  readonly origVal: bigint;
  readonly newVal: bigint;
  readonly poison: boolean;
  /** Whether the instruction must hold origVal (off for bitfields, type ids). */
  readonly validate: boolean;
  /** Load/store size change the target needs that would misread the value (signed or non-int). */
  readonly failMemSizeAdjust: boolean;
  /** Field sizes (FIELD_BYTE_OFFSET of a non-bitfield only; else 0) for load/store size changes. */
  readonly origSize: number;
  readonly newSize: number;
}

interface FieldValue {
  val: bigint;
  /** 0 unless a non-bitfield byte offset. */
  fieldSize: number;
  fieldTypeId: number;
  validate: boolean;
}

/** Raised inside calc when a value needs the target and there is none: the instruction is poisoned. */
const POISON = Symbol("poison");

function u32(n: number): bigint {
  return BigInt(n >>> 0);
}

function fieldValue(kind: number, spec: CoreSpec | undefined, order: ByteOrder): FieldValue {
  if (kind === CoreReloKind.FIELD_EXISTS) {
    return { val: spec ? 1n : 0n, fieldSize: 0, fieldTypeId: 0, validate: true };
  }
  if (!spec) throw POISON;
  const btf = spec.btf;
  const acc = spec.accessors[spec.accessors.length - 1];
  if (acc.name === undefined) {
    // An array element (or the root itself): only its offset and size mean something.
    if (kind === CoreReloKind.FIELD_BYTE_OFFSET) {
      const sz = sizeOrFail(btf, acc.typeId);
      return {
        val: u32(Math.floor(spec.bitOffset / 8)),
        fieldSize: sz,
        fieldTypeId: acc.typeId,
        validate: true,
      };
    }
    if (kind === CoreReloKind.FIELD_BYTE_SIZE) {
      return { val: u32(sizeOrFail(btf, acc.typeId)), fieldSize: 0, fieldTypeId: 0, validate: true };
    }
    coreFail(CORE_ERROR.KIND_MISMATCH, `<${coreKindShortName(kind)}> cannot apply to an array access`);
  }
  const holder = btf.typeById(acc.typeId);
  if (holder.kind !== "STRUCT" && holder.kind !== "UNION")
    coreFail(CORE_ERROR.BAD_SPEC, "not a member", acc.typeId);
  const m = holder.members[acc.idx];
  const fieldTypeId = skipMods(btf, m.type);
  const mt = btf.typeById(fieldTypeId);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    // The smallest naturally aligned load (at least the declared type's size) covering the bits.
    byteSz = "size" in mt ? mt.size : 0;
    if (byteSz <= 0) coreFail(CORE_ERROR.BITFIELD, `bitfield ${m.name} has an unsized type`, fieldTypeId);
    byteOff = Math.floor(Math.floor(bitOff / 8) / byteSz) * byteSz;
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) {
        coreFail(CORE_ERROR.BITFIELD, `bitfield ${m.name} cannot be read with one 64-bit load`, acc.typeId);
      }
      byteSz *= 2;
      byteOff = Math.floor(Math.floor(bitOff / 8) / byteSz) * byteSz;
    }
  } else {
    byteSz = sizeOrFail(btf, fieldTypeId);
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  switch (kind) {
    case CoreReloKind.FIELD_BYTE_OFFSET:
      return {
        val: u32(byteOff),
        fieldSize: bitfield ? 0 : byteSz,
        fieldTypeId: bitfield ? 0 : fieldTypeId,
        validate: !bitfield,
      };
    case CoreReloKind.FIELD_BYTE_SIZE:
      return { val: u32(byteSz), fieldSize: 0, fieldTypeId: 0, validate: !bitfield };
    case CoreReloKind.FIELD_SIGNED: {
      const signed =
        (isAnyEnum(mt) && mt.signed) || (mt.kind === "INT" && (mt.encoding & BtfIntEncoding.SIGNED) !== 0);
      return { val: signed ? 1n : 0n, fieldSize: 0, fieldTypeId: 0, validate: true };
    }
    case CoreReloKind.FIELD_LSHIFT_U64: {
      // Shift that brings the field's top bit to bit 63 of the u64 the program loaded; the bit
      // numbering of the load depends on the target's byte order. (32-bit arithmetic, as libbpf's.)
      const v =
        order === "le" ? 64 - (bitOff + bitSz - byteOff * 8) : (8 - byteSz) * 8 + (bitOff - byteOff * 8);
      return { val: u32(v), fieldSize: 0, fieldTypeId: 0, validate: !bitfield };
    }
    case CoreReloKind.FIELD_RSHIFT_U64:
      return { val: u32(64 - bitSz), fieldSize: 0, fieldTypeId: 0, validate: true };
    default:
      coreFail(CORE_ERROR.UNKNOWN_KIND, `unknown relocation kind ${kind}`);
  }
}

function typeValue(kind: number, spec: CoreSpec | undefined): bigint {
  // Type relocations of a type the target lacks are 0 (exists: no; size/id: none), never poison.
  if (!spec) return 0n;
  switch (kind) {
    case CoreReloKind.TYPE_ID_TARGET:
      return BigInt(spec.rootTypeId);
    case CoreReloKind.TYPE_EXISTS:
    case CoreReloKind.TYPE_MATCHES:
      return 1n;
    case CoreReloKind.TYPE_SIZE:
      return u32(sizeOrFail(spec.btf, spec.rootTypeId));
    default:
      coreFail(CORE_ERROR.UNKNOWN_KIND, `unknown relocation kind ${kind}`);
  }
}

function enumValue(kind: number, spec: CoreSpec | undefined): bigint {
  if (kind === CoreReloKind.ENUMVAL_EXISTS) return spec ? 1n : 0n;
  if (!spec) throw POISON;
  const acc = spec.accessors[0];
  return enumValueU64(spec.btf.typeById(acc.typeId), acc.idx);
}

const POISONED: CoreReloValues = {
  origVal: 0n,
  newVal: 0n,
  poison: true,
  validate: true,
  failMemSizeAdjust: false,
  origSize: 0,
  newSize: 0,
};

/**
 * Values for one candidate's target spec, or for no target at all (`targetSpec` undefined).
 * `order` is the byte order of the program (it decides FIELD_LSHIFT_U64).
 */
export function calcRelo(
  kind: number,
  localSpec: CoreSpec,
  targetSpec: CoreSpec | undefined,
  order: ByteOrder,
): CoreReloValues {
  try {
    if (isFieldKind(kind)) {
      const o = fieldValue(kind, localSpec, order);
      const n = fieldValue(kind, targetSpec, order);
      let failMemSizeAdjust = false;
      if (o.fieldSize !== n.fieldSize && targetSpec) {
        // Resizing a load/store is safe only for pointers and unsigned integers (zero extension
        // keeps the value); anything else would read a wrong value.
        const ot = localSpec.btf.typeById(o.fieldTypeId);
        const nt = targetSpec.btf.typeById(n.fieldTypeId);
        const unsignedInt = (t: typeof ot): boolean =>
          t.kind === "INT" && t.encoding !== BtfIntEncoding.SIGNED;
        const safe = (ot.kind === "PTR" && nt.kind === "PTR") || (unsignedInt(ot) && unsignedInt(nt));
        failMemSizeAdjust = !safe;
      }
      return {
        origVal: o.val,
        newVal: n.val,
        poison: false,
        validate: o.validate,
        failMemSizeAdjust,
        origSize: o.fieldSize,
        newSize: n.fieldSize,
      };
    }
    if (isTypeKind(kind)) {
      if (kind === CoreReloKind.TYPE_ID_LOCAL) {
        coreFail(CORE_ERROR.UNKNOWN_KIND, "TYPE_ID_LOCAL has no target value");
      }
      return {
        origVal: typeValue(kind, localSpec),
        newVal: typeValue(kind, targetSpec),
        poison: false,
        // A type id may change when objects are linked, so it is never checked.
        validate: kind !== CoreReloKind.TYPE_ID_TARGET,
        failMemSizeAdjust: false,
        origSize: 0,
        newSize: 0,
      };
    }
    if (isEnumvalKind(kind)) {
      return {
        origVal: enumValue(kind, localSpec),
        newVal: enumValue(kind, targetSpec),
        poison: false,
        validate: true,
        failMemSizeAdjust: false,
        origSize: 0,
        newSize: 0,
      };
    }
    coreFail(CORE_ERROR.UNKNOWN_KIND, `unknown relocation kind ${kind}`);
  } catch (e) {
    if (e === POISON) return POISONED;
    throw e;
  }
}
