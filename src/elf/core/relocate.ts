/**
 * CO-RE relocation of instructions for a target BTF: `relocateInstructions` for one instruction
 * list and its records, `relocate` for a whole ObjectSpec (every program, subprograms included).
 * Pure computation: the target BTF is data (the running kernel's, or any file), nothing is loaded.
 */

import { BtfError, UsageError } from "../../errors.js";
import type { Instruction } from "../../isa/instruction.js";
import type { Btf } from "../btf/btf.js";
import type { ObjectSpec, ProgramCoreRelo, ProgramSpec } from "../object/types.js";
import { ELF } from "../types.js";
import { type AppliedRecord, type CoreOutcome, SlotPatcher } from "./apply.js";
import { coreKindShortName } from "./kinds.js";
import type { PatchedClass } from "./patch.js";
import {
  type CoreCandidate,
  type CoreContext,
  type CoreDecision,
  type CoreError,
  type CoreRecordFields,
  type CoreTarget,
  coreContext,
  resolveRecord,
} from "./resolve.js";
import { formatSpec, specPath } from "./spec.js";

/** A CO-RE record addressed by slot in the instruction list being relocated. */
export interface CoreRecordInput extends CoreRecordFields {
  /** Slot (8-byte unit) of the instruction in the list. */
  readonly slot: number;
}

export interface CoreReloResult {
  /** Index into the instruction list given (the list before poisoned ld_imm64s expand). */
  readonly insn: number;
  /** Slot of the instruction (stable: relocation never changes slot numbers). */
  readonly slot: number;
  readonly kindId: number;
  /** libbpf's short kind name: `byte_off`, `field_exists`, `enumval_value`... */
  readonly kind: string;
  readonly typeId: number;
  readonly accessString: string;
  /** `struct task_struct.pid`, `enum pid_type::PIDTYPE_TGID`, `struct task_struct`. */
  readonly localSpec: string;
  /** libbpf's debug-log form: `<byte_off> [22] struct task_struct.pid (0:3 @ offset 12)`. */
  readonly localSpecText: string;
  /** The matched target type and its spec (absent when nothing matched). */
  readonly targetTypeId?: number;
  readonly targetSpec?: string;
  readonly targetSpecText?: string;
  readonly outcome: CoreOutcome;
  /** What the instruction held and now holds (imm, off, or the 64-bit imm), as u64. Patched only. */
  readonly oldValue?: bigint;
  readonly newValue?: bigint;
  readonly insnClass?: PatchedClass;
  /** Load/store size change in bytes. */
  readonly memSize?: { readonly from: number; readonly to: number };
  /** Poisoned only: how many slots became `call 0xbad2310` (2 for an ld_imm64). */
  readonly poisonedSlots?: number;
  /** Candidates considered, in target id order. */
  readonly candidates: readonly CoreCandidate[];
  /** Why the record failed (libbpf would refuse to load the object). */
  readonly error?: CoreError;
  /** Why an existing field's load/store was poisoned. */
  readonly warning?: string;
}

export interface RelocateInstructionsOptions {
  /** Share candidate narrowing between lists of one object (libbpf keeps one cache per object). */
  readonly context?: CoreContext;
}

export interface RelocatedInstructions {
  readonly insns: readonly Instruction[];
  readonly results: readonly CoreReloResult[];
}

function toResult(rec: CoreRecordInput, decision: CoreDecision, applied: AppliedRecord): CoreReloResult {
  const patched = applied.patch?.patched;
  const t = decision.targetSpec;
  return {
    insn: applied.insn,
    slot: rec.slot,
    kindId: rec.kindId,
    kind: coreKindShortName(rec.kindId),
    typeId: rec.typeId,
    accessString: rec.access,
    localSpec: decision.localPath,
    localSpecText: decision.localText,
    ...(t ? { targetTypeId: t.rootTypeId, targetSpec: specPath(t), targetSpecText: formatSpec(t) } : {}),
    outcome: applied.outcome,
    ...(patched
      ? {
          oldValue: patched.oldValue,
          newValue: patched.newValue,
          insnClass: patched.insnClass,
          ...(patched.memSize ? { memSize: patched.memSize } : {}),
        }
      : {}),
    ...(applied.outcome === "poisoned" && applied.patch
      ? { poisonedSlots: applied.patch.replacement.length }
      : {}),
    candidates: decision.candidates,
    ...(applied.error ? { error: applied.error } : {}),
    ...(applied.patch?.warning ? { warning: applied.patch.warning } : {}),
  };
}

