/**
 * findSymbolOffset against GNU objdump's "(File Offset: 0x...)" for every function of the native
 * fixtures (goldens from build-elf-goldens.sh), and against the independent section-based
 * computation st_value - sh_addr + sh_offset.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ELF,
  ELF_ERROR,
  type ElfFile,
  type ElfSymbol,
  findFunctionSymbol,
  findSymbolOffset,
  readElf,
} from "../../src/elf/index.js";
import { ElfError } from "../../src/errors.js";
import { GOLDEN_DIR, NATIVE_FILES, readFixture } from "./goldens.js";

function objdumpOffsets(file: string): Map<string, number> {
  const text = readFileSync(join(GOLDEN_DIR, "native", `${file.split("/").pop()}.offsets.txt`), "utf8");
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\S+) (0x[0-9a-f]+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

function definedFunctions(elf: ElfFile): ElfSymbol[] {
  return [...elf.dynamicSymbols, ...elf.symbols].filter(
    (s) => s.type === ELF.STT_FUNC && s.shndx !== ELF.SHN_UNDEF && s.shndx < 0xff00,
  );
}

function codeOf(err: unknown): string | undefined {
  return err instanceof ElfError ? err.code : undefined;
}

describe("findSymbolOffset", () => {
  it.each(NATIVE_FILES)("%s: every function symbol at objdump's file offset", (file) => {
    const elf = readElf(readFixture(file), { file });
    const expected = objdumpOffsets(file);
    const funcs = definedFunctions(elf);
    expect(funcs.length).toBeGreaterThan(0);
    let checked = 0;
    for (const sym of funcs) {
      const got = findSymbolOffset(elf, sym.name);
      // Independent: through the symbol's section header instead of the program headers.
      const sec = elf.sections[sym.shndx];
      expect({ name: sym.name, got }).toEqual({
        name: sym.name,
        got: Number(sym.value - sec.addr) + sec.offset,
      });
      const fromObjdump = expected.get(sym.name);
      if (fromObjdump !== undefined) {
        expect({ name: sym.name, got }).toEqual({ name: sym.name, got: fromObjdump });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(findSymbolOffset(elf, "tsbpf_probe_me")).toBe(expected.get("tsbpf_probe_me"));
  });

  it("finds the exported function of a stripped library in .dynsym, and not the hidden ones", () => {
    const file = "test/fixtures/native/libnative.so";
    const elf = readElf(readFixture(file), { file });
    expect(elf.symbols).toEqual([]);
    expect(findFunctionSymbol(elf, "tsbpf_probe_me").table).toBe("dynsym");
    let err: unknown;
    try {
      findSymbolOffset(elf, "tsbpf_add");
    } catch (e) {
      err = e;
    }
    expect(codeOf(err)).toBe(ELF_ERROR.SYMBOL_NOT_FOUND);
    expect(String(err)).toContain(file);
    expect(String(err)).toContain("tsbpf_add");
  });

  it("finds hidden functions through .symtab of an unstripped executable", () => {
    const file = "test/fixtures/native/native_pie";
    const elf = readElf(readFixture(file), { file });
    expect(findFunctionSymbol(elf, "tsbpf_add").table).toBe("symtab");
    expect(findFunctionSymbol(elf, "tsbpf_probe_me").table).toBe("symtab");
  });

  // Hand-made models for the choice rules (the reader is not involved).
  const base = readElf(readFixture("test/fixtures/native/native_nopie"));
  const text = base.section(".text")!;
  const sym = (name: string, value: bigint, bind: number, shndx = text.index): ElfSymbol => ({
    index: 1,
    name,
    value,
    size: 4n,
    type: ELF.STT_FUNC,
    bind,
    visibility: 0,
    shndx,
  });
  const withSymbols = (symbols: ElfSymbol[]): ElfFile => ({ ...base, symbols, dynamicSymbols: [] });
  const textOffset = (value: bigint) => Number(value - text.addr) + text.offset;

  it("prefers a non-weak definition over a weak one, and accepts duplicates at one offset", () => {
    const a = text.addr + 16n;
    const b = text.addr + 32n;
    expect(findSymbolOffset(withSymbols([sym("f", a, ELF.STB_WEAK), sym("f", b, ELF.STB_GLOBAL)]), "f")).toBe(
      textOffset(b),
    );
    expect(findSymbolOffset(withSymbols([sym("f", b, ELF.STB_GLOBAL), sym("f", a, ELF.STB_WEAK)]), "f")).toBe(
      textOffset(b),
    );
    expect(
      findSymbolOffset(withSymbols([sym("f", a, ELF.STB_GLOBAL), sym("f", a, ELF.STB_LOCAL)]), "f"),
    ).toBe(textOffset(a));
    expect(findSymbolOffset(withSymbols([sym("f@@V1", a, ELF.STB_GLOBAL)]), "f")).toBe(textOffset(a));
  });

  it("refuses two non-weak definitions at different offsets", () => {
    const elf = withSymbols([sym("f", text.addr, ELF.STB_GLOBAL), sym("f", text.addr + 8n, ELF.STB_LOCAL)]);
    expect(() => findSymbolOffset(elf, "f")).toThrow(
      expect.objectContaining({ code: ELF_ERROR.SYMBOL_AMBIGUOUS }),
    );
  });

  it("refuses a function whose address no PT_LOAD segment maps from the file", () => {
    const elf = withSymbols([sym("f", 0x7fff_0000_0000n, ELF.STB_GLOBAL)]);
    expect(() => findSymbolOffset(elf, "f")).toThrow(
      expect.objectContaining({ code: ELF_ERROR.SYMBOL_NOT_LOADED }),
    );
  });
});
