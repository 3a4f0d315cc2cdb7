/** Comparison of a read ElfFile with llvm-readobj's JSON description of the same file. */
import { expect } from "vitest";
import { symbolDisplayName } from "../../src/elf/index.js";
import type { ElfFile, ElfSymbol } from "../../src/elf/types.js";
import { ELF } from "../../src/elf/types.js";
import { big, type ReadobjFile, type ReadobjSymbol } from "./goldens.js";

/** "0 (33)" (extended numbering) or "32" or 32: the effective value is the last number. */
function effective(v: number | string): number {
  const all = String(v).match(/\d+/g);
  if (all === null) throw new Error(`no number in ${v}`);
  return Number(all[all.length - 1]);
}

function checkHeader(elf: ElfFile, g: ReadobjFile): void {
  const h = g.ElfHeader;
  expect(elf.header.class).toBe(64);
  expect(h.Ident.Class.Value).toBe(2);
  expect(elf.header.byteOrder).toBe(h.Ident.DataEncoding.Value === 1 ? "le" : "be");
  expect(elf.header.osabi).toBe(h.Ident["OS/ABI"].Value);
  expect(elf.header.abiVersion).toBe(h.Ident.ABIVersion);
  // "Relocatable (0x1)"
  expect(elf.header.type).toBe(Number(/\((0x[0-9a-f]+)\)/i.exec(h.Type)?.[1]));
  expect(elf.header.machine).toBe(h.Machine.Value);
  expect(elf.header.version).toBe(h.Version);
  expect(elf.header.entry).toBe(big(h.Entry));
  expect(elf.header.phoff).toBe(Number(h.ProgramHeaderOffset));
  expect(elf.header.shoff).toBe(Number(h.SectionHeaderOffset));
  expect(elf.header.flags).toBe(h.Flags.Value);
  expect(elf.header.shstrndx).toBe(effective(h.StringTableSectionIndex));
  expect(elf.sections.length).toBe(effective(h.SectionHeaderCount));
  expect(elf.segments.length).toBe(effective(h.ProgramHeaderCount));
}

function checkSections(elf: ElfFile, g: ReadobjFile): void {
  expect(elf.sections.length).toBe(g.Sections.length);
  g.Sections.forEach(({ Section: s }, i) => {
    const ours = elf.sections[i];
    const where = `section [${i}] ${s.Name.Name}`;
    expect({ where, v: ours.index }).toEqual({ where, v: s.Index });
    expect({
      where,
      name: ours.name,
      type: ours.type,
      flags: ours.flags,
      addr: ours.addr,
      offset: ours.offset,
      size: ours.size,
      link: ours.link,
      info: ours.info,
      addralign: ours.addralign,
      entsize: ours.entsize,
    }).toEqual({
      where,
      name: s.Name.Name,
      type: Number(s.Type.Value),
      flags: big(s.Flags.Value),
      addr: big(s.Address),
      offset: Number(s.Offset),
      size: Number(s.Size),
      link: s.Link,
      info: s.Info,
      addralign: big(s.AddressAlignment),
      entsize: big(s.EntrySize),
    });
    // Contents: a view of exactly sh_size bytes at sh_offset, none for NOBITS.
    if (ours.type === ELF.SHT_NOBITS || ours.type === ELF.SHT_NULL) {
      expect(ours.data.length).toBe(0);
    } else {
      expect(ours.data.buffer).toBe(elf.bytes.buffer);
      expect(ours.data.byteOffset - elf.bytes.byteOffset).toBe(ours.offset);
      expect(ours.data.length).toBe(ours.size);
    }
    expect(elf.section(ours.name)?.name).toBe(ours.name);
  });
}

