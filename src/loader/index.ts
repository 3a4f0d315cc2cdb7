/**
 * The loader's syscall layer: the swappable Sys (FFI over libc), bpf_attr and info layouts,
 * typed bpf() command wrappers, Fd ownership, and the ring/perf buffer readers. The object
 * model (ObjectSpec -> live maps/programs/links: object.ts, object-map.ts, attach.ts) builds on these.
 */

export * from "./attach.js";
export * from "./attr.js";
export * from "./bpf.js";
export * from "./btf-fixup.js";
export * from "./consts.js";
export * from "./errors.js";
export * from "./fake.js";
export * from "./fd.js";
export * from "./features.js";
export * from "./info.js";
export * from "./kconfig.js";
export * from "./kernel-verify.js";
export * from "./layout.js";
export * from "./object.js";
export * from "./object-map.js";
export * from "./object-program.js";
export * from "./perf.js";
export * from "./perfbuf.js";
export * from "./probe.js";
export * from "./ringbuf.js";
export * from "./sys.js";
export * from "./syscalls-x86_64.js";
export * from "./values.js";
