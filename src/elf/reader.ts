/**
 * ELF64 reader for any machine and both byte orders: BPF objects from clang, and x86-64
 * executables and shared libraries (for uprobe symbol lookup).
 *
 * The file's structure (header, section and program header tables, section names, content
 * ranges, entry sizes, sh_link/sh_info) is checked when `readElf` runs; symbol tables and
 * relocation entries are parsed on first access and then kept. Every inconsistency is an
 * ElfError with a code from ELF_ERROR that names the file and the section; nothing is read
 * outside the file and no DataView RangeError escapes.
 */
import { readFile } from "node:fs/promises";
import { ElfError, UsageError } from "../errors.js";
import { ELF_ERROR } from "./error-codes.js";
import { stringAt } from "./strings.js";
import type {
  ElfFile,
  ElfHeader,
  ElfRelocation,
  ElfRelocationSection,
  ElfSection,
  ElfSegment,
  ElfSymbol,
} from "./types.js";
import { ELF } from "./types.js";

export interface ReadElfOptions {
  /** The path the bytes came from; prefixed to every error message. */
  readonly file?: string;
}

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SYM_SIZE = 24;
const REL_SIZE = 16;
const RELA_SIZE = 24;
const SHNDX_SIZE = 4;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const SHT_SYMTAB_SHNDX = 18;
const SHN_LORESERVE = 0xff00;
const PN_XNUM = 0xffff;

/** Everything the parsing steps share: the bytes, how to read them, and how to complain. */
interface Input {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly le: boolean;
  readonly file: string | undefined;
}

function fail(
  input: { readonly file: string | undefined },
  code: string,
  message: string,
  section?: string,
): never {
  throw new ElfError(code, message, { file: input.file, section });
}

/** A u64 as a number, for offsets and sizes that are compared against the file length. */
function u64n(input: Input, at: number): number {
  const lo = input.view.getUint32(at + (input.le ? 0 : 4), input.le);
  const hi = input.view.getUint32(at + (input.le ? 4 : 0), input.le);
  return hi * 0x1_0000_0000 + lo;
}

function hex(n: number | bigint): string {
  return `0x${n.toString(16)}`;
}

/** Reads and checks an ELF64 image. `bytes` is kept (sections are views into it, not copies). */
export function readElf(bytes: Uint8Array, opts: ReadElfOptions = {}): ElfFile {
  const file = opts.file;
  const header0 = checkIdent(bytes, file);
  const input: Input = {
    bytes,
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    le: header0.le,
    file,
  };
  const raw = readHeader(input);
  const shdrs = readSectionHeaders(input, raw);
  const shstrndx = resolveShstrndx(input, raw, shdrs);
  const sections = buildSections(input, shdrs, shstrndx);
  checkLinks(input, sections);
  const phnum = raw.phnum === PN_XNUM && shdrs.length > 0 ? shdrs[0].info : raw.phnum;
  const segments = readSegments(input, raw, phnum);
  const header: ElfHeader = {
    class: 64,
    byteOrder: input.le ? "le" : "be",
    osabi: bytes[7],
    abiVersion: bytes[8],
    type: raw.type,
    machine: raw.machine,
    version: raw.version,
    entry: raw.entry,
    flags: raw.flags,
    phoff: raw.phoff,
    shoff: raw.shoff,
    shstrndx,
  };
  return makeFile(input, header, sections, segments);
}

/** readElf on a file's contents; the path appears in every error message. */
export async function readElfFile(path: string): Promise<ElfFile> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new UsageError("E_IO", `${path}: cannot read: ${why}`);
  }
  return readElf(bytes, { file: path });
}

