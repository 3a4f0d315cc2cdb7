/**
 * The VM: runs Instructions offline with the kernel's semantics.
 *
 *   const memory = new Memory();
 *   const value = memory.add({ kind: "map-value", name: "counts[0]", size: 8 });
 *   const vm = createVm(insns, { memory, helpers, resolveLdImm64 });   // strict check here
 *   const { r0, insns: executed } = vm.run({ args: [value.address()], budget: 1_000_000 });
 *
 * Everything a run can do wrong ends in a VmFault (kind, insn slot, address); bad options are
 * UsageErrors. Helpers get a HelperCall (args, memory, stop, invoke for callbacks, fault).
 */
export * from "./conformance.js";
export * from "./env.js";
export * from "./errors.js";
export * from "./int64.js";
export * from "./interpreter.js";
export * from "./memory.js";
