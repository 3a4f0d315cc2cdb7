/**
 * The writer's objects against llvm-mc-19's own objects from the same .s (committed by
 * test/fixtures/asm/build.sh), read with our ELF reader: no LLVM tool needed. Every section's
 * type, flags, alignment, entry size and bytes, every relocation (offset, type, symbol), the
 * symbol table (order included) and the address-significance table must be equal, including
 * the DWARF line and frame tables derived from `.file`/`.loc`/`.cfi_*`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readElf } from "../../src/elf/reader.js";
import { symbolDisplayName } from "../../src/elf/symbols.js";
import type { ElfFile } from "../../src/elf/types.js";
import { ELF } from "../../src/elf/types.js";
import { assembleObject } from "../../src/elf/writer.js";

const DIR = join(__dirname, "../fixtures/asm");
// Layout-only: where things are in the file, and the string tables whose order is free.
const LAYOUT = new Set([".strtab", ".symtab", ".llvm_addrsig"]);

function view(elf: ElfFile) {
  const sections = elf.sections
    .filter((s) => s.index !== 0 && !LAYOUT.has(s.name) && s.type !== ELF.SHT_REL)
    .map((s) => ({
      name: s.name,
      type: s.type,
      flags: s.flags.toString(16),
      size: s.size,
      addralign: s.addralign.toString(),
      entsize: s.entsize.toString(),
      data: Buffer.from(s.data).toString("hex"),
    }));
  const relocations = elf.relocations.map((r) => ({
    target: r.target.name,
    entries: r.entries.map((e) => `${e.offset}:${e.type}:${symbolDisplayName(elf, r.symbols[e.symbol])}`),
  }));
  const symbols = elf.symbols.map((y) => ({
    name: symbolDisplayName(elf, y),
    value: y.value.toString(),
    size: y.size.toString(),
    type: y.type,
    bind: y.bind,
    visibility: y.visibility,
    section: y.shndx >= ELF.SHN_ABS ? y.shndx : (elf.sections[y.shndx]?.name ?? ""),
  }));
  const addrsig = elf.section(".llvm_addrsig");
  const names: string[] = [];
  if (addrsig) {
    let v = 0;
    let shift = 0;
    for (const b of addrsig.data) {
      v |= (b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) === 0) {
        names.push(symbolDisplayName(elf, elf.symbols[v]));
        v = 0;
        shift = 0;
      }
    }
  }
  return {
    header: {
      type: elf.header.type,
      machine: elf.header.machine,
      flags: elf.header.flags,
      order: elf.header.byteOrder,
    },
    sections,
    relocations,
    symbols,
    addrsig: names,
  };
}

describe("writer objects equal llvm-mc's, section by section", () => {
  const objects = readdirSync(DIR).filter((f) => f.endsWith(".mc.o"));
  it("has the llvm-mc objects", () => {
    expect(objects.length).toBeGreaterThan(40);
  });
  for (const o of objects) {
    const m = /^(.*)\.(el|eb)\.mc\.o$/.exec(o);
    if (!m) continue;
    const [, base, target] = m;
    it(`${base} (${target})`, () => {
      const theirs = readElf(new Uint8Array(readFileSync(join(DIR, o))));
      const src = readFileSync(join(DIR, `${base}.s`), "utf8");
      const ours = readElf(
        assembleObject(src, { file: `${base}.s`, byteOrder: target === "el" ? "le" : "be" }),
      );
      expect(view(ours)).toEqual(view(theirs));
    });
  }
});