/**
 * Relocate one instruction list: records apply in order; failed records leave their instruction
 * as it was and say why (libbpf would refuse the whole object at the first one).
 */
export function relocateInstructions(
  localBtf: Btf,
  targetBtf: Btf | CoreTarget,
  insns: readonly Instruction[],
  records: readonly CoreRecordInput[],
  opts: RelocateInstructionsOptions = {},
): RelocatedInstructions {
  const ctx = opts.context ?? coreContext(localBtf, targetBtf);
  const patcher = new SlotPatcher(insns);
  const results = records.map((rec) => {
    const decision = resolveRecord(ctx, rec);
    return toResult(rec, decision, patcher.apply(rec.slot, decision));
  });
  return { insns: patcher.result(), results };
}

// ---- whole objects ----

export interface ObjectCoreReloResult extends CoreReloResult {
  /** The program whose instructions were patched. */
  readonly program: string;
  /** The function (program or linked subprogram) the record belongs to. */
  readonly function: string;
  /** ELF section of that function and the record's index among that section's BTF.ext records (libbpf's `relo #N`). */
  readonly section?: string;
  readonly reloIndex?: number;
  /** Instruction number inside the function (libbpf's `insn #N`, before subprograms are appended). */
  readonly functionInsn: number;
}

export interface RelocatedObject {
  /** The same object with each program's instructions relocated. */
  readonly spec: ObjectSpec;
  readonly results: readonly ObjectCoreReloResult[];
}

interface Located {
  readonly rec: ProgramCoreRelo;
  readonly section: string | undefined;
  readonly sectionInsnOff: number | undefined;
  readonly functionInsn: number;
  readonly key: string;
}

/** Byte offset of each named function symbol in its section: "section\0name" -> offset. */
function functionOffsets(spec: ObjectSpec): Map<string, number> {
  const out = new Map<string, number>();
  for (const sym of spec.elf.symbols) {
    if (sym.type !== ELF.STT_FUNC || sym.shndx <= 0 || sym.shndx >= spec.elf.sections.length) continue;
    out.set(`${spec.elf.sections[sym.shndx].name}\0${sym.name}`, Number(sym.value));
  }
  return out;
}

function recordKey(section: string, insnOff: number, rec: CoreRecordFields): string {
  return `${section}\0${insnOff}\0${rec.kindId}\0${rec.typeId}\0${rec.access}`;
}

function locate(prog: ProgramSpec, rec: ProgramCoreRelo, offsets: Map<string, number>): Located {
  let start = 0;
  let section: string | undefined = prog.section;
  let base: number | undefined = prog.sectionOffset;
  if (rec.function !== prog.name || rec.slot >= prog.mainSlots) {
    const sub = prog.subprogs.filter((s) => s.name === rec.function && s.slot <= rec.slot).pop();
    if (sub) {
      start = sub.slot;
      section = sub.section;
      base = offsets.get(`${sub.section}\0${sub.name}`);
    } else {
      section = undefined;
      base = undefined;
    }
  }
  const functionInsn = rec.slot - start;
  const sectionInsnOff = base === undefined ? undefined : base + functionInsn * 8;
  const key =
    section !== undefined && sectionInsnOff !== undefined
      ? recordKey(section, sectionInsnOff, rec)
      : `${prog.name}\0${rec.slot}\0${rec.kindId}\0${rec.typeId}\0${rec.access}`;
  return { rec, section, sectionInsnOff, functionInsn, key };
}

/**
 * Relocate every program of an object for `targetBtf`: a BTF, or a kernel BTF with its modules'
 * (a TargetBtf from loadTargetBtf() is one). Records are resolved once per function (a subprogram
 * linked into several programs gets one decision) and in the object's BTF.ext order, so
 * candidates narrow as in libbpf; then each program's copy is patched. An object without CO-RE
 * records comes back unchanged. The input spec is not modified.
 */
