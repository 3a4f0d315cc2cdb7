/**
 * One crafted file per failure: each must give an ElfError with its stable code and a message
 * that names the file and the offending section (by name when it has one, else by index).
 */
import { describe, expect, it } from "vitest";
import { ELF, ELF_ERROR, readElf, readElfFile } from "../../src/elf/index.js";
import { ElfError, UsageError } from "../../src/errors.js";
import { readFixture } from "./goldens.js";
import { type Editor, EH, patch, SH, touchAll } from "./mutate.js";

const FILE = "broken.o";

/** The ElfError that reading (and touching every lazy part of) `bytes` throws. */
function errorOf(bytes: Uint8Array): ElfError {
  try {
    touchAll(readElf(bytes, { file: FILE }));
  } catch (e) {
    if (e instanceof ElfError) return e;
    throw new Error(`expected an ElfError, got ${String(e)}`);
  }
  throw new Error("expected an ElfError, the file was accepted");
}

const objects = {
  le: readFixture("test/fixtures/elf-edge/edge.el.o"),
  be: readFixture("test/fixtures/elf-edge/edge.eb.o"),
} as const;
const exe = readFixture("test/fixtures/native/native_pie");

function indexOf(bytes: Uint8Array, name: string): number {
  const s = readElf(bytes).section(name);
  if (s === undefined) throw new Error(`fixture has no section ${name}`);
  return s.index;
}

