/**
 * The three notions of "compatible" CO-RE uses (facts from libbpf's relo_core.c):
 * - fieldsCompatible: a matched member's local and target types (field relocations);
 * - typesCompatible: a type relocation's local and target roots (TYPE_EXISTS, TYPE_SIZE,
 *   TYPE_ID_TARGET), shape-only, names ignored below the root;
 * - typesMatch: the stricter TYPE_MATCHES relation (members by name, sizes and signedness).
 * Each returns 1 (yes), 0 (no), or throws a failed-record BtfError where libbpf returns -EINVAL.
 */
import type { Btf } from "../btf/btf.js";
import { BtfIntEncoding, type BtfType } from "../btf/types.js";
import { CORE_ERROR, coreFail, isAnyEnum, isComposite, kindsCoreCompatible, skipMods } from "./btf-access.js";
import { essentialName } from "./kinds.js";

/** libbpf's recursion bound for typesCompatible / typesMatch. */
const MAX_LEVEL = 32;

function resolved(btf: Btf, id: number): BtfType {
  return btf.typeById(skipMods(btf, id));
}

/** Both anonymous-or-equal essential names (enum and fwd field compatibility). */
function namesCompatible(a: string, b: string): boolean {
  const ea = essentialName(a);
  const eb = essentialName(b);
  return ea === "" || eb === "" || ea === eb;
}

export function fieldsCompatible(local: Btf, localId: number, target: Btf, targetId: number): boolean {
  // Arrays recurse on their element type; a bounded loop guards against malformed cycles.
  for (let steps = 0; steps <= local.typeCount + target.typeCount; steps++) {
    const l = resolved(local, localId);
    const t = resolved(target, targetId);
    if (isComposite(l) && isComposite(t)) return true;
    if (!kindsCoreCompatible(l, t)) return false;
    switch (l.kind) {
      case "PTR":
      case "FLOAT":
        return true;
      case "FWD":
      case "ENUM":
      case "ENUM64":
        return namesCompatible(l.name, t.name);
      case "INT":
        return l.bitsOffset === 0 && (t as typeof l).bitsOffset === 0;
      case "ARRAY":
        localId = l.type;
        targetId = (t as typeof l).type;
        continue;
      default:
        return false;
    }
  }
  coreFail(CORE_ERROR.BAD_SPEC, "array type cycle", localId);
}

export function typesCompatible(
  local: Btf,
  localId: number,
  target: Btf,
  targetId: number,
  level = MAX_LEVEL,
): boolean {
  if (!kindsCoreCompatible(local.typeById(localId), target.typeById(targetId))) return false;
  for (let depth = MAX_LEVEL; ; ) {
    if (--depth < 0) coreFail(CORE_ERROR.BAD_SPEC, "type nesting too deep", localId);
    const l = resolved(local, localId);
    const t = resolved(target, targetId);
    if (!kindsCoreCompatible(l, t)) return false;
    switch (l.kind) {
      case "VOID":
      case "STRUCT":
      case "UNION":
      case "ENUM":
      case "FWD":
      case "ENUM64":
        return true;
      case "INT":
        return l.bitsOffset === 0 && (t as typeof l).bitsOffset === 0;
      case "PTR":
        localId = l.type;
        targetId = (t as typeof l).type;
        continue;
      case "ARRAY":
        localId = l.type;
        targetId = (t as typeof l).type;
        continue;
      case "FUNC_PROTO": {
        const tp = t as typeof l;
        if (l.params.length !== tp.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (level <= 0) coreFail(CORE_ERROR.BAD_SPEC, "function prototype nesting too deep", localId);
          const ok = typesCompatible(
            local,
            skipMods(local, l.params[i].type),
            target,
            skipMods(target, tp.params[i].type),
            level - 1,
          );
          if (!ok) return false;
        }
        localId = skipMods(local, l.returnType);
        targetId = skipMods(target, tp.returnType);
        continue;
      }
      default:
        return false;
    }
  }
}

/** Names equal up to flavors; an anonymous target only matches an anonymous local. */
function namesMatch(a: string, b: string): boolean {
  if (b === "") return a === "";
  return essentialName(a) === essentialName(b);
}

function enumsMatch(l: BtfType, t: BtfType): boolean {
  if (!isAnyEnum(l) || !isAnyEnum(t)) return false;
  if (l.size !== t.size) return false;
  if (l.values.length > t.values.length) return false;
  return l.values.every((lv) => t.values.some((tv) => namesMatch(lv.name, tv.name)));
}

function compositesMatch(
  local: Btf,
  l: BtfType,
  target: Btf,
  t: BtfType,
  behindPtr: boolean,
  level: number,
): boolean {
  if (!isComposite(l) || !isComposite(t)) return false;
  if (l.members.length > t.members.length) return false;
  for (const lm of l.members) {
    let matched = false;
    for (const tm of t.members) {
      if (!namesMatch(lm.name, tm.name)) continue;
      if (typesMatch(local, lm.type, target, tm.type, behindPtr, level - 1)) {
        matched = true;
        break;
      }
    }
    if (!matched) return false;
  }
  return true;
}

export function typesMatch(
  local: Btf,
  localId: number,
  target: Btf,
  targetId: number,
  behindPtr = false,
  level = MAX_LEVEL,
): boolean {
  if (level <= 0) coreFail(CORE_ERROR.BAD_SPEC, "type nesting too deep", localId);
  for (let depth = MAX_LEVEL; ; ) {
    if (--depth < 0) coreFail(CORE_ERROR.BAD_SPEC, "type nesting too deep", localId);
    const l = resolved(local, localId);
    const t = resolved(target, targetId);
    if (!namesMatch(l.name, t.name)) return false;
    switch (l.kind) {
      case "VOID":
        return t.kind === "VOID";
      case "FWD":
        if (behindPtr) {
          if (t.kind === "FWD") return l.union === t.union;
          // A forward declaration's kind_flag tells struct (0) from union (1).
          return (t.kind === "STRUCT" && !l.union) || (t.kind === "UNION" && l.union);
        }
        return t.kind === "FWD" && l.union === t.union;
      case "ENUM":
      case "ENUM64":
        return enumsMatch(l, t);
      case "STRUCT":
      case "UNION":
        if (behindPtr) {
          if (l.kind === t.kind) return true;
          if (t.kind !== "FWD") return false;
          return (l.kind === "UNION") === t.union;
        }
        if (l.kind !== t.kind) return false;
        return compositesMatch(local, l, target, t, behindPtr, level);
      case "INT": {
        if (t.kind !== "INT") return false;
        const ls = l.encoding & BtfIntEncoding.SIGNED;
        const ts = t.encoding & BtfIntEncoding.SIGNED;
        return l.size === t.size && ls === ts;
      }
      case "PTR":
        if (t.kind !== "PTR") return false;
        behindPtr = true;
        localId = l.type;
        targetId = t.type;
        continue;
      case "ARRAY":
        if (t.kind !== "ARRAY") return false;
        if (l.nelems !== t.nelems) return false;
        localId = l.type;
        targetId = t.type;
        continue;
      case "FUNC_PROTO": {
        if (t.kind !== "FUNC_PROTO") return false;
        if (l.params.length !== t.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (!typesMatch(local, l.params[i].type, target, t.params[i].type, behindPtr, level - 1))
            return false;
        }
        localId = l.returnType;
        targetId = t.returnType;
        continue;
      }
      default:
        return false;
    }
  }
}
