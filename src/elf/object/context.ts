/** What every step of openObject shares: the ELF file, its BTF and how to name errors. */
import { ElfError } from "../../errors.js";
import type { Btf } from "../btf/btf.js";
import type { BtfExt } from "../btf-ext.js";
import { ELF, type ElfFile, type ElfSection, type ElfSymbol } from "../types.js";

export interface ObjectContext {
  readonly elf: ElfFile;
  readonly file: string | undefined;
  readonly name: string;
  readonly btf: Btf | undefined;
  readonly btfExt: BtfExt | undefined;
  /** Index of `.text` (undefined when the object has none). */
  readonly textIndex: number | undefined;
}

/** Stable codes of the errors openObject throws (on top of the reader's ELF_ERROR codes). */
export const OBJECT_ERROR = {
  /** A `.maps` section (or an extern) in an object built without -g. */
  NO_BTF: "E_OBJ_NO_BTF",
  /** A BTF map definition libbpf would refuse (unknown field, wrong shape). */
  MAP_DEF: "E_OBJ_MAP_DEF",
  /** A section name libbpf knows no program type for. */
  UNKNOWN_SECTION: "E_OBJ_UNKNOWN_SECTION",
  /** A function symbol outside its section, or misaligned. */
  PROGRAM: "E_OBJ_PROGRAM",
  /** A relocation libbpf would refuse. */
  RELOC: "E_OBJ_RELOC",
  /** An extern without BTF or of an unsupported kind. */
  EXTERN: "E_OBJ_EXTERN",
  /** Not a relocatable EM_BPF object (an executable, another machine's object). */
  NOT_BPF: "E_OBJ_NOT_BPF",
} as const;

export function objError(ctx: ObjectContext, code: string, message: string, section?: string): ElfError {
  return new ElfError(code, message, { file: ctx.file, ...(section !== undefined ? { section } : {}) });
}

export function sectionAt(ctx: ObjectContext, index: number): ElfSection | undefined {
  return index > 0 && index < ctx.elf.sections.length ? ctx.elf.sections[index] : undefined;
}

/** libbpf's sym_is_extern: an undefined, global or weak, untyped symbol. */
export function isExternSymbol(sym: ElfSymbol): boolean {
  return (
    sym.shndx === ELF.SHN_UNDEF &&
    (sym.bind === ELF.STB_GLOBAL || sym.bind === ELF.STB_WEAK) &&
    sym.type === ELF.STT_NOTYPE &&
    sym.name !== ""
  );
}

export function isExecSection(s: ElfSection): boolean {
  return s.type === ELF.SHT_PROGBITS && (s.flags & ELF.SHF_EXECINSTR) !== 0n && s.size > 0;
}

/** A u32 of the object's byte order. */
export function u32(ctx: ObjectContext, bytes: Uint8Array, at: number): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return v.getUint32(at, ctx.elf.header.byteOrder === "le");
}
