export * from "./conformance.js";
export * from "./env.js";
export * from "./errors.js";
export * from "./int64.js";
export * from "./interpreter.js";
export * from "./memory.js";
