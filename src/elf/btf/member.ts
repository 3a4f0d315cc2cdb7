/**
 * Field lookup by C path: `memberOffset(btf, structId, "a.b.c")` walks through typedefs and
 * modifiers, and looks inside anonymous struct/union members the way C does (`s.x` where x lives
 * in an unnamed union of s), adding up bit offsets.
 */
import { BtfError } from "../../errors.js";
import type { Btf } from "./btf.js";
import type { BtfComposite } from "./types.js";

export interface MemberLocation {
  /** Bit offset from the start of the outermost struct. */
  readonly bitOffset: number;
  /** Non-zero for a bitfield. */
  readonly bitfieldSize: number;
  /** Type id of the field (as declared, not resolved). */
  readonly type: number;
}

function composite(btf: Btf, id: number): BtfComposite | undefined {
  const t = btf.typeById(btf.resolve(id));
  return t.kind === "STRUCT" || t.kind === "UNION" ? t : undefined;
}

/** The member `name` of a struct/union, searching anonymous members depth-first, or undefined. */
function findIn(btf: Btf, t: BtfComposite, name: string, depth: number): MemberLocation | undefined {
  if (depth > 64) throw new BtfError("BTF_TYPE_CYCLE", "anonymous members nest too deeply", { typeId: t.id });
  for (const m of t.members) {
    if (m.name === name) return { bitOffset: m.bitOffset, bitfieldSize: m.bitfieldSize, type: m.type };
    if (m.name === "") {
      const inner = composite(btf, m.type);
      const found = inner && findIn(btf, inner, name, depth + 1);
      if (found) return { ...found, bitOffset: m.bitOffset + found.bitOffset };
    }
  }
  return undefined;
}

export function memberOffset(btf: Btf, structId: number, path: string): MemberLocation {
  let loc: MemberLocation = { bitOffset: 0, bitfieldSize: 0, type: structId };
  for (const name of path.split(".")) {
    const t = composite(btf, loc.type);
    if (!t) {
      throw new BtfError("BTF_NOT_COMPOSITE", `'${name}' looked up in a non-struct type`, {
        typeId: loc.type,
      });
    }
    const found = findIn(btf, t, name, 0);
    if (!found)
      throw new BtfError("BTF_NO_MEMBER", `no member '${name}' in ${btf.typeString(t.id)}`, { typeId: t.id });
    loc = { ...found, bitOffset: loc.bitOffset + found.bitOffset };
  }
  return loc;
}
