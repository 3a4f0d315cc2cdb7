/** Naming helpers over a read ELF file's symbols. */
import type { ElfFile, ElfSymbol } from "./types.js";
import { ELF } from "./types.js";

/**
 * The name tools print for a symbol: its own name, or for an unnamed STT_SECTION symbol the name
 * of its section (as llvm-readobj and llvm-objdump -r do).
 */
export function symbolDisplayName(elf: ElfFile, sym: ElfSymbol): string {
  if (sym.name === "" && sym.type === ELF.STT_SECTION) return elf.sections[sym.shndx]?.name ?? "";
  return sym.name;
}
