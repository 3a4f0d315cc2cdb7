/**
 * The loader's syscall layer: the swappable Sys (FFI over libc), bpf_attr and info layouts,
 * typed bpf() command wrappers, Fd ownership, and the ring/perf buffer readers. The object
 * model (ObjectSpec -> live maps/programs/links) builds on these.
 */
export * from "./attr.js";
export * from "./bpf.js";
export * from "./consts.js";
export * from "./errors.js";
export * from "./fake.js";
export * from "./fd.js";
export * from "./features.js";
export * from "./info.js";
export * from "./layout.js";
export * from "./perf.js";
export * from "./perfbuf.js";
export * from "./probe.js";
export * from "./ringbuf.js";
export * from "./sys.js";