function checkSegments(elf: ElfFile, g: ReadobjFile): void {
  expect(elf.segments.length).toBe(g.ProgramHeaders.length);
  g.ProgramHeaders.forEach(({ ProgramHeader: p }, i) => {
    const s = elf.segments[i];
    expect({ i, ...s }).toEqual({
      i,
      type: Number(p.Type.Value),
      flags: p.Flags.Value,
      offset: Number(p.Offset),
      vaddr: big(p.VirtualAddress),
      paddr: big(p.PhysicalAddress),
      filesz: Number(p.FileSize),
      memsz: big(p.MemSize),
      align: big(p.Alignment),
    });
  });
}

/**
 * readobj names an STT_SECTION symbol after its section, and appends the symbol version to
 * .dynsym names ("printf@GLIBC_2.2.5"); the reader gives st_name's string as it is.
 */
function expectedName(s: ReadobjSymbol, dynamic: boolean, ours: ElfSymbol): string {
  if (Number(s.Name.Value) === 0) return "";
  if (dynamic && s.Name.Name.startsWith(`${ours.name}@`)) return ours.name;
  return s.Name.Name;
}

function checkSymbols(
  elf: ElfFile,
  ours: readonly ElfSymbol[],
  golden: readonly { readonly Symbol: ReadobjSymbol }[] | undefined,
  dynamic: boolean,
): void {
  const g = golden ?? [];
  expect(ours.length).toBe(g.length);
  g.forEach(({ Symbol: s }, i) => {
    const o = ours[i];
    expect({ i, ...o }).toEqual({
      i,
      index: i,
      name: expectedName(s, dynamic, o),
      value: big(s.Value),
      size: big(s.Size),
      type: Number(s.Type.Value),
      bind: Number(s.Binding.Value),
      visibility: s.Other.Value & 3,
      shndx: Number(s.Section.Value),
    });
    // The display name is readobj's, up to the version suffix of .dynsym names.
    expect(s.Name.Name === symbolDisplayName(elf, o) || s.Name.Name.startsWith(`${o.name}@`)).toBe(true);
  });
}

/** SHT_RELR: packed relative relocations, which readobj expands and the reader leaves alone. */
const SHT_RELR = 19;

function checkRelocations(elf: ElfFile, g: ReadobjFile): void {
  const golden = g.Relocations.filter((r) => elf.sections[r.SectionIndex]?.type !== SHT_RELR);
  expect(elf.relocations.map((r) => r.section.index)).toEqual(golden.map((r) => r.SectionIndex));
  golden.forEach((gr, k) => {
    const ours = elf.relocations[k];
    const sec = ours.section;
    expect(ours.target).toBe(elf.sections[sec.info]);
    expect(ours.symbols.length).toBe(sec.link === 0 ? 0 : elf.sections[sec.link].size / 24);
    expect(ours.entries.length).toBe(gr.Relocs.length);
    gr.Relocs.forEach(({ Relocation: r }, i) => {
      const e = ours.entries[i];
      const expected: Record<string, unknown> = {
        where: `${sec.name} #${i}`,
        offset: big(r.Offset),
        type: Number(r.Type.Value),
        symbol: Number(r.Symbol.Value),
      };
      const got: Record<string, unknown> = {
        where: `${sec.name} #${i}`,
        offset: e.offset,
        type: e.type,
        symbol: e.symbol,
      };
      if (sec.type === ELF.SHT_RELA) {
        // readobj prints the signed r_addend as an unsigned 64-bit number.
        expected.addend = big(r.Addend ?? 0);
        got.addend = e.addend === undefined ? undefined : BigInt.asUintN(64, e.addend);
      } else {
        expect(r.Addend).toBeUndefined();
        got.addend = e.addend;
      }
      expect(got).toEqual(expected);
    });
  });
}

/** Every field of header, sections, program headers, .symtab, .dynsym and relocations. */
export function compareWithReadobj(elf: ElfFile, g: ReadobjFile): void {
  checkHeader(elf, g);
  checkSections(elf, g);
  checkSegments(elf, g);
  checkSymbols(elf, elf.symbols, g.Symbols, false);
  checkSymbols(elf, elf.dynamicSymbols, g.DynamicSymbols, true);
  checkRelocations(elf, g);
}
