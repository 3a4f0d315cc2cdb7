/**
 * The bpf_conformance suite through the assembler: every tests/*.data program assembles to the
 * bytes llvm-mc-19 makes of an independent textual translation of it into LLVM syntax
 * (test/fixtures/conformance/build.sh -> asm-goldens.json), and to its `-- raw` bytes where it has
 * both; negative/invalid_* inputs are refused with a clear AsmError; negative/unused-* raw
 * programs are refused by strictCheck.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { AsmError } from "../../src/errors.js";
import { assemble, detectSyntax, parseConformanceData } from "../../src/isa/asm/index.js";
import { decode, encode } from "../../src/isa/codec.js";
import { strictCheck } from "../../src/isa/opcodes.js";

// CI lays shared/ beside the clone; a developer's tree has it at /work/shared.
const ROOT = [resolve(process.cwd(), "../shared/bpf_conformance"), "/work/shared/bpf_conformance"].find((p) =>
  existsSync(join(p, "tests")),
);
const GOLDENS: Record<string, string> = JSON.parse(
  readFileSync(join(__dirname, "../fixtures/conformance/asm-goldens.json"), "utf8"),
);
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe.skipIf(!ROOT)("bpf_conformance tests/*.data", () => {
  const dir = join(ROOT ?? "", "tests");
  const files = ROOT ? readdirSync(dir).filter((f) => f.endsWith(".data")) : [];
  it("covers the whole suite", () => {
    expect(files.length).toBe(313);
    expect(Object.keys(GOLDENS).length).toBe(files.length);
  });
  for (const f of files) {
    it(f, () => {
      const d = parseConformanceData(readFileSync(join(dir, f), "utf8"), { file: f });
      expect(d.asm, "every test has an asm section").toBeDefined();
      const asm = d.asm ?? "";
      expect(detectSyntax(asm)).toBe("conformance");
      const bytes = encode(assemble(asm, { file: f }));
      expect(hex(bytes)).toBe(GOLDENS[f]);
      if (d.raw) expect(hex(bytes)).toBe(hex(d.raw));
    });
  }
});

describe.skipIf(!ROOT)("bpf_conformance negative/*.data", () => {
  const dir = join(ROOT ?? "", "negative");
  const files = ROOT ? readdirSync(dir).filter((f) => f.endsWith(".data")) : [];
  const invalid = files.filter((f) => f.startsWith("invalid_"));
  const unused = files.filter((f) => f.startsWith("unused-"));
  it("has the negative files the suite documents", () => {
    expect(invalid.length).toBe(11);
    expect(unused.length).toBe(45);
  });
  // What each refusal must be about (the suite's `-- error` texts are loose; these are ours).
  const reasons: Record<string, RegExp> = {
    "invalid_imm32_dec_range.data": /immediate 2147483648 is out of range/,
    "invalid_imm32_hex_range.data": /immediate 0x100000000 is out of range/,
    "invalid_label.data": /:4:4: undefined label 'NOT_A_LABEL'/,
    "invalid_lock.data": /Invalid number of operands for lock/,
    "invalid_lock2.data": /Invalid number of operands for lock/,
    "invalid_mnemonic.data": /invalid mnemonic 'ldxq'/,
    "invalid_offset.data": /invalid memory operand '%r1'/,
    "invalid_offset_range.data": /offset \+0x10000 is out of range/,
    "invalid_operand_count.data": /'lddw' takes 2 operands, found 1/,
    "invalid_register.data": /:4:9: invalid register '%r50'/,
    "invalid_unknown_directive.data": /unknown section directive '-- Unknown directive'/,
  };
  for (const f of invalid) {
    it(`refuses ${f}`, () => {
      const text = readFileSync(join(dir, f), "utf8");
      let err: unknown;
      try {
        const d = parseConformanceData(text, { file: f });
        assemble(d.asm ?? "", { file: f, syntax: "conformance", firstLine: d.asmLine });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AsmError);
      expect((err as AsmError).message).toMatch(reasons[f] ?? /^$/);
      expect((err as AsmError).message).toMatch(new RegExp(`^${f.replace(/\./g, "\\.")}:\\d+`));
    });
  }
  for (const f of unused) {
    it(`strictCheck refuses ${f}`, () => {
      const d = parseConformanceData(readFileSync(join(dir, f), "utf8"), { file: f });
      expect(d.raw).toBeDefined();
      const problems = strictCheck(decode(d.raw ?? new Uint8Array()));
      expect(problems.length).toBeGreaterThan(0);
      expect(problems[0].message).toMatch(/uses reserved fields/);
    });
  }
  it("assembles the files that test the runner itself", () => {
    for (const f of ["error.data", "incorrect_return_value_high_bits.data"]) {
      const d = parseConformanceData(readFileSync(join(dir, f), "utf8"), { file: f });
      expect(assemble(d.asm ?? "", { file: f }).length).toBe(2);
    }
  });
});

if (!ROOT) it.skip("bpf_conformance suite not found (../shared or /work/shared): skipped", () => {});
