export * from "./kernel.js";
export * from "./report.js";
export * from "./verify.js";
