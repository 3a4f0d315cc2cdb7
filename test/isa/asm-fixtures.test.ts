/**
 * Every committed assembly fixture (clang-19 -S output and hand-written forms) against the
 * llvm-objdump-19 listing of llvm-mc-19's object from the same text (test/fixtures/asm/build.sh).
 * Needs no LLVM tool: the golden listing is read back with the objdump-syntax front end (which
 * checks each line's raw bytes against its text), and the instructions and code relocations
 * must equal what the LLVM-syntax front end makes of the .s.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assembleModule } from "../../src/isa/asm/index.js";
import type { AsmModule } from "../../src/isa/asm/module.js";
import { encode } from "../../src/isa/codec.js";

const DIR = join(__dirname, "../fixtures/asm");
const goldens = readdirSync(DIR).filter((f) => f.endsWith(".dr.txt"));

function codeView(m: AsmModule): Record<string, { bytes: string; relocs: string[] }> {
  const out: Record<string, { bytes: string; relocs: string[] }> = {};
  for (const s of m.sections) {
    if (s.insns.length === 0) continue;
    out[s.name] = {
      bytes: Buffer.from(encode(s.insns, m.byteOrder)).toString("hex"),
      relocs: s.relocations.map((r) => `${r.offset}:${r.type}:${r.symbol}`),
    };
  }
  return out;
}

describe("assembler fixtures vs llvm-mc goldens", () => {
  it("has fixtures", () => {
    expect(goldens.length).toBeGreaterThan(20);
  });
  for (const g of goldens) {
    const m = /^(.*)\.(el|eb)\.dr\.txt$/.exec(g);
    if (!m) continue;
    const [, base, target] = m;
    it(`${base} (${target})`, () => {
      const byteOrder = target === "el" ? "le" : "be";
      const src = readFileSync(join(DIR, `${base}.s`), "utf8");
      const ours = assembleModule(src, { file: `${base}.s`, syntax: "llvm", byteOrder });
      const theirs = assembleModule(readFileSync(join(DIR, g), "utf8"), {
        file: g,
        syntax: "objdump",
        byteOrder,
      });
      expect(codeView(ours)).toEqual(codeView(theirs));
    });
  }
});