function checkIdent(bytes: Uint8Array, file: string | undefined): { le: boolean } {
  const magic = [0x7f, 0x45, 0x4c, 0x46];
  const input = { file };
  for (let i = 0; i < 4; i++) {
    if (i >= bytes.length) {
      fail(input, ELF_ERROR.TRUNCATED, `file is ${bytes.length} bytes, shorter than the ELF magic`);
    }
    if (bytes[i] !== magic[i]) fail(input, ELF_ERROR.MAGIC, "not an ELF file (bad magic)");
  }
  if (bytes.length < EHDR_SIZE) {
    fail(
      input,
      ELF_ERROR.TRUNCATED,
      `file is ${bytes.length} bytes, shorter than the ${EHDR_SIZE}-byte ELF64 header`,
    );
  }
  const cls = bytes[4];
  if (cls === ELFCLASS32)
    fail(input, ELF_ERROR.CLASS, "ELFCLASS32 (32-bit ELF) is not supported; only ELF64");
  if (cls !== ELFCLASS64) fail(input, ELF_ERROR.CLASS, `invalid ELF class ${cls} (expected 2, ELFCLASS64)`);
  const data = bytes[5];
  if (data !== 1 && data !== 2) {
    fail(
      input,
      ELF_ERROR.DATA,
      `invalid ELF data encoding ${data} (expected 1, little endian, or 2, big endian)`,
    );
  }
  return { le: data === 1 };
}