describe.each(Object.entries(objects))("ElfError codes (%s object)", (_order, obj) => {
  const edit = (f: (e: Editor) => void) => patch(obj, f);
  const text = indexOf(obj, ".text");
  const relText = indexOf(obj, ".rel.text");
  const symtab = indexOf(obj, ".symtab");
  const data = indexOf(obj, ".data");
  const count = readElf(obj).sections.length;

  it("reads the unmodified object", () => {
    expect(touchAll(readElf(obj))).toBeGreaterThan(0);
  });

  it("E_ELF_MAGIC: bad magic", () => {
    expect(errorOf(edit((e) => e.bytes.set([0x7f, 0x45, 0x4c, 0x47], 0))).code).toBe(ELF_ERROR.MAGIC);
    expect(errorOf(new TextEncoder().encode("#!/bin/sh\necho not an object\n")).code).toBe(ELF_ERROR.MAGIC);
  });

  it("E_ELF_CLASS: ELFCLASS32 and garbage classes", () => {
    const e32 = errorOf(edit((e) => e.bytes.set([1], 4)));
    expect(e32.code).toBe(ELF_ERROR.CLASS);
    expect(e32.message).toContain("ELFCLASS32");
    expect(e32.message).toContain(FILE);
    expect(errorOf(edit((e) => e.bytes.set([0], 4))).code).toBe(ELF_ERROR.CLASS);
    expect(errorOf(edit((e) => e.bytes.set([7], 4))).code).toBe(ELF_ERROR.CLASS);
  });

  it("E_ELF_DATA: neither byte order", () => {
    expect(errorOf(edit((e) => e.bytes.set([0], 5))).code).toBe(ELF_ERROR.DATA);
    expect(errorOf(edit((e) => e.bytes.set([3], 5))).code).toBe(ELF_ERROR.DATA);
  });

  it("E_ELF_TRUNCATED: file ends in the ELF header or the section header table", () => {
    expect(errorOf(obj.subarray(0, 0)).code).toBe(ELF_ERROR.TRUNCATED);
    expect(errorOf(obj.subarray(0, 3)).code).toBe(ELF_ERROR.TRUNCATED);
    expect(errorOf(obj.subarray(0, 63)).code).toBe(ELF_ERROR.TRUNCATED);
    // clang puts the section header table last.
    const cut = errorOf(obj.subarray(0, obj.length - 1));
    expect(cut.code).toBe(ELF_ERROR.TRUNCATED);
    expect(cut.message).toMatch(/section header table/);
    expect(errorOf(edit((e) => e.u64(EH.shoff, e.bytes.length - 10))).code).toBe(ELF_ERROR.TRUNCATED);
    expect(errorOf(edit((e) => e.u64(EH.shoff, 2n ** 63n))).code).toBe(ELF_ERROR.TRUNCATED);
    expect(errorOf(edit((e) => e.u16(EH.shnum, 0xfff0))).code).toBe(ELF_ERROR.TRUNCATED);
  });

  it("E_ELF_RANGE: section contents past the end of the file, named", () => {
    const off = errorOf(edit((e) => e.u64(e.shdr(text) + SH.offset, e.bytes.length)));
    expect(off.code).toBe(ELF_ERROR.RANGE);
    expect(off.section).toBe(".text");
    expect(off.message).toContain(`${FILE}: section .text:`);
    const size = errorOf(edit((e) => e.u64(e.shdr(data) + SH.size, 2n ** 64n - 1n)));
    expect(size.code).toBe(ELF_ERROR.RANGE);
    expect(size.section).toBe(".data");
  });

  it("E_ELF_RANGE: e_shstrndx and section name offsets", () => {
    expect(errorOf(edit((e) => e.u16(EH.shstrndx, count))).code).toBe(ELF_ERROR.RANGE);
    const name = errorOf(edit((e) => e.u32(e.shdr(text) + SH.name, 0xffffff)));
    expect(name.code).toBe(ELF_ERROR.RANGE);
    // Its name is what is unreadable, so it is named by index.
    expect(name.section).toBe(`[${text}]`);
  });

  it("E_ELF_RANGE: a string that runs off the end of its table", () => {
    // Point .text's name at the last byte of the name table and make that byte non-NUL.
    const strtab = readElf(obj).sections[readElf(obj).header.shstrndx];
    const err = errorOf(
      edit((e) => {
        e.bytes[strtab.offset + strtab.size - 1] = 0x41;
        e.u32(e.shdr(text) + SH.name, strtab.size - 1);
      }),
    );
    expect(err.code).toBe(ELF_ERROR.RANGE);
  });

  it("E_ELF_RANGE: symbol name, symbol section index and relocation symbol index", () => {
    const elf = readElf(obj);
    const st = elf.sections[symtab];
    // Symbol 1 (the file symbol): name offset past .strtab.
    const name = errorOf(edit((e) => e.u32(st.offset + 24, 0xfffffff)));
    expect(name.code).toBe(ELF_ERROR.RANGE);
    expect(name.section).toBe(".symtab");
    expect(name.message).toContain("symbol 1");
    // Symbol 2: an ordinary section index past the section table.
    const shndx = errorOf(edit((e) => e.u16(st.offset + 2 * 24 + 6, count + 3)));
    expect(shndx.code).toBe(ELF_ERROR.RANGE);
    expect(shndx.message).toContain("symbol 2");
    // First relocation of .rel.text: symbol index past .symtab.
    const rel = elf.sections[relText];
    const symAt = rel.offset + 8 + (elf.header.byteOrder === "le" ? 4 : 0);
    const r = errorOf(edit((e) => e.u32(symAt, st.size / 24 + 5)));
    expect(r.code).toBe(ELF_ERROR.RANGE);
    expect(r.section).toBe(".rel.text");
  });

  it("E_ELF_ENTSIZE: header and table entry sizes", () => {
    expect(errorOf(edit((e) => e.u16(EH.shentsize, 40))).code).toBe(ELF_ERROR.ENTSIZE);
    const sym = errorOf(edit((e) => e.u64(e.shdr(symtab) + SH.entsize, 16)));
    expect(sym.code).toBe(ELF_ERROR.ENTSIZE);
    expect(sym.section).toBe(".symtab");
    const rel = errorOf(edit((e) => e.u64(e.shdr(relText) + SH.entsize, 24)));
    expect(rel.code).toBe(ELF_ERROR.ENTSIZE);
    expect(rel.section).toBe(".rel.text");
    // A size that is not a whole number of entries.
    const size = readElf(obj).sections[relText].size;
    const partial = errorOf(edit((e) => e.u64(e.shdr(relText) + SH.size, size - 4)));
    expect(partial.code).toBe(ELF_ERROR.ENTSIZE);
  });

  it("E_ELF_LINK: sh_link and sh_info pointing nowhere or at the wrong kind of section", () => {
    const info = errorOf(edit((e) => e.u32(e.shdr(relText) + SH.info, 9999)));
    expect(info.code).toBe(ELF_ERROR.LINK);
    expect(info.section).toBe(".rel.text");
    expect(info.message).toContain("sh_info 9999");
    const link = errorOf(edit((e) => e.u32(e.shdr(relText) + SH.link, 9999)));
    expect(link.code).toBe(ELF_ERROR.LINK);
    const wrongType = errorOf(edit((e) => e.u32(e.shdr(relText) + SH.link, text)));
    expect(wrongType.code).toBe(ELF_ERROR.LINK);
    expect(wrongType.message).toContain(".text");
    const strtab = errorOf(edit((e) => e.u32(e.shdr(symtab) + SH.link, text)));
    expect(strtab.code).toBe(ELF_ERROR.LINK);
    expect(strtab.section).toBe(".symtab");
  });

  it("E_ELF_LINK: SHN_XINDEX without a SHT_SYMTAB_SHNDX section", () => {
    const st = readElf(obj).sections[symtab];
    const err = errorOf(edit((e) => e.u16(st.offset + 2 * 24 + 6, ELF.SHN_XINDEX)));
    expect(err.code).toBe(ELF_ERROR.LINK);
    expect(err.message).toContain("SHN_XINDEX");
  });
});

