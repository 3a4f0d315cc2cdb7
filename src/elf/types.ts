/**
 * The ELF64 model that src/elf's reader produces and its writer consumes. Offsets and sizes
 * that index into the file are numbers (files are < 2^53 bytes); addresses, values and flags
 * that may use all 64 bits are bigints.
 */
import type { ByteOrder } from "../isa/instruction.js";

export const ELF = {
  ET_REL: 1,
  ET_EXEC: 2,
  ET_DYN: 3,
  EM_X86_64: 62,
  EM_AARCH64: 183,
  EM_BPF: 247,
  SHT_NULL: 0,
  SHT_PROGBITS: 1,
  SHT_SYMTAB: 2,
  SHT_STRTAB: 3,
  SHT_RELA: 4,
  SHT_NOBITS: 8,
  SHT_REL: 9,
  SHT_DYNSYM: 11,
  SHT_LLVM_ADDRSIG: 0x6fff4c03,
  SHF_WRITE: 0x1n,
  SHF_ALLOC: 0x2n,
  SHF_EXECINSTR: 0x4n,
  SHF_MERGE: 0x10n,
  SHF_STRINGS: 0x20n,
  SHN_UNDEF: 0,
  SHN_ABS: 0xfff1,
  SHN_COMMON: 0xfff2,
  SHN_XINDEX: 0xffff,
  STT_NOTYPE: 0,
  STT_OBJECT: 1,
  STT_FUNC: 2,
  STT_SECTION: 3,
  STT_FILE: 4,
  STB_LOCAL: 0,
  STB_GLOBAL: 1,
  STB_WEAK: 2,
  PT_LOAD: 1,
} as const;

/** BPF relocation types (R_BPF_*). */
export const R_BPF = {
  NONE: 0,
  "64_64": 1,
  "64_ABS64": 2,
  "64_ABS32": 3,
  "64_NODYLD32": 4,
  "64_32": 10,
} as const;

export interface ElfHeader {
  readonly class: 64;
  readonly byteOrder: ByteOrder;
  /** e_ident[EI_OSABI] (byte 7). */
  readonly osabi: number;
  /** e_ident[EI_ABIVERSION] (byte 8). */
  readonly abiVersion: number;
  readonly type: number;
  readonly machine: number;
  readonly version: number;
  readonly entry: bigint;
  readonly flags: number;
  readonly phoff: number;
  readonly shoff: number;
  readonly shstrndx: number;
}

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly addr: bigint;
  /** sh_offset: where the contents start in the file. */
  readonly offset: number;
  /** sh_size; for SHT_NOBITS the size in memory (no file bytes). */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: bigint;
  readonly entsize: bigint;
  /** File bytes of the section (a view, not a copy); empty for SHT_NOBITS. */
  readonly data: Uint8Array;
}

export interface ElfSegment {
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly filesz: number;
  readonly memsz: bigint;
  readonly align: bigint;
}

export interface ElfSymbol {
  /** Index in its symbol table. */
  readonly index: number;
  readonly name: string;
  readonly value: bigint;
  readonly size: bigint;
  /** STT_* (info & 0xf). */
  readonly type: number;
  /** STB_* (info >> 4). */
  readonly bind: number;
  /** st_other & 0x3 (STV_*). */
  readonly visibility: number;
  /** Section index (SHN_* specials kept as they are; SHN_XINDEX resolved). */
  readonly shndx: number;
}

export interface ElfRelocation {
  /** r_offset: byte offset in the target section. */
  readonly offset: bigint;
  readonly type: number;
  /** Index into the linked symbol table. */
  readonly symbol: number;
  /** Only for SHT_RELA. */
  readonly addend?: bigint;
}

/** A relocation section and the section it applies to. */
export interface ElfRelocationSection {
  readonly section: ElfSection;
  /** The section these relocations patch (sh_info). */
  readonly target: ElfSection;
  /** The symbol table they index (sh_link). */
  readonly symbols: readonly ElfSymbol[];
  readonly entries: readonly ElfRelocation[];
}

export interface ElfFile {
  /** The path the bytes came from, for error messages. */
  readonly file?: string;
  readonly bytes: Uint8Array;
  readonly header: ElfHeader;
  readonly sections: readonly ElfSection[];
  readonly segments: readonly ElfSegment[];
  /** .symtab (empty when absent). */
  readonly symbols: readonly ElfSymbol[];
  /** .dynsym (empty when absent). */
  readonly dynamicSymbols: readonly ElfSymbol[];
  /** Every SHT_REL/SHT_RELA section, parsed. */
  readonly relocations: readonly ElfRelocationSection[];
  section(name: string): ElfSection | undefined;
}