interface RawHeader {
  readonly type: number;
  readonly machine: number;
  readonly version: number;
  readonly entry: bigint;
  readonly phoff: number;
  readonly shoff: number;
  readonly flags: number;
  readonly phentsize: number;
  readonly phnum: number;
  readonly shentsize: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

function readHeader(input: Input): RawHeader {
  const { view, le } = input;
  return {
    type: view.getUint16(16, le),
    machine: view.getUint16(18, le),
    version: view.getUint32(20, le),
    entry: view.getBigUint64(24, le),
    phoff: u64n(input, 32),
    shoff: u64n(input, 40),
    flags: view.getUint32(48, le),
    phentsize: view.getUint16(54, le),
    phnum: view.getUint16(56, le),
    shentsize: view.getUint16(58, le),
    shnum: view.getUint16(60, le),
    shstrndx: view.getUint16(62, le),
  };
}

/** A section header's fields before names and contents are attached. */
interface RawSection {
  readonly name: number;
  readonly type: number;
  readonly flags: bigint;
  readonly addr: bigint;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: bigint;
  readonly entsize: bigint;
}

function readSectionHeaders(input: Input, h: RawHeader): RawSection[] {
  // No section header table at all (allowed, e.g. for some executables).
  if (h.shoff === 0) return [];
  if (h.shentsize !== SHDR_SIZE) {
    fail(input, ELF_ERROR.ENTSIZE, `e_shentsize is ${h.shentsize}, expected ${SHDR_SIZE}`);
  }
  const len = input.bytes.length;
  if (h.shoff + SHDR_SIZE > len) {
    fail(
      input,
      ELF_ERROR.TRUNCATED,
      `section header table at ${hex(h.shoff)} is past the end of the file (${len} bytes)`,
    );
  }
  // Extended numbering: with e_shnum == 0 the count lives in section 0's sh_size.
  const count = h.shnum !== 0 ? h.shnum : u64n(input, h.shoff + 32);
  if (count === 0) return [];
  if (h.shoff + count * SHDR_SIZE > len) {
    fail(
      input,
      ELF_ERROR.TRUNCATED,
      `section header table (${count} entries at ${hex(h.shoff)}) runs past the end of the file (${len} bytes)`,
    );
  }
  const { view, le } = input;
  const out: RawSection[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = h.shoff + i * SHDR_SIZE;
    out[i] = {
      name: view.getUint32(at, le),
      type: view.getUint32(at + 4, le),
      flags: view.getBigUint64(at + 8, le),
      addr: view.getBigUint64(at + 16, le),
      offset: u64n(input, at + 24),
      size: u64n(input, at + 32),
      link: view.getUint32(at + 40, le),
      info: view.getUint32(at + 44, le),
      addralign: view.getBigUint64(at + 48, le),
      entsize: view.getBigUint64(at + 56, le),
    };
  }
  return out;
}

function resolveShstrndx(input: Input, h: RawHeader, shdrs: readonly RawSection[]): number {
  // Extended numbering: with e_shstrndx == SHN_XINDEX the index lives in section 0's sh_link.
  const index = h.shstrndx === ELF.SHN_XINDEX && shdrs.length > 0 ? shdrs[0].link : h.shstrndx;
  if (index !== 0 && index >= shdrs.length) {
    fail(input, ELF_ERROR.RANGE, `e_shstrndx ${index} is out of range (${shdrs.length} sections)`);
  }
  return index;
}

/** True when the section occupies no file bytes (its sh_offset/sh_size say nothing about the file). */
function hasNoFileBytes(type: number, index: number): boolean {
  return type === ELF.SHT_NOBITS || type === ELF.SHT_NULL || index === 0;
}

function contentsOf(input: Input, s: RawSection, index: number, label: () => string): Uint8Array {
  if (hasNoFileBytes(s.type, index)) {
    if (!Number.isSafeInteger(s.size))
      fail(input, ELF_ERROR.RANGE, `sh_size ${hex(s.size)} is too large`, label());
    return input.bytes.subarray(0, 0);
  }
  const len = input.bytes.length;
  if (s.offset > len || s.size > len - s.offset) {
    fail(
      input,
      ELF_ERROR.RANGE,
      `contents (offset ${hex(s.offset)}, size ${hex(s.size)}) extend past the end of the file (${len} bytes)`,
      label(),
    );
  }
  return input.bytes.subarray(s.offset, s.offset + s.size);
}

function buildSections(input: Input, shdrs: readonly RawSection[], shstrndx: number): ElfSection[] {
  const byIndex = (i: number) => () => `[${i}]`;
  // The name table first: its own name can only be reported by index.
  const names = shstrndx === 0 ? undefined : contentsOf(input, shdrs[shstrndx], shstrndx, byIndex(shstrndx));
  const out: ElfSection[] = new Array(shdrs.length);
  for (let i = 0; i < shdrs.length; i++) {
    const s = shdrs[i];
    let name = "";
    if (names !== undefined) {
      const found = stringAt(names, s.name);
      if (found === undefined) {
        fail(
          input,
          ELF_ERROR.RANGE,
          `name offset ${s.name} is outside the section name table (${names.length} bytes) or unterminated`,
          `[${i}]`,
        );
      }
      name = found;
    }
    const label = name !== "" ? () => name : byIndex(i);
    out[i] = {
      index: i,
      name,
      type: s.type,
      flags: s.flags,
      addr: s.addr,
      offset: s.offset,
      size: s.size,
      link: s.link,
      info: s.info,
      addralign: s.addralign,
      entsize: s.entsize,
      data: contentsOf(input, s, i, label),
    };
  }
  return out;
}

export function sectionLabel(s: ElfSection): string {
  return s.name !== "" ? s.name : `[${s.index}]`;
}

function checkEntsize(input: Input, s: ElfSection, expected: number): void {
  if (s.entsize !== BigInt(expected)) {
    fail(input, ELF_ERROR.ENTSIZE, `sh_entsize is ${s.entsize}, expected ${expected}`, sectionLabel(s));
  }
  if (s.size % expected !== 0) {
    fail(
      input,
      ELF_ERROR.ENTSIZE,
      `sh_size ${s.size} is not a multiple of the entry size ${expected}`,
      sectionLabel(s),
    );
  }
}

function checkLinkType(
  input: Input,
  sections: readonly ElfSection[],
  s: ElfSection,
  field: "sh_link" | "sh_info",
  index: number,
  types: readonly number[],
  what: string,
): void {
  const target = index < sections.length ? sections[index] : undefined;
  if (target === undefined) {
    fail(
      input,
      ELF_ERROR.LINK,
      `${field} ${index} points to no section (${sections.length} sections)`,
      sectionLabel(s),
    );
  }
  if (types.length > 0 && !types.includes(target.type)) {
    fail(
      input,
      ELF_ERROR.LINK,
      `${field} ${index} (${sectionLabel(target)}) has type ${hex(target.type)}, expected ${what}`,
      sectionLabel(s),
    );
  }
}

/** The table sections' entry sizes and the sections their sh_link/sh_info name. */
function checkLinks(input: Input, sections: readonly ElfSection[]): void {
  for (const s of sections) {
    switch (s.type) {
      case ELF.SHT_SYMTAB:
      case ELF.SHT_DYNSYM:
        checkEntsize(input, s, SYM_SIZE);
        checkLinkType(input, sections, s, "sh_link", s.link, [ELF.SHT_STRTAB], "a string table (SHT_STRTAB)");
        break;
      case ELF.SHT_REL:
      case ELF.SHT_RELA:
        checkEntsize(input, s, s.type === ELF.SHT_REL ? REL_SIZE : RELA_SIZE);
        // sh_link 0: no symbol table (e.g. IRELATIVE relocations of static executables).
        if (s.link !== 0) {
          checkLinkType(
            input,
            sections,
            s,
            "sh_link",
            s.link,
            [ELF.SHT_SYMTAB, ELF.SHT_DYNSYM],
            "a symbol table",
          );
        }
        // sh_info 0: dynamic relocations that patch no particular section.
        checkLinkType(input, sections, s, "sh_info", s.info, [], "");
        break;
      case SHT_SYMTAB_SHNDX:
        checkEntsize(input, s, SHNDX_SIZE);
        checkLinkType(input, sections, s, "sh_link", s.link, [ELF.SHT_SYMTAB], "a symbol table (SHT_SYMTAB)");
        break;
    }
  }
}

function readSegments(input: Input, h: RawHeader, phnum: number): ElfSegment[] {
  if (phnum === 0) return [];
  if (h.phentsize !== PHDR_SIZE) {
    fail(input, ELF_ERROR.ENTSIZE, `e_phentsize is ${h.phentsize}, expected ${PHDR_SIZE}`);
  }
  const len = input.bytes.length;
  if (h.phoff > len || phnum * PHDR_SIZE > len - h.phoff) {
    fail(
      input,
      ELF_ERROR.TRUNCATED,
      `program header table (${phnum} entries at ${hex(h.phoff)}) runs past the end of the file (${len} bytes)`,
    );
  }
  const { view, le } = input;
  const out: ElfSegment[] = new Array(phnum);
  for (let i = 0; i < phnum; i++) {
    const at = h.phoff + i * PHDR_SIZE;
    const seg: ElfSegment = {
      type: view.getUint32(at, le),
      flags: view.getUint32(at + 4, le),
      offset: u64n(input, at + 8),
      vaddr: view.getBigUint64(at + 16, le),
      paddr: view.getBigUint64(at + 24, le),
      filesz: u64n(input, at + 32),
      memsz: view.getBigUint64(at + 40, le),
      align: view.getBigUint64(at + 48, le),
    };
    if (seg.filesz > 0 && (seg.offset > len || seg.filesz > len - seg.offset)) {
      fail(
        input,
        ELF_ERROR.RANGE,
        `segment ${i} (type ${hex(seg.type)}, offset ${hex(seg.offset)}, file size ${hex(seg.filesz)}) extends past the end of the file (${len} bytes)`,
      );
    }
    out[i] = seg;
  }
  return out;
}

function readSymbols(input: Input, sections: readonly ElfSection[], table: ElfSection): ElfSymbol[] {
  const strtab = sections[table.link].data;
  const xindex = sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === table.index);
  const { view, le } = input;
  const count = table.size / SYM_SIZE;
  const out: ElfSymbol[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const at = table.offset + i * SYM_SIZE;
    const nameOff = view.getUint32(at, le);
    const info = view.getUint8(at + 4);
    let shndx = view.getUint16(at + 6, le);
    let name = "";
    if (nameOff !== 0) {
      const found = stringAt(strtab, nameOff);
      if (found === undefined) {
        fail(
          input,
          ELF_ERROR.RANGE,
          `symbol ${i}: name offset ${nameOff} is outside ${sectionLabel(sections[table.link])} (${strtab.length} bytes) or unterminated`,
          sectionLabel(table),
        );
      }
      name = found;
    }
    if (shndx === ELF.SHN_XINDEX) {
      if (xindex === undefined) {
        fail(
          input,
          ELF_ERROR.LINK,
          `symbol ${i} (${name}) uses SHN_XINDEX but no SHT_SYMTAB_SHNDX section links here`,
          sectionLabel(table),
        );
      }
      if ((i + 1) * SHNDX_SIZE > xindex.size) {
        fail(
          input,
          ELF_ERROR.RANGE,
          `no extended section index for symbol ${i} (${name})`,
          sectionLabel(xindex),
        );
      }
      shndx = view.getUint32(xindex.offset + i * SHNDX_SIZE, le);
      if (shndx >= sections.length) {
        fail(
          input,
          ELF_ERROR.RANGE,
          `symbol ${i} (${name}): extended section index ${shndx} is out of range (${sections.length} sections)`,
          sectionLabel(table),
        );
      }
    } else if (shndx < SHN_LORESERVE && shndx >= sections.length) {
      fail(
        input,
        ELF_ERROR.RANGE,
        `symbol ${i} (${name}): section index ${shndx} is out of range (${sections.length} sections)`,
        sectionLabel(table),
      );
    }
    out[i] = {
      index: i,
      name,
      value: view.getBigUint64(at + 8, le),
      size: view.getBigUint64(at + 16, le),
      type: info & 0xf,
      bind: info >> 4,
      visibility: view.getUint8(at + 5) & 0x3,
      shndx,
    };
  }
  return out;
}