describe("ElfError codes (executable)", () => {
  const edit = (f: (e: Editor) => void) => patch(exe, f);

  it("E_ELF_TRUNCATED: program header table past the end", () => {
    expect(errorOf(edit((e) => e.u64(EH.phoff, e.bytes.length - 8))).code).toBe(ELF_ERROR.TRUNCATED);
    expect(errorOf(edit((e) => e.u16(EH.phnum, 0xfffe))).code).toBe(ELF_ERROR.TRUNCATED);
  });

  it("E_ELF_ENTSIZE: e_phentsize", () => {
    expect(errorOf(edit((e) => e.u16(EH.phentsize, 32))).code).toBe(ELF_ERROR.ENTSIZE);
  });

  it("E_ELF_RANGE: segment contents past the end", () => {
    const err = errorOf(edit((e) => e.u64(e.phdr(1) + 32, e.bytes.length * 2)));
    expect(err.code).toBe(ELF_ERROR.RANGE);
    expect(err.message).toContain("segment 1");
  });

  it("E_ELF_RANGE: .dynsym symbol name", () => {
    const dynsym = readElf(exe).section(".dynsym")!;
    const err = errorOf(edit((e) => e.u32(dynsym.offset + 24, 0xffffff)));
    expect(err.code).toBe(ELF_ERROR.RANGE);
    expect(err.section).toBe(".dynsym");
  });
});

describe("extended numbering and SHN_XINDEX (crafted from edge.*.o)", () => {
  it.each(["el", "eb"])("%s: symbols really use SHN_XINDEX in the file and resolve to real sections", (t) => {
    const original = readElf(readFixture(`test/fixtures/elf-edge/edge.${t}.o`));
    const bytes = readFixture(`test/fixtures/elf-edge/xindex.${t}.o`);
    const crafted = readElf(bytes);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const le = t === "el";
    expect(view.getUint16(60, le)).toBe(0);
    expect(view.getUint16(62, le)).toBe(ELF.SHN_XINDEX);
    const st = crafted.section(".symtab")!;
    const raw = crafted.symbols.map((_, i) => view.getUint16(st.offset + i * 24 + 6, le));
    expect(raw.filter((x) => x === ELF.SHN_XINDEX).length).toBeGreaterThan(3);
    expect(crafted.symbols.map((s) => [s.name, s.shndx])).toEqual(
      original.symbols.map((s) => [s.name, s.shndx]),
    );
    expect(crafted.sections.length).toBe(original.sections.length + 1);
  });

  it("e_phnum = PN_XNUM takes the program header count from section 0's sh_info", () => {
    const original = readElf(exe);
    const crafted = readElf(
      patch(exe, (e) => {
        e.u32(e.shdr(0) + SH.info, original.segments.length);
        e.u16(EH.phnum, 0xffff);
      }),
    );
    expect(crafted.segments).toEqual(original.segments);
    expect(crafted.segments.length).toBeGreaterThan(0);
  });

  it("E_ELF_RANGE: an extended index past the section table", () => {
    const bytes = readFixture("test/fixtures/elf-edge/xindex.el.o");
    const x = readElf(bytes).section(".symtab_shndx")!;
    const err = errorOf(patch(bytes, (e) => e.u32(x.offset + 4 * 4, 0xfffff)));
    expect(err.code).toBe(ELF_ERROR.RANGE);
    expect(err.message).toContain("extended section index");
  });
});

describe("readElfFile", () => {
  it("names the file in errors", async () => {
    await expect(readElfFile("test/fixtures/native/target.c")).rejects.toMatchObject({
      code: ELF_ERROR.MAGIC,
      file: "test/fixtures/native/target.c",
    });
  });

  it("reports a missing file as a UsageError", async () => {
    const err = await readElfFile("test/fixtures/native/no-such-file").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(String(err)).toContain("no-such-file");
  });

  it("reads a file and keeps its path", async () => {
    const elf = await readElfFile("test/fixtures/native/libnative.so");
    expect(elf.file).toBe("test/fixtures/native/libnative.so");
    expect(elf.header.machine).toBe(ELF.EM_X86_64);
  });
});
