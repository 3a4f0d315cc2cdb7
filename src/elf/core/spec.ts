/**
 * An access spec: what a CO-RE record's access string ("0:1:2") says about its root type, in two
 * levels as libbpf keeps them. `raw` is the string itself, one index per step (struct members by
 * position, array elements by index, anonymous members included); `accessors` keeps only the
 * meaningful points (the root index, named members, array elements), which is what is matched by
 * name in the target. `bitOffset` is where the accessed thing starts, in bits (a u32, as libbpf's).
 */
import type { Btf } from "../btf/btf.js";
import type { BtfType } from "../btf/types.js";
import {
  CORE_ERROR,
  coreFail,
  enumValueName,
  enumValueU64,
  isAnyEnum,
  isComposite,
  libbpfKindName,
  memberAt,
  sizeOrFail,
  skipMods,
  vlen,
} from "./btf-access.js";
import { coreKindShortName, isEnumvalKind, isFieldKind, isTypeKind } from "./kinds.js";

/** libbpf's BPF_CORE_SPEC_MAX_LEN. */
export const CORE_SPEC_MAX_LEN = 64;

export interface CoreAccessor {
  /** The struct/union holding the member, or the element type of an array access (resolved). */
  readonly typeId: number;
  /** Member index or array index. */
  readonly idx: number;
  /** Member (or enumerator) name; undefined for an array access. */
  readonly name: string | undefined;
}

export interface CoreSpec {
  readonly btf: Btf;
  /** The record's type id as written (not resolved through typedefs). */
  readonly rootTypeId: number;
  readonly kind: number;
  readonly accessors: readonly CoreAccessor[];
  readonly raw: readonly number[];
  readonly bitOffset: number;
}

/** Mutable while a spec is built or matched. */
export interface SpecBuilder {
  btf: Btf;
  rootTypeId: number;
  kind: number;
  accessors: CoreAccessor[];
  raw: number[];
  bitOffset: number;
}

export function emptySpec(btf: Btf, rootTypeId: number, kind: number): SpecBuilder {
  return { btf, rootTypeId, kind, accessors: [], raw: [], bitOffset: 0 };
}

/** u32 arithmetic for bit offsets: libbpf keeps them in a __u32, so they wrap. */
export function addBits(bitOffset: number, index: number, byteSize: number): number {
  return (bitOffset + Math.imul(index | 0, (byteSize * 8) | 0)) >>> 0;
}

/** Parse "0:1:2" into indices; only non-negative decimal integers separated by single colons. */
export function parseAccessString(s: string): number[] {
  if (!/^[0-9]+(:[0-9]+)*$/.test(s)) {
    coreFail(CORE_ERROR.BAD_SPEC, `malformed access string "${s}"`);
  }
  const out: number[] = [];
  for (const part of s.split(":")) {
    const n = Number(part);
    // libbpf reads each index with %d: beyond INT_MAX is not an index any kernel type could have.
    if (n > 0x7fffffff) coreFail(CORE_ERROR.BAD_SPEC, `access index ${part} out of range`);
    if (out.length === CORE_SPEC_MAX_LEN) {
      coreFail(CORE_ERROR.SPEC_TOO_LONG, `access string "${s}" has more than ${CORE_SPEC_MAX_LEN} steps`);
    }
    out.push(n);
  }
  return out;
}

/** A flexible array: a zero-length array that is the last member of the struct the previous accessor names. */
export function isFlexArray(btf: Btf, prev: CoreAccessor | undefined, nelems: number): boolean {
  if (!prev || prev.name === undefined || nelems > 0) return false;
  return prev.idx === vlen(btf.typeById(prev.typeId)) - 1;
}

/**
 * The local spec of a record (libbpf's bpf_core_parse_spec): validates the access string against
 * the local type and computes the bit offset it denotes.
 */