function readRelocations(input: Input, section: ElfSection, symbols: readonly ElfSymbol[]): ElfRelocation[] {
  const { view, le } = input;
  const rela = section.type === ELF.SHT_RELA;
  const size = rela ? RELA_SIZE : REL_SIZE;
  const count = section.size / size;
  const out: ElfRelocation[] = new Array(count);
  // r_info is a u64: symbol index in the high word, type in the low word.
  const typeAt = le ? 8 : 12;
  const symAt = le ? 12 : 8;
  for (let i = 0; i < count; i++) {
    const at = section.offset + i * size;
    const symbol = view.getUint32(at + symAt, le);
    if (symbol !== 0 && symbol >= symbols.length) {
      fail(
        input,
        ELF_ERROR.RANGE,
        `relocation ${i} refers to symbol ${symbol}, but its symbol table has ${symbols.length} entries`,
        sectionLabel(section),
      );
    }
    const offset = view.getBigUint64(at, le);
    const type = view.getUint32(at + typeAt, le);
    out[i] = rela
      ? { offset, type, symbol, addend: view.getBigInt64(at + 16, le) }
      : { offset, type, symbol };
  }
  return out;
}

function makeFile(
  input: Input,
  header: ElfHeader,
  sections: readonly ElfSection[],
  segments: readonly ElfSegment[],
): ElfFile {
  const symbolTables = new Map<number, readonly ElfSymbol[]>();
  const symbolsIn = (table: ElfSection): readonly ElfSymbol[] => {
    let syms = symbolTables.get(table.index);
    if (syms === undefined) {
      syms = readSymbols(input, sections, table);
      symbolTables.set(table.index, syms);
    }
    return syms;
  };
  const firstOfType = (type: number): readonly ElfSymbol[] => {
    const table = sections.find((s) => s.type === type);
    return table === undefined ? [] : symbolsIn(table);
  };
  let relocations: readonly ElfRelocationSection[] | undefined;
  let byName: Map<string, ElfSection> | undefined;
  return {
    file: input.file,
    bytes: input.bytes,
    header,
    sections,
    segments,
    get symbols(): readonly ElfSymbol[] {
      return firstOfType(ELF.SHT_SYMTAB);
    },
    get dynamicSymbols(): readonly ElfSymbol[] {
      return firstOfType(ELF.SHT_DYNSYM);
    },
    get relocations(): readonly ElfRelocationSection[] {
      if (relocations === undefined) {
        const out: ElfRelocationSection[] = [];
        for (const s of sections) {
          if (s.type !== ELF.SHT_REL && s.type !== ELF.SHT_RELA) continue;
          const symbols = s.link === 0 ? [] : symbolsIn(sections[s.link]);
          out.push({
            section: s,
            target: sections[s.info],
            symbols,
            entries: readRelocations(input, s, symbols),
          });
        }
        relocations = out;
      }
      return relocations;
    },
    section(name: string): ElfSection | undefined {
      if (byName === undefined) {
        byName = new Map();
        // The first section of a name wins, as in a linear search.
        for (const s of sections) if (!byName.has(s.name)) byName.set(s.name, s);
      }
      return byName.get(name);
    },
  };
}
