/** ELF64 reading: the model (types), the reader, error codes and uprobe symbol lookup. */
export { ELF_ERROR, type ElfErrorCode } from "./error-codes.js";
export { type ReadElfOptions, readElf, readElfFile, sectionLabel } from "./reader.js";
export { stringAt } from "./strings.js";
export { symbolDisplayName } from "./symbols.js";
export * from "./types.js";
export {
  addressToFileOffset,
  type FunctionSymbolMatch,
  findFunctionSymbol,
  findSymbolOffset,
} from "./uprobe.js";
