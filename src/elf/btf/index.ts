/** BTF: parsing, layout queries and the bpftool-compatible raw and C dumps. */
export type { Btf } from "./btf.js";
export { dumpBtfC } from "./c-dump.js";
export { dumpBtfJson } from "./json-dump.js";
export { btfFromBytes, type LoadBtfOptions, loadBtfFile } from "./load.js";
export { type MemberLocation, memberOffset } from "./member.js";
export { type ParseBtfOptions, parseBtf } from "./parse.js";
export { dumpBtfRaw } from "./raw-dump.js";
export * from "./types.js";
