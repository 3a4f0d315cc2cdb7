/**
 * The stable `code` values of the ElfErrors that src/elf's reader throws. Callers (CLI, tests,
 * other parts) switch on these, so they never change meaning.
 */
export const ELF_ERROR = {
  /** The file does not start with \x7fELF. */
  MAGIC: "E_ELF_MAGIC",
  /** EI_CLASS is not ELFCLASS64 (ELFCLASS32 or garbage). */
  CLASS: "E_ELF_CLASS",
  /** EI_DATA is neither little (1) nor big (2) endian. */
  DATA: "E_ELF_DATA",
  /** The file ends inside the ELF header, the program header table or the section header table. */
  TRUNCATED: "E_ELF_TRUNCATED",
  /** Section or segment contents, a string offset, a section index or a symbol index out of range. */
  RANGE: "E_ELF_RANGE",
  /** e_shentsize, e_phentsize or a table's sh_entsize is not the ELF64 entry size (or sh_size not a multiple). */
  ENTSIZE: "E_ELF_ENTSIZE",
  /** sh_link / sh_info names a section that does not exist or has the wrong type. */
  LINK: "E_ELF_LINK",
  /** The file is valid ELF but for another machine than the consumer needs (e.g. the BPF disassembler). */
  MACHINE: "E_ELF_MACHINE",
  /** findSymbolOffset: no defined function of that name. */
  SYMBOL_NOT_FOUND: "E_ELF_SYMBOL_NOT_FOUND",
  /** findSymbolOffset: two non-weak definitions at different offsets. */
  SYMBOL_AMBIGUOUS: "E_ELF_SYMBOL_AMBIGUOUS",
  /** findSymbolOffset: the symbol's address lies in no PT_LOAD segment with file bytes. */
  SYMBOL_NOT_LOADED: "E_ELF_SYMBOL_NOT_LOADED",
} as const;

export type ElfErrorCode = (typeof ELF_ERROR)[keyof typeof ELF_ERROR];
