export * from "./contexts.js";
export * from "./helper-availability.js";
export * from "./helper-protos.js";
export * from "./helpers.js";
export * from "./kernel-enums.js";
export * from "./map-types.js";
export * from "./program-rules.js";
export * from "./program-types.js";