export function relocate(spec: ObjectSpec, targetBtf: Btf | CoreTarget): RelocatedObject {
  const hasRecords = spec.programs.some((p) => p.coreRelos.length > 0);
  if (!hasRecords) return { spec, results: [] };
  if (!spec.btf) {
    throw new UsageError("CORE_NO_LOCAL_BTF", `${spec.file ?? spec.name}: CO-RE records but no .BTF section`);
  }
  const ctx = coreContext(spec.btf, targetBtf, spec.byteOrder);
  const offsets = functionOffsets(spec);
  const located = spec.programs.map((p) => p.coreRelos.map((r) => locate(p, r, offsets)));

  // libbpf's order and numbering: BTF.ext sections in file order, records in section order.
  const order = new Map<string, { rank: number; reloIndex: number; section: string }>();
  let rank = 0;
  for (const sec of spec.btfExt?.coreRelos ?? []) {
    sec.records.forEach((r, i) => {
      const key = recordKey(sec.section, r.insnOff, { kindId: r.kindId, typeId: r.typeId, access: r.access });
      if (!order.has(key)) order.set(key, { rank: rank++, reloIndex: i, section: sec.section });
    });
  }
  // libbpf relocates only programs that will load (not SEC("?...") ones), so records of those
  // alone shape the candidate narrowing; the others are decided afterwards.
  const pending = new Map<string, CoreRecordFields>();
  const loaded = new Set<string>();
  located.forEach((list, pi) => {
    for (const l of list) {
      if (!pending.has(l.key)) pending.set(l.key, l.rec);
      if (spec.programs[pi].autoload) loaded.add(l.key);
    }
  });
  const rankOf = (key: string): number =>
    (loaded.has(key) ? 0 : Number.MAX_SAFE_INTEGER / 2) +
    (order.get(key)?.rank ?? Number.MAX_SAFE_INTEGER / 4);
  const keys = [...pending.keys()].sort((a, b) => rankOf(a) - rankOf(b));
  const decisions = new Map<string, CoreDecision>();
  for (const key of keys) decisions.set(key, resolveRecord(ctx, pending.get(key)!));

  const results: ObjectCoreReloResult[] = [];
  const programs = spec.programs.map((prog, pi) => {
    if (prog.coreRelos.length === 0) return prog;
    const patcher = new SlotPatcher(prog.insns);
    for (const l of located[pi]) {
      const decision = decisions.get(l.key)!;
      const applied = patcher.apply(l.rec.slot, decision, l.functionInsn);
      const o = order.get(l.key);
      results.push({
        ...toResult(l.rec, decision, applied),
        program: prog.name,
        function: l.rec.function,
        ...(l.section !== undefined ? { section: l.section } : {}),
        ...(o ? { reloIndex: o.reloIndex } : {}),
        functionInsn: l.functionInsn,
      });
    }
    return { ...prog, insns: patcher.result() };
  });
  return { spec: withPrograms(spec, programs), results };
}

/** A copy of the spec whose program list (and program lookup) is `programs`. */
function withPrograms(spec: ObjectSpec, programs: readonly ProgramSpec[]): ObjectSpec {
  const copy: ObjectSpec = {
    ...spec,
    programs,
    program(name: string): ProgramSpec {
      return programs.find((p) => p.name === name) ?? spec.program(name);
    },
    map: (name: string) => spec.map(name),
    variable: (name: string) => spec.variable(name),
  };
  return copy;
}

/**
 * The error libbpf would stop the load with: the first failed record, as a BtfError naming the
 * program, record and spec (undefined when every record was patched or poisoned). Loaders call
 * this before loading; offline consumers may go on with the failed instructions untouched.
 */
export function coreFailure(results: readonly CoreReloResult[]): BtfError | undefined {
  const i = results.findIndex((r) => r.outcome === "failed");
  if (i < 0) return undefined;
  const r = results[i];
  const obj = "program" in r ? (r as ObjectCoreReloResult) : undefined;
  const where = obj ? `prog '${obj.program}': relo #${obj.reloIndex ?? i}` : `relo #${i}`;
  return new BtfError(
    r.error?.code ?? "CORE_FAILED",
    `${where}: ${r.localSpecText}: ${r.error?.message ?? "relocation failed"}`,
    { typeId: r.typeId },
  );
}
