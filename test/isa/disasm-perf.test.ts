/**
 * Disassembly speed: a 100k-slot object must take well under a second in-process (llvm-objdump-19
 * itself needs ~0.1-0.4 s for the same listing on this machine). The bound is loose on purpose (a
 * shared, loaded CI machine); what it catches is a per-line or per-symbol cost that grows
 * super-linearly, which would blow far past it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readElf } from "../../src/elf/reader.js";
import { disassemble } from "../../src/isa/disasm.js";
import { type CorpusSymbol, writeCorpusElf } from "./disasm-corpus/elf-writer.js";

const ROOT = join(import.meta.dirname, "..", "..");
const LARGE = join(ROOT, "test/fixtures/obj/large.el.o");

function bestOf(n: number, f: () => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    f();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

describe("disassembler speed", () => {
  it("100k slots with a label every 50 slots and many branches", () => {
    // The code of a real program repeated, so branches, ld_imm64 and calls all occur.
    const src = readElf(readFileSync(join(ROOT, "test/isa/disasm-corpus/obj/symbols.el.o")));
    const one = src.sections.find((s) => s.name === "kprobe/sys_open")!.data;
    const data = new Uint8Array(800_000);
    for (let at = 0; at + one.length <= data.length; at += one.length) data.set(one, at);
    const symbols: CorpusSymbol[] = [];
    for (let i = 0; i < 100_000; i += 50)
      symbols.push({ name: `L${i}`, value: BigInt(i * 8), type: 0, shndx: 1, bind: 0 });
    const bytes = writeCorpusElf({ sections: [{ name: "xdp", data }], symbols });
    let lines = 0;
    const ms = bestOf(3, () => {
      lines = disassemble(bytes, { path: "big.o", relocs: true }).split("\n").length;
    });
    expect(lines).toBeGreaterThan(90_000);
    expect(ms).toBeLessThan(1500);
  });

  it.skipIf(!existsSync(LARGE))("the large fixture object (102k instructions)", () => {
    const bytes = readFileSync(LARGE);
    const ms = bestOf(3, () => disassemble(readElf(bytes), { path: "large.o", relocs: true }));
    expect(ms).toBeLessThan(1500);
  });
});
