/**
 * Matching a local spec against one candidate target type (libbpf's bpf_core_spec_match): named
 * members are found by name in the target, searching through anonymous struct/union members,
 * array accesses must stay in bounds, and matched members must have compatible types. The target
 * spec is built along the way; it is returned even when the candidate does not match, because
 * that partial spec is what libbpf's log shows for a non-matching candidate.
 */
import type { Btf } from "../btf/btf.js";
import { CORE_ERROR, coreFail, isAnyEnum, isComposite, sizeOrFail, skipMods } from "./btf-access.js";
import { fieldsCompatible, typesCompatible, typesMatch } from "./compat.js";
import { CoreReloKind, essentialName, isEnumvalKind, isFieldKind, isTypeKind } from "./kinds.js";
import {
  addBits,
  CORE_SPEC_MAX_LEN,
  type CoreAccessor,
  type CoreSpec,
  emptySpec,
  isFlexArray,
  type SpecBuilder,
} from "./spec.js";

export interface CandidateMatch {
  readonly matched: boolean;
  readonly spec: CoreSpec;
}

/**
 * Find the local member named by `localAcc` among the members of target composite `targetId`,
 * descending into anonymous members. Returns the target member's type id, or undefined.
 */
function matchMember(
  local: Btf,
  localAcc: CoreAccessor,
  target: Btf,
  targetId: number,
  spec: SpecBuilder,
): { found: boolean; next: number } {
  targetId = skipMods(target, targetId);
  const tt = target.typeById(targetId);
  if (!isComposite(tt)) return { found: false, next: 0 };
  const lt = local.typeById(localAcc.typeId);
  if (!isComposite(lt)) coreFail(CORE_ERROR.BAD_SPEC, "accessor is not a member", localAcc.typeId);
  const localMember = lt.members[localAcc.idx];
  for (let i = 0; i < tt.members.length; i++) {
    const m = tt.members[i];
    if (spec.raw.length === CORE_SPEC_MAX_LEN) {
      coreFail(
        CORE_ERROR.SPEC_TOO_LONG,
        `target type [${targetId}] nests more than ${CORE_SPEC_MAX_LEN} levels`,
      );
    }
    // Speculate that this member is the one; undone below if it is not.
    spec.bitOffset = (spec.bitOffset + m.bitOffset) >>> 0;
    spec.raw.push(i);
    if (m.name === "") {
      const inner = matchMember(local, localAcc, target, m.type, spec);
      if (inner.found) return inner;
    } else if (m.name === localMember.name) {
      const acc: CoreAccessor = { typeId: targetId, idx: i, name: m.name };
      spec.accessors.push(acc);
      const ok = fieldsCompatible(local, localMember.type, target, m.type);
      // An incompatible namesake ends the search; libbpf leaves its raw index and offset in place.
      if (!ok) spec.accessors.pop();
      return { found: ok, next: m.type };
    }
    spec.bitOffset = (spec.bitOffset - m.bitOffset) >>> 0;
    spec.raw.pop();
  }
  return { found: false, next: 0 };
}

export function matchCandidate(localSpec: CoreSpec, target: Btf, candidateId: number): CandidateMatch {
  const spec = emptySpec(target, candidateId, localSpec.kind);
  const done = (matched: boolean): CandidateMatch => ({ matched, spec });

  if (isTypeKind(localSpec.kind)) {
    const ok =
      localSpec.kind === CoreReloKind.TYPE_MATCHES
        ? typesMatch(localSpec.btf, localSpec.rootTypeId, target, candidateId)
        : typesCompatible(localSpec.btf, localSpec.rootTypeId, target, candidateId);
    return done(ok);
  }

  let targetId = candidateId;
  if (isEnumvalKind(localSpec.kind)) {
    targetId = skipMods(target, targetId);
    const tt = target.typeById(targetId);
    if (!isAnyEnum(tt)) return done(false);
    const want = essentialName(localSpec.accessors[0].name ?? "");
    for (let i = 0; i < tt.values.length; i++) {
      if (essentialName(tt.values[i].name) !== want) continue;
      spec.accessors.push({ typeId: targetId, idx: i, name: tt.values[i].name });
      spec.raw.push(i);
      return done(true);
    }
    return done(false);
  }

  if (!isFieldKind(localSpec.kind))
    coreFail(CORE_ERROR.UNKNOWN_KIND, `unknown relocation kind ${localSpec.kind}`);

  for (let i = 0; i < localSpec.accessors.length; i++) {
    const localAcc = localSpec.accessors[i];
    targetId = skipMods(target, targetId);
    const tt = target.typeById(targetId);
    if (localAcc.name !== undefined) {
      const r = matchMember(localSpec.btf, localAcc, target, targetId, spec);
      if (!r.found) return done(false);
      targetId = r.next;
      continue;
    }
    // An array access; the first accessor indexes the root itself (p[0] of a pointer's target).
    if (i > 0) {
      if (tt.kind !== "ARRAY") return done(false);
      const prev = spec.accessors[spec.accessors.length - 1];
      if (!isFlexArray(target, prev, tt.nelems) && localAcc.idx >= tt.nelems) return done(false);
      targetId = skipMods(target, tt.type);
    }
    if (spec.raw.length === CORE_SPEC_MAX_LEN) {
      coreFail(CORE_ERROR.SPEC_TOO_LONG, `target spec longer than ${CORE_SPEC_MAX_LEN} steps`);
    }
    spec.accessors.push({ typeId: targetId, idx: localAcc.idx, name: undefined });
    spec.raw.push(localAcc.idx);
    spec.bitOffset = addBits(spec.bitOffset, localAcc.idx, sizeOrFail(target, targetId));
  }
  return done(true);
}
