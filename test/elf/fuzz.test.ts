/**
 * Property tests: random bytes and random mutations of real objects (byte flips, truncations,
 * header and section header field overwrites) either read cleanly, with every view inside the
 * file and every index resolvable, or fail with an ElfError. Never another exception, never a
 * hang (each read is timed).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readElf } from "../../src/elf/index.js";
import type { ElfFile } from "../../src/elf/types.js";
import { ELF } from "../../src/elf/types.js";
import { ElfError } from "../../src/errors.js";
import { readFixture, sampleFiles } from "./goldens.js";
import { EH, patch, SH } from "./mutate.js";

const RUNS = Number(process.env.ELF_FUZZ_RUNS ?? 300);
const MAX_MS = 2000;
const files = sampleFiles().map((f) => ({ name: f, bytes: readFixture(f) }));

/** Invariants of a file the reader accepted. */
function checkAccepted(elf: ElfFile, bytes: Uint8Array): void {
  const count = elf.sections.length;
  for (const s of elf.sections) {
    if (s.data.length > 0) {
      if (s.data.buffer !== bytes.buffer) throw new Error("section data is not a view of the input");
      const start = s.data.byteOffset - bytes.byteOffset;
      if (start < 0 || start + s.data.length > bytes.length)
        throw new Error(`section ${s.index} outside the file`);
    }
    elf.section(s.name);
  }
  for (const table of [elf.symbols, elf.dynamicSymbols]) {
    for (const sym of table) {
      if (sym.shndx < 0xff00 && sym.shndx >= count && !(sym.shndx === ELF.SHN_XINDEX)) {
        throw new Error(`symbol ${sym.index} section ${sym.shndx} out of range`);
      }
    }
  }
  for (const r of elf.relocations) {
    if (r.target === undefined || r.section === undefined)
      throw new Error("relocation section without target");
    for (const e of r.entries) {
      if (e.symbol !== 0 && e.symbol >= r.symbols.length) throw new Error("relocation symbol out of range");
    }
  }
  for (const seg of elf.segments) {
    if (seg.filesz > 0 && seg.offset + seg.filesz > bytes.length) throw new Error("segment outside the file");
  }
}

/** Reads `bytes`; returns false when an unexpected exception escapes or it takes too long. */
function readsSafely(bytes: Uint8Array): boolean {
  const t0 = performance.now();
  try {
    checkAccepted(readElf(bytes, { file: "fuzz" }), bytes);
  } catch (e) {
    if (!(e instanceof ElfError)) {
      throw new Error(
        `non-ElfError: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`,
      );
    }
    if (!/^E_ELF_[A-Z_]+$/.test(e.code)) throw new Error(`unstable code ${e.code}`);
  }
  const ms = performance.now() - t0;
  if (ms > MAX_MS) throw new Error(`read took ${ms.toFixed(0)} ms`);
  return true;
}

const fileArb = fc.constantFrom(...files);
/** Values that hit boundaries more often than uniform random ones do. */
const u64Arb = fc.oneof(
  fc.constantFrom(
    0n,
    1n,
    4n,
    8n,
    16n,
    24n,
    64n,
    0xffffn,
    0xff00n,
    0xffffffffn,
    2n ** 53n,
    2n ** 63n,
    2n ** 64n - 1n,
  ),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.bigInt({ min: 0n, max: 20000n }),
);

describe("readElf never throws anything but ElfError", () => {
  it("has sample files of both byte orders", () => {
    const orders = new Set(files.map((f) => f.bytes[5]));
    expect([...orders].sort()).toEqual([1, 2]);
  });

  it("random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), readsSafely), { numRuns: RUNS });
  });

  it("random bytes behind a valid ELF64 ident", () => {
    const ident = (le: boolean) => [0x7f, 0x45, 0x4c, 0x46, 2, le ? 1 : 2, 1, 0];
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ minLength: 56, maxLength: 800 }), (le, rest) => {
        const bytes = new Uint8Array(8 + rest.length);
        bytes.set(ident(le));
        bytes.set(rest, 8);
        return readsSafely(bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it("truncations of real files", () => {
    fc.assert(
      fc.property(fileArb, fc.double({ min: 0, max: 1, noNaN: true }), (f, frac) =>
        readsSafely(f.bytes.subarray(0, Math.floor(f.bytes.length * frac))),
      ),
      { numRuns: RUNS },
    );
  });

  it("byte flips in real files", () => {
    fc.assert(
      fc.property(
        fileArb,
        fc.array(
          fc.tuple(
            fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
            fc.integer({ min: 0, max: 255 }),
          ),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        (f, flips) =>
          readsSafely(
            patch(f.bytes, (e) => {
              for (const [where, value] of flips) e.bytes[Math.floor(where * e.bytes.length)] = value;
            }),
          ),
      ),
      { numRuns: RUNS },
    );
  });

  it("ELF header field overwrites", () => {
    const fields = fc.constantFrom(
      ...Object.entries(EH).map(([k, at]) => ({ k, at, width: k.endsWith("off") ? 8 : 2 })),
    );
    fc.assert(
      fc.property(fileArb, fields, u64Arb, (f, field, v) =>
        readsSafely(
          patch(f.bytes, (e) => {
            if (field.width === 8) e.u64(field.at, v);
            else e.u16(field.at, Number(v & 0xffffn));
          }),
        ),
      ),
      { numRuns: RUNS },
    );
  });

  it("section header field overwrites", () => {
    const fields = fc.constantFrom(...Object.entries(SH));
    fc.assert(
      fc.property(fileArb, fc.nat(), fields, u64Arb, (f, which, [name, at], v) => {
        const count = readElf(f.bytes).sections.length;
        return readsSafely(
          patch(f.bytes, (e) => {
            const where = e.shdr(which % count) + at;
            // name, type, link and info are 32-bit fields; the rest 64-bit.
            if (name === "name" || name === "type" || name === "link" || name === "info") {
              e.u32(where, Number(v & 0xffffffffn));
            } else {
              e.u64(where, v);
            }
          }),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("symbol and relocation entry overwrites", () => {
    fc.assert(
      fc.property(fileArb, fc.nat(), fc.nat(), u64Arb, (f, whichTable, entryByte, v) => {
        const elf = readElf(f.bytes);
        const tables = elf.sections.filter((s) =>
          [ELF.SHT_SYMTAB, ELF.SHT_DYNSYM, ELF.SHT_REL, ELF.SHT_RELA, 18].includes(s.type),
        );
        if (tables.length === 0) return true;
        const t = tables[whichTable % tables.length];
        if (t.size < 8) return true;
        const at = t.offset + (entryByte % (t.size - 7));
        return readsSafely(patch(f.bytes, (e) => e.u64(at, v)));
      }),
      { numRuns: RUNS },
    );
  });
});
