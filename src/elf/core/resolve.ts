/**
 * Resolving one CO-RE record against a target BTF (libbpf's bpf_core_calc_relo_insn), without
 * touching instructions: parse the local spec, find the candidates (cached per local type and
 * narrowed to the ones that matched, as libbpf narrows them), match each, and require all
 * matching candidates to agree on offset and value. No match at all is not an error: existence
 * kinds become 0, type kinds 0, and the rest poison their instruction.
 */

import { BtfError } from "../../errors.js";
import type { ByteOrder } from "../../isa/instruction.js";
import type { Btf } from "../btf/btf.js";
import { CORE_ERROR, coreFail, libbpfKindName } from "./btf-access.js";
import { type CoreReloValues, calcRelo } from "./calc.js";
import { findCandidates } from "./candidates.js";
import { CoreReloKind } from "./kinds.js";
import { matchCandidate } from "./match.js";
import { type CoreSpec, formatSpec, parseSpec, specPath } from "./spec.js";

/** A kernel module's BTF: split BTF on top of the vmlinux target. */
export interface ModuleBtf {
  readonly name: string;
  readonly btf: Btf;
}

/**
 * What to relocate for: the kernel's BTF and, optionally, its modules' BTF. As libbpf does, a
 * type is searched in vmlinux first and in the modules only when vmlinux has no candidate.
 */
export interface CoreTarget {
  readonly btf: Btf;
  /** Module BTFs, or a function giving them (called once, when first needed). */
  readonly modules?: readonly ModuleBtf[] | (() => readonly ModuleBtf[]);
}

/** One candidate: a type id in the vmlinux BTF or in a module's. */
export interface CandidateRef {
  readonly btf: Btf;
  readonly id: number;
  /** "vmlinux" or the module's name (libbpf's log says `in [vmlinux]`). */
  readonly source: string;
}

/** State shared by the records of one object: the BTFs and the candidate lists. */
export interface CoreContext {
  readonly local: Btf;
  readonly target: Btf;
  /** Byte order of the program (decides FIELD_LSHIFT_U64). */
  readonly byteOrder: ByteOrder;
  /** Local type id -> candidates still in the running (libbpf's cand_cache). */
  readonly candidates: Map<number, CandidateRef[]>;
  /** Module BTFs, loaded on first need. */
  modules(): readonly ModuleBtf[];
}

export function coreContext(local: Btf, target: Btf | CoreTarget, byteOrder?: ByteOrder): CoreContext {
  const t: CoreTarget = "typeById" in target ? { btf: target } : target;
  let mods: readonly ModuleBtf[] | undefined;
  return {
    local,
    target: t.btf,
    byteOrder: byteOrder ?? local.byteOrder,
    candidates: new Map(),
    modules(): readonly ModuleBtf[] {
      if (!mods) mods = typeof t.modules === "function" ? t.modules() : (t.modules ?? []);
      return mods;
    },
  };
}

/** Candidates in vmlinux, else in the modules (from each one's own first id). */
function searchCandidates(ctx: CoreContext, localId: number): CandidateRef[] {
  const own = findCandidates(ctx.local, localId, ctx.target).map((id) => ({
    btf: ctx.target,
    id,
    source: "vmlinux",
  }));
  if (own.length > 0) return own;
  const out: CandidateRef[] = [];
  for (const m of ctx.modules()) {
    for (const id of findCandidates(ctx.local, localId, m.btf, ctx.target.typeCount)) {
      out.push({ btf: m.btf, id, source: m.name });
    }
  }
  return out;
}

/** The fields of a CO-RE record the algorithm reads (BTF.ext's bpf_core_relo, minus the offset). */
export interface CoreRecordFields {
  /** Root type id in the local (object) BTF. */
  readonly typeId: number;
  /** Access string, "0:1:2". */
  readonly access: string;
  /** bpf_core_relo_kind number. */
  readonly kindId: number;
}

export interface CoreCandidate {
  /** Target type id. */
  readonly id: number;
  /** Where it was found: "vmlinux" or a module's name. */
  readonly source: string;
  /** `struct task_struct`. */
  readonly type: string;
  readonly matched: boolean;
  /** The candidate's spec as libbpf's log prints it (partial when it did not match). */
  readonly spec: string;
}

export interface CoreError {
  readonly code: string;
  readonly message: string;
}

