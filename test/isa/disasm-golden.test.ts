/**
 * Replays llvm-objdump-19 goldens through our disassembler and compares byte for byte: the
 * fixture objects compiled by clang (test/fixtures, every flag set in their manifest) and the
 * disassembler corpus (test/isa/disasm-corpus: every opcode byte with random fields, zero runs,
 * truncated slots, data and odd symbols, relocations, CO-RE records of every kind and every
 * complaint of llvm-objdump's describer, source lines (-l), both byte orders).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readElf } from "../../src/elf/reader.js";
import { disassemble, relocationRecords } from "../../src/isa/disasm.js";
import type { Mcpu } from "../../src/isa/format.js";

const ROOT = join(import.meta.dirname, "..", "..");

interface Entry {
  readonly object: string;
  readonly flagset: string;
  readonly flags: readonly string[];
  readonly golden: string;
}

function entries(manifest: string): Entry[] {
  const path = join(ROOT, manifest);
  if (!existsSync(path)) return [];
  return (JSON.parse(readFileSync(path, "utf8")) as { entries: Entry[] }).entries;
}

/** Our output for one manifest entry (the manifest's flags mapped to options). */
function ours(e: Entry): string {
  const mcpu = e.flags.find((f) => f.startsWith("--mcpu="))?.slice("--mcpu=".length) as Mcpu | undefined;
  const elf = readElf(readFileSync(join(ROOT, e.object)), { file: e.object });
  if (!e.flags.includes("-d")) return relocationRecords(elf, { path: e.object });
  return disassemble(elf, {
    relocs: e.flags.includes("-r"),
    printImmHex: !e.flags.includes("--no-print-imm-hex"),
    lineNumbers: e.flags.includes("-l"),
    showRawInsn: !e.flags.includes("--no-show-raw-insn"),
    mcpu,
    path: e.object,
  });
}

/** The first differing line, for a readable failure. */
function firstDiff(want: string, got: string): string {
  const a = want.split("\n");
  const b = got.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1}\n want: ${JSON.stringify(a[i])}\n got:  ${JSON.stringify(b[i])}`;
  }
  return "";
}

for (const [title, manifest] of [
  ["fixture objects (clang)", "test/fixtures/golden/objdump/manifest.json"],
  ["disassembler corpus", "test/isa/disasm-corpus/manifest.json"],
] as const) {
  const list = entries(manifest);
  describe(`llvm-objdump-19 goldens: ${title}`, () => {
    it("has goldens to replay", () => {
      expect(list.length, `${manifest} missing or empty`).toBeGreaterThan(0);
    });
    it.each(list.map((e) => [`${e.object} ${e.flags.join(" ")}`, e] as const))("%s", (_name, e) => {
      const want = readFileSync(join(ROOT, e.golden), "utf8");
      const got = ours(e);
      if (got !== want) expect.fail(`${e.golden}: ${firstDiff(want, got)}`);
    });
  });
}