export function parseSpec(btf: Btf, typeId: number, accessString: string, kind: number): CoreSpec {
  if (accessString === "" || accessString.startsWith(":")) {
    coreFail(CORE_ERROR.BAD_SPEC, `empty access string for type [${typeId}]`, typeId);
  }
  const spec = emptySpec(btf, typeId, kind);
  btf.typeById(typeId); // range check with the typed error
  if (isTypeKind(kind)) {
    if (accessString !== "0") {
      coreFail(
        CORE_ERROR.BAD_SPEC,
        `type-based relocation needs access string "0", got "${accessString}"`,
        typeId,
      );
    }
    return spec;
  }
  const raw = parseAccessString(accessString);
  spec.raw = raw;
  let id = skipMods(btf, typeId);
  let t = btf.typeById(id);
  spec.accessors.push({ typeId: id, idx: raw[0], name: undefined });

  if (isEnumvalKind(kind)) {
    if (!isAnyEnum(t) || raw.length > 1 || raw[0] >= t.values.length) {
      coreFail(CORE_ERROR.BAD_SPEC, `"${accessString}" names no enumerator of [${typeId}]`, typeId);
    }
    spec.accessors[0] = { typeId: id, idx: raw[0], name: enumValueName(t, raw[0]) };
    return spec;
  }
  if (!isFieldKind(kind)) coreFail(CORE_ERROR.UNKNOWN_KIND, `unknown relocation kind ${kind}`, typeId);

  spec.bitOffset = addBits(0, raw[0], sizeOrFail(btf, id));
  for (let i = 1; i < raw.length; i++) {
    id = skipMods(btf, id);
    t = btf.typeById(id);
    const idx = raw[i];
    if (isComposite(t)) {
      const m = memberAt(t, idx);
      spec.bitOffset = (spec.bitOffset + m.bitOffset) >>> 0;
      if (m.name !== "") spec.accessors.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === "ARRAY") {
      const prev = spec.accessors[spec.accessors.length - 1];
      id = skipMods(btf, t.type);
      if (!isFlexArray(btf, prev, t.nelems) && idx >= t.nelems) {
        coreFail(CORE_ERROR.BAD_SPEC, `array index ${idx} out of bounds (${t.nelems} elements)`, t.id);
      }
      spec.accessors.push({ typeId: id, idx, name: undefined });
      spec.bitOffset = addBits(spec.bitOffset, idx, sizeOrFail(btf, id));
    } else {
      coreFail(
        CORE_ERROR.BAD_SPEC,
        `access "${accessString}" (at step ${i}) reaches [${id}] of unexpected kind ${libbpfKindName(t)}`,
        typeId,
      );
    }
  }
  return spec;
}

function typeLabel(t: BtfType): string {
  return `${libbpfKindName(t)} ${t.name === "" ? "<anon>" : t.name}`;
}

/**
 * The C-like part of a spec: `struct task_struct.cred.uid.val`, `enum pid_type::PIDTYPE_TGID`,
 * `struct foo[1].arr[3]`, or just the type for type-based kinds.
 */
export function specPath(spec: CoreSpec): string {
  const root = spec.btf.typeById(spec.rootTypeId);
  let out = typeLabel(root);
  if (isTypeKind(spec.kind)) return out;
  if (isEnumvalKind(spec.kind)) {
    const t = spec.btf.typeById(skipMods(spec.btf, spec.rootTypeId));
    // A candidate that did not match has no index yet; libbpf then shows the first enumerator.
    const idx = spec.raw[0] ?? 0;
    if (isAnyEnum(t) && idx < t.values.length) out += `::${enumValueName(t, idx)}`;
    return out;
  }
  spec.accessors.forEach((a, i) => {
    if (a.name !== undefined) out += `.${a.name}`;
    else if (i > 0 || a.idx > 0) out += `[${a.idx}]`;
  });
  return out;
}

/**
 * The spec as libbpf's debug log prints it (bpf_core_format_spec), e.g.
 * `<byte_off> [22] struct task_struct.pid (0:3 @ offset 12)` or
 * `<enumval_value> [39] enum pid_type::PIDTYPE_TGID = 1`.
 */
export function formatSpec(spec: CoreSpec): string {
  let out = `<${coreKindShortName(spec.kind)}> [${spec.rootTypeId}] ${specPath(spec)}`;
  if (isTypeKind(spec.kind)) return out;
  if (isEnumvalKind(spec.kind)) {
    const t = spec.btf.typeById(skipMods(spec.btf, spec.rootTypeId));
    const idx = spec.raw[0] ?? 0;
    if (isAnyEnum(t) && idx < t.values.length) {
      const v = enumValueU64(t, idx);
      // Signed enums print as signed (%d / %lld); an unsigned 32-bit one prints its u32 (%u).
      const shown = t.signed ? BigInt.asIntN(64, v) : t.kind === "ENUM" ? BigInt.asUintN(32, v) : v;
      out += ` = ${shown}`;
    }
    return out;
  }
  if (!isFieldKind(spec.kind)) return out;
  const bits = spec.bitOffset;
  const at = bits % 8 ? `${Math.floor(bits / 8)}.${bits % 8}` : `${bits / 8}`;
  return `${out} (${spec.raw.join(":")} @ offset ${at})`;
}
