/** CO-RE relocation as pure BTF computation: local spec, candidates, matching, values, patching. */
export type { AppliedRecord, CoreOutcome } from "./apply.js";
export { CORE_ERROR, type CoreErrorCode } from "./btf-access.js";
export type { CoreReloValues } from "./calc.js";
export { essentialNameIndex, findCandidates } from "./candidates.js";
export { fieldsCompatible, typesCompatible, typesMatch } from "./compat.js";
export { coreResultJson, formatCoreLog, formatCoreResult } from "./format.js";
export {
  CoreReloKind,
  type CoreReloKindName,
  coreKindName,
  coreKindShortName,
  essentialName,
  isEnumvalKind,
  isFieldKind,
  isTypeKind,
} from "./kinds.js";
export { type CandidateMatch, matchCandidate } from "./match.js";
export { CORE_POISON_HELPER, type InsnPatch, type PatchedClass, POISON_SLOT, patchInsn } from "./patch.js";
export {
  type CoreRecordInput,
  type CoreReloResult,
  coreFailure,
  type ObjectCoreReloResult,
  type RelocatedInstructions,
  type RelocatedObject,
  type RelocateInstructionsOptions,
  relocate,
  relocateInstructions,
} from "./relocate.js";
export {
  type CandidateRef,
  type CoreCandidate,
  type CoreContext,
  type CoreDecision,
  type CoreError,
  type CoreRecordFields,
  type CoreTarget,
  coreContext,
  type ModuleBtf,
  resolveRecord,
} from "./resolve.js";
export {
  CORE_SPEC_MAX_LEN,
  type CoreAccessor,
  type CoreSpec,
  formatSpec,
  parseSpec,
  specPath,
} from "./spec.js";
export { KERNEL_BTF_PATH, loadKernelModuleBtfs, loadTargetBtf, type TargetBtf } from "./target.js";
