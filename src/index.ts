/**
 * The public API of tsbpf. Folders follow the flow of ../DESIGN: bytes -> src/elf (ELF, BTF,
 * BTF.ext, ObjectSpec, CO-RE) -> verifier / VM / loader; src/isa is shared by all; src/abi holds
 * the kernel's tables. The loader and the ABI tables are namespaces: their names are generic.
 */

export * as abi from "./abi/index.js";
export * from "./elf/btf/index.js";
export * from "./elf/btf-ext.js";
export * from "./elf/core/index.js";
export * from "./elf/index.js";
export * from "./elf/object/index.js";
export { assembleObject, writeElf } from "./elf/writer.js";
export * from "./errors.js";
export * from "./isa/asm/index.js";
export * from "./isa/disasm.js";
export * from "./isa/format-asm.js";
export * from "./isa/index.js";
export * as loader from "./loader/index.js";
export * from "./verifier/index.js";
export * from "./vm/index.js";
