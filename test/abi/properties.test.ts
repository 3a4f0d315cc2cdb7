import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CTX_MODELLED_PROG_TYPES, checkCtxAccess } from "../../src/abi/context-access.js";
import { checkMapShape, MAP_TYPES } from "../../src/abi/map-types.js";
import {
  closestKnownSection,
  PROGRAM_TYPES,
  programTypeForSection,
  SECTION_DEFS,
} from "../../src/abi/program-types.js";

const sectionish = fc.oneof(
  fc.string(),
  fc
    .constantFrom(...SECTION_DEFS.map((d) => d.pattern))
    .chain((p) =>
      fc
        .tuple(fc.constantFrom("", "?"), fc.constant(p), fc.constantFrom("", "/", "x", "/a/b", ".s/f"))
        .map((t) => t.join("")),
    ),
);

describe("properties", () => {
  it("section lookup never throws and only answers with real program types", () => {
    fc.assert(
      fc.property(sectionish, (name) => {
        const info = programTypeForSection(name);
        if (info) {
          expect(PROGRAM_TYPES).toContain(info.progType);
          expect(info.autoload).toBe(!name.startsWith("?"));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("a suggested spelling is itself a known section", () => {
    fc.assert(
      fc.property(sectionish, (name) => {
        const s = closestKnownSection(name);
        if (s === undefined) return;
        const probe = s.endsWith("/") ? `${s}target` : s;
        expect(programTypeForSection(probe), `${name} -> ${s}`).toBeDefined();
      }),
      { numRuns: 2000 },
    );
  });

  it("context checks never throw, and an accepted access lies inside the named field", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...CTX_MODELLED_PROG_TYPES),
        fc.integer({ min: -300, max: 9000 }),
        fc.constantFrom(1, 2, 4, 8, 3, 0, 16),
        fc.boolean(),
        (pt, off, size, write) => {
          const r = checkCtxAccess(pt, off, size, write);
          expect(r).toBeDefined();
          if (r?.ok && r.field && pt !== "tracepoint") {
            expect(off).toBeGreaterThanOrEqual(r.field.offset);
            expect(off).toBeLessThan(r.field.offset + r.field.size);
          }
          if (r?.ok) expect([1, 2, 4, 8]).toContain(size);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("map shape checks never throw", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -1, max: MAP_TYPES.length + 2 }),
        fc.nat(1 << 20),
        fc.nat(1 << 20),
        fc.nat(1 << 24),
        fc.nat(0xffff),
        (type, keySize, valueSize, maxEntries, flags) => {
          const out = checkMapShape({ type, keySize, valueSize, maxEntries, flags });
          expect(Array.isArray(out)).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
