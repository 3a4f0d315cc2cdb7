/**
 * Candidate target types for a local type: every target type (in id order) whose essential name
 * equals the local one's and whose kind is core-compatible (same kind, or enum vs enum64), as
 * libbpf's candidate search finds them. The target is indexed once by essential name.
 */
import type { Btf } from "../btf/btf.js";
import { BtfImpl } from "../btf/btf.js";
import { BtfKind } from "../btf/types.js";
import { CORE_ERROR, coreFail } from "./btf-access.js";
import { essentialName } from "./kinds.js";

const indexes = new WeakMap<Btf, ReadonlyMap<string, readonly number[]>>();

function nameOf(btf: Btf, id: number): string {
  return btf instanceof BtfImpl ? btf.nameOf(id) : btf.typeById(id).name;
}

/** Essential name -> target type ids, ascending; anonymous types are never candidates. */
export function essentialNameIndex(btf: Btf): ReadonlyMap<string, readonly number[]> {
  let index = indexes.get(btf);
  if (!index) {
    const m = new Map<string, number[]>();
    for (let id = 1; id < btf.typeCount; id++) {
      const name = nameOf(btf, id);
      if (name === "") continue;
      const key = essentialName(name);
      const list = m.get(key);
      if (list) list.push(id);
      else m.set(key, [id]);
    }
    index = m;
    indexes.set(btf, index);
  }
  return index;
}

function isEnumKind(kind: number): boolean {
  return kind === BtfKind.ENUM || kind === BtfKind.ENUM64;
}

/**
 * Target ids that are candidates for local type `localId`, from `startId` on (a module's split BTF
 * is searched from its own first id); a BtfError when the local type is anonymous.
 */
export function findCandidates(local: Btf, localId: number, target: Btf, startId = 1): number[] {
  const lt = local.typeById(localId);
  if (lt.name === "") {
    coreFail(
      CORE_ERROR.ANONYMOUS,
      `type [${localId}] is anonymous: no candidate can be searched by name`,
      localId,
    );
  }
  const lk = local.kindOf(localId);
  const ids = essentialNameIndex(target).get(essentialName(lt.name)) ?? [];
  return ids.filter((id) => {
    if (id < startId) return false;
    const tk = target.kindOf(id);
    return tk === lk || (isEnumKind(tk) && isEnumKind(lk));
  });
}
