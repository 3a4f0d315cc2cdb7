/** The public API of tsbpf. */
export * from "./errors.js";
export * from "./isa/index.js";
