/**
 * Cross-check with npm `elfy` on the fields it reads correctly for ELF64 (section names, types,
 * offsets, sizes; see loader-facts.md §6 for its wrong addralign/entsize/osabi/NOBITS handling).
 * elfy knows no extended section numbering, so the crafted elf-edge files are left out.
 */
import elfy from "elfy";
import { describe, expect, it } from "vitest";
import { readElf } from "../../src/elf/index.js";
import { ELF } from "../../src/elf/types.js";
import { fixtureObjects, NATIVE_FILES, readFixture } from "./goldens.js";

const files = [...fixtureObjects(), ...NATIVE_FILES];

describe("readElf agrees with elfy on section names, types, offsets and sizes", () => {
  it("has files to compare", () => {
    expect(files.length).toBeGreaterThan(NATIVE_FILES.length);
  });

  it.each(files)("%s", (file) => {
    const bytes = readFixture(file);
    const theirs = elfy.parse(Buffer.from(bytes)).body.sections;
    const ours = readElf(bytes, { file }).sections;
    expect(ours.length).toBe(theirs.length);
    ours.forEach((s, i) => {
      const t = theirs[i];
      expect({
        i,
        name: s.name,
        type: elfy.constants.sectType[s.type] ?? s.type,
        off: s.offset,
        size: s.size,
      }).toEqual({ i, name: t.name, type: t.type, off: t.off, size: t.size });
      // elfy slices file bytes even for NOBITS; for the others the contents must be identical.
      if (s.type !== ELF.SHT_NOBITS && s.type !== ELF.SHT_NULL) {
        expect(Buffer.compare(Buffer.from(s.data), t.data)).toBe(0);
      }
    });
  });
});
