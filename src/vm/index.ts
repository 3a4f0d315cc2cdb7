/**
 * The VM: runs Instructions offline with the kernel's semantics.
 *
 *   const memory = new Memory();
 *   const value = memory.add({ kind: "map-value", name: "counts[0]", size: 8 });
 *   const vm = createVm(insns, { memory, helpers, resolveLdImm64 });   // strict check here
 *   const { r0, insns: executed } = vm.run({ args: [value.address()], budget: 1_000_000 });
 *
 * Everything a run can do wrong ends in a VmFault (kind, insn slot, address); bad options are
 * UsageErrors. Helpers get a VmHelperCall (args, memory, stop, invoke for callbacks, tailCall,
 * fault). The 64-bit arithmetic on halves (int64.ts) stays internal.
 *
 * The simulator on top: `simulate(spec, opts)` gives maps in memory, programs with contexts and
 * simulated helpers, and `sim.map(name)` with the loader's map API (SimMapView).
 */
export {
  CONFORMANCE_UNWIND_HELPER,
  type ConformanceRunOptions,
  runConformance,
} from "./conformance.js";
// The simulator: objects run offline against simulated maps and helpers, read through the same
// map API as the live loader's.
export {
  type BuiltContext,
  buildContext,
  type ContextRequest,
  type CtxInput,
  layoutFromFormat,
  RegionPool,
} from "./context.js";
export {
  DEFAULT_BUDGET as VM_DEFAULT_BUDGET,
  MAY_GOTO_BUDGET,
  type VmArrayLookup,
  type VmEnv,
  type VmHelper,
  type VmHelperCall,
  type VmHelperFn,
  type VmRunOptions,
  type VmRunResult,
} from "./env.js";
export { isVmFault, VmFault, type VmFaultKind, type VmSourceLine } from "./errors.js";
export type { MemorySegment, TaskInfo } from "./helpers/runtime.js";
export { createVm, MAX_TAIL_CALLS, type VmEngine, type VmOptions, type VmProgram } from "./interpreter.js";
export { SimMapView } from "./maps/view.js";
export {
  Memory,
  type PacketRegion,
  REGION_HI_BASE,
  Region,
  type RegionHooks,
  type RegionKind,
  type RegionSpec,
} from "./memory.js";
export { type OfflineRunOptions, runOfflineCli } from "./run-cli.js";
export {
  type SimProgram,
  type SimRunInput,
  type SimRunResult,
  type SimulateOptions,
  type Simulation,
  simulate,
} from "./simulate.js";
