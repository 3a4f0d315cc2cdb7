export * from "./codec.js";
export * from "./instruction.js";
export * from "./opcodes.js";