export interface CoreDecision {
  readonly localSpec: CoreSpec | undefined;
  /** `struct task_struct.pid` (or `[id]` when even the local type is unreadable). */
  readonly localPath: string;
  /** libbpf's log form: `<byte_off> [22] struct task_struct.pid (0:3 @ offset 12)`. */
  readonly localText: string;
  readonly candidates: readonly CoreCandidate[];
  /** The first matching candidate's spec (all matching ones agree). */
  readonly targetSpec: CoreSpec | undefined;
  readonly values: CoreReloValues | undefined;
  readonly error: CoreError | undefined;
}

function typeLabel(btf: Btf, id: number): string {
  const t = btf.typeById(id);
  return `${libbpfKindName(t)} ${t.name === "" ? "<anon>" : t.name}`;
}

/** Resolve one record; a BtfError anywhere (bad ids, malformed types) becomes `error`. */
export function resolveRecord(ctx: CoreContext, rec: CoreRecordFields): CoreDecision {
  let localSpec: CoreSpec | undefined;
  let localPath = `[${rec.typeId}]`;
  let localText = `[${rec.typeId}] ${rec.access}`;
  const candidates: CoreCandidate[] = [];
  try {
    try {
      localPath = typeLabel(ctx.local, rec.typeId);
      localText = `[${rec.typeId}] ${localPath} + ${rec.access}`;
    } catch {
      // Keep the bare id: the record's type does not exist; parseSpec reports it.
    }
    localSpec = parseSpec(ctx.local, rec.typeId, rec.access, rec.kindId);
    localPath = specPath(localSpec);
    localText = formatSpec(localSpec);
    const decided = decide(ctx, rec, localSpec, candidates);
    return { localSpec, localPath, localText, candidates, ...decided, error: undefined };
  } catch (e) {
    if (!(e instanceof BtfError)) throw e;
    return {
      localSpec,
      localPath,
      localText,
      candidates,
      targetSpec: undefined,
      values: undefined,
      error: { code: e.code, message: e.message },
    };
  }
}

function decide(
  ctx: CoreContext,
  rec: CoreRecordFields,
  localSpec: CoreSpec,
  out: CoreCandidate[],
): { targetSpec: CoreSpec | undefined; values: CoreReloValues } {
  if (rec.kindId === CoreReloKind.TYPE_ID_LOCAL) {
    // The local id needs no target; it is not checked either (linking may renumber types).
    const id = BigInt(rec.typeId);
    const values: CoreReloValues = {
      origVal: id,
      newVal: id,
      poison: false,
      validate: false,
      failMemSizeAdjust: false,
      origSize: 0,
      newSize: 0,
    };
    return { targetSpec: undefined, values };
  }
  let cands = ctx.candidates.get(rec.typeId);
  if (!cands) {
    cands = searchCandidates(ctx, rec.typeId);
    ctx.candidates.set(rec.typeId, cands);
  }
  let chosen: { spec: CoreSpec; values: CoreReloValues } | undefined;
  const kept: CandidateRef[] = [];
  for (const cand of cands) {
    const { id } = cand;
    const m = matchCandidate(localSpec, cand.btf, id);
    out.push({
      id,
      source: cand.source,
      type: typeLabel(cand.btf, id),
      matched: m.matched,
      spec: formatSpec(m.spec),
    });
    if (!m.matched) continue;
    const values = calcRelo(rec.kindId, localSpec, m.spec, ctx.byteOrder);
    if (!chosen) {
      chosen = { spec: m.spec, values };
    } else if (m.spec.bitOffset !== chosen.spec.bitOffset) {
      coreFail(
        CORE_ERROR.AMBIGUOUS,
        `field offset ambiguity: ${m.spec.bitOffset} != ${chosen.spec.bitOffset} (candidates [${chosen.spec.rootTypeId}] and [${id}])`,
      );
    } else if (values.poison !== chosen.values.poison || values.newVal !== chosen.values.newVal) {
      const say = (v: CoreReloValues): string => `${v.poison ? "failure" : "success"} ${v.newVal}`;
      coreFail(
        CORE_ERROR.AMBIGUOUS,
        `relocation decision ambiguity: ${say(values)} != ${say(chosen.values)}`,
      );
    }
    kept.push(cand);
  }
  // Later records of the same type only consider the candidates that matched this one.
  if (kept.length > 0) ctx.candidates.set(rec.typeId, kept);
  if (chosen) return { targetSpec: chosen.spec, values: chosen.values };
  return { targetSpec: undefined, values: calcRelo(rec.kindId, localSpec, undefined, ctx.byteOrder) };
}
