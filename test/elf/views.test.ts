/**
 * The reader works on any Uint8Array view (a Buffer from a pool, an unaligned slice of a larger
 * buffer) and hands out views into it, never copies.
 */
import { describe, expect, it } from "vitest";
import { readElf } from "../../src/elf/index.js";
import type { ElfFile } from "../../src/elf/types.js";
import { readFixture, sampleFiles } from "./goldens.js";

/** Everything but the byte views, which differ by construction. */
function model(elf: ElfFile): unknown {
  return {
    header: elf.header,
    sections: elf.sections.map(({ data, ...s }) => ({ ...s, bytes: Array.from(data) })),
    segments: elf.segments,
    symbols: elf.symbols,
    dynamicSymbols: elf.dynamicSymbols,
    relocations: elf.relocations.map((r) => ({
      section: r.section.index,
      target: r.target.index,
      entries: r.entries,
    })),
  };
}

describe("readElf on views", () => {
  it.each(sampleFiles())("%s at an odd offset inside a larger buffer", (file) => {
    const original = readFixture(file);
    const big = new Uint8Array(original.length + 11);
    big.fill(0xa5);
    big.set(original, 3);
    const view = big.subarray(3, 3 + original.length);
    const a = readElf(new Uint8Array(original));
    const b = readElf(view);
    expect(model(b)).toEqual(model(a));
    for (const s of b.sections) {
      if (s.data.length === 0) continue;
      expect(s.data.buffer).toBe(big.buffer);
      expect(s.data.byteOffset).toBe(3 + s.offset);
    }
    // Bytes beyond the view are not part of the file: cutting one byte must still be noticed.
    expect(() => readElf(big.subarray(3, 3 + original.length - 1)).relocations).toThrow();
  });
});
