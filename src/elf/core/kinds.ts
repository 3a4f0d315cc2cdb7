/**
 * CO-RE relocation kinds as the BTF.ext format numbers them (enum bpf_core_relo_kind), the short
 * names libbpf prints (`<byte_off>`), and the three families the algorithm treats alike.
 */

import { CORE_RELO_KINDS } from "../btf-ext.js";

export const CoreReloKind = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const;
export type CoreReloKindName = keyof typeof CoreReloKind;

const LONG_NAMES: readonly CoreReloKindName[] = Object.keys(CoreReloKind) as CoreReloKindName[];

/** `byte_off`, `type_matches`...; "unknown" for numbers outside the enum (as libbpf prints). */
export function coreKindShortName(kind: number): string {
  return CORE_RELO_KINDS[kind] ?? "unknown";
}

/** `FIELD_BYTE_OFFSET`...; undefined for numbers outside the enum. */
export function coreKindName(kind: number): CoreReloKindName | undefined {
  return Number.isInteger(kind) && kind >= 0 ? LONG_NAMES.find((n) => CoreReloKind[n] === kind) : undefined;
}

export function isFieldKind(kind: number): boolean {
  return kind >= CoreReloKind.FIELD_BYTE_OFFSET && kind <= CoreReloKind.FIELD_RSHIFT_U64;
}

export function isTypeKind(kind: number): boolean {
  return (
    kind === CoreReloKind.TYPE_ID_LOCAL ||
    kind === CoreReloKind.TYPE_ID_TARGET ||
    kind === CoreReloKind.TYPE_EXISTS ||
    kind === CoreReloKind.TYPE_MATCHES ||
    kind === CoreReloKind.TYPE_SIZE
  );
}

export function isEnumvalKind(kind: number): boolean {
  return kind === CoreReloKind.ENUMVAL_EXISTS || kind === CoreReloKind.ENUMVAL_VALUE;
}

/**
 * The "essential" name: everything before the last `___` flavor separator, where the separator
 * must sit between a non-underscore and a non-underscore (`task_struct___pre514` -> `task_struct`,
 * but `a____b` keeps its name), as libbpf's candidate search compares names.
 */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (
      name.charCodeAt(i) !== 0x5f &&
      name.charCodeAt(i + 1) === 0x5f &&
      name.charCodeAt(i + 2) === 0x5f &&
      name.charCodeAt(i + 3) === 0x5f &&
      name.charCodeAt(i + 4) !== 0x5f
    ) {
      return name.slice(0, i + 1);
    }
  }
  return name;
}
