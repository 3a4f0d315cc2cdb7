/**
 * Every field the reader produces, compared with llvm-readobj-19's JSON description of the same
 * file (goldens from test/fixtures/build-elf-goldens.sh): header, sections, program headers,
 * .symtab, .dynsym and every relocation section.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readElf } from "../../src/elf/index.js";
import { compareWithReadobj } from "./compare.js";
import { fixtureObjects, type GoldenCase, goldenCases, NATIVE_FILES, ROOT, readFixture } from "./goldens.js";

const cases = goldenCases();

describe("readElf against llvm-readobj-19 goldens", () => {
  it("has goldens for every committed BPF object and native fixture", () => {
    const described = new Set(cases.map((c) => c.file));
    const missing = [...fixtureObjects(), ...NATIVE_FILES].filter((f) => !described.has(f));
    expect(missing).toEqual([]);
    expect(cases.length).toBeGreaterThan(NATIVE_FILES.length);
    // Both byte orders and extended numbering are among them.
    const orders = new Set(cases.map((c) => c.readobj.ElfHeader.Ident.DataEncoding.Value));
    expect([...orders].sort()).toEqual([1, 2]);
    expect(cases.some((c) => String(c.readobj.ElfHeader.SectionHeaderCount).startsWith("0 ("))).toBe(true);
  });

  it.each(cases.map((c): [string, GoldenCase] => [c.file, c]))("%s", (_name, c) => {
    expect(existsSync(join(ROOT, c.file))).toBe(true);
    const elf = readElf(readFixture(c.file), { file: c.file });
    expect(elf.file).toBe(c.file);
    compareWithReadobj(elf, c.readobj);
  });
});
