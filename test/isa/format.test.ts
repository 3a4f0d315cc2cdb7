/**
 * formatInsn and the LLVM decode rules behind it, against llvm-objdump-19's own text: every
 * instruction line of the committed goldens (random fields on every opcode byte, both byte
 * orders, default/v1/v3 CPUs, hex and decimal; plus the clang-built fixtures) is rebuilt from its
 * bytes and printed again.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeSlot } from "../../src/isa/codec.js";
import {
  ASM_STYLE,
  formatInsn,
  hexImm64,
  llvmCanonical,
  llvmInsnText,
  type Mcpu,
  UNKNOWN_TEXT,
} from "../../src/isa/format.js";
import type { ByteOrder, Instruction } from "../../src/isa/instruction.js";

const ROOT = join(import.meta.dirname, "..", "..");

interface Entry {
  readonly object: string;
  readonly flags: readonly string[];
  readonly golden: string;
}

function entries(manifest: string): Entry[] {
  const path = join(ROOT, manifest);
  if (!existsSync(path)) return [];
  return (JSON.parse(readFileSync(path, "utf8")) as { entries: Entry[] }).entries;
}

const LINE = /^\s*\d+:\t((?:[0-9a-f]{2} ?)+)\t(.*)$/;

/** Instruction lines of a golden: the instruction rebuilt from its bytes, and LLVM's text. */
function goldenInsns(text: string, order: ByteOrder): { insn: Instruction; text: string }[] {
  const out: { insn: Instruction; text: string }[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const bytes = Uint8Array.from(Buffer.from(m[1].replace(/ /g, ""), "hex"));
    if (bytes.length < 8) continue; // single stray bytes
    const slot = decodeSlot(bytes, 0, order);
    const insn: Instruction = bytes.length === 16 ? { ...slot, wide: decodeSlot(bytes, 8, order) } : slot;
    // Branch target annotations ("<sym+0x10>") are the disassembler's, not the instruction's.
    out.push({ insn, text: m[2].replace(/ <[^<>]*>$/, "") });
  }
  return out;
}

const ENTRIES = [
  ...entries("test/isa/disasm-corpus/manifest.json"),
  ...entries("test/fixtures/golden/objdump/manifest.json"),
].filter((e) => e.flags.includes("-d") && !e.flags.includes("--no-show-raw-insn") && !e.flags.includes("-l"));

describe("formatInsn against llvm-objdump-19 goldens", () => {
  it("has goldens", () => {
    expect(ENTRIES.length).toBeGreaterThan(50);
  });
  it.each(ENTRIES.map((e) => [`${e.object} ${e.flags.join(" ")}`, e] as const))("%s", (_n, e) => {
    const order: ByteOrder = /\.eb(\.|$)/.test(e.object) ? "be" : "le";
    const mcpu = e.flags.find((f) => f.startsWith("--mcpu="))?.slice(7) as Mcpu | undefined;
    const decimal = e.flags.includes("--no-print-imm-hex");
    const lines = goldenInsns(readFileSync(join(ROOT, e.golden), "utf8"), order);
    expect(lines.length).toBeGreaterThan(0);
    const bad: string[] = [];
    for (const { insn, text } of lines) {
      const got = decimal
        ? (llvmInsnText(
            insn.opcode,
            insn.dst,
            insn.src,
            insn.off,
            insn.imm,
            insn.wide?.imm ?? (insn.opcode === 0x18 ? undefined : 0),
            mcpu === "v3" || mcpu === "v4",
            ASM_STYLE,
          ) ?? UNKNOWN_TEXT)
        : formatInsn(insn, { mcpu });
      if (got !== text && bad.length < 5) bad.push(`${JSON.stringify(insn)}: want ${text} got ${got}`);
    }
    expect(bad).toEqual([]);
  });
});

describe("hexImm64", () => {
  it("spells the signed 64-bit value hi:lo in hex like LLVM's formatHex", () => {
    fc.assert(
      fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.integer(), (hi, lo) => {
        const v = BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0));
        const want = v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
        expect(hexImm64(lo, hi)).toBe(want);
      }),
    );
  });
});

describe("llvmCanonical", () => {
  const slot = fc.record({
    opcode: fc.integer({ min: 0, max: 255 }),
    dst: fc.integer({ min: 0, max: 15 }),
    src: fc.integer({ min: 0, max: 15 }),
    off: fc.oneof(fc.constantFrom(0, 1, 8, 16, 32, -1), fc.integer({ min: -0x8000, max: 0x7fff })),
    imm: fc.oneof(
      fc.constantFrom(0, 1, 16, 32, 64, 0x01, 0x41, 0x51, 0xa1, 0xe1, 0xf1, 0x40, 0x50, 0xa0),
      fc.integer({ min: -0x80000000, max: 0x7fffffff }),
    ),
    hi: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  });
  it("is decodable exactly when the instruction is, prints the same text, and is a fixed point", () => {
    fc.assert(
      fc.property(slot, fc.boolean(), (s, alu32) => {
        const insn: Instruction =
          s.opcode === 0x18
            ? { ...s, wide: { opcode: 0, dst: 0, src: 0, off: 0, imm: s.hi } }
            : { opcode: s.opcode, dst: s.dst, src: s.src, off: s.off, imm: s.imm };
        const text = llvmInsnText(s.opcode, s.dst, s.src, s.off, s.imm, s.hi, alu32);
        const c = llvmCanonical(insn, alu32);
        expect(c === undefined).toBe(text === undefined);
        if (c === undefined) return;
        expect(llvmInsnText(c.opcode, c.dst, c.src, c.off, c.imm, c.wide?.imm ?? 0, alu32)).toBe(text);
        expect(llvmCanonical(c, alu32)).toEqual(c);
      }),
      { numRuns: 5000 },
    );
  });
});
