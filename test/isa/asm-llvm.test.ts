/**
 * The LLVM-syntax front end: refusals (each checked against llvm-mc-19 when written: it refuses
 * the same text, except where it silently truncates an immediate and we refuse instead),
 * error positions, symbolic references, and the objdump-output and syntax-detection paths.
 */
import { describe, expect, it } from "vitest";
import { AsmError } from "../../src/errors.js";
import { assemble, assembleModule, detectSyntax } from "../../src/isa/asm/index.js";
import { encode } from "../../src/isa/codec.js";

const hex = (text: string, syntax: "llvm" | "objdump" | "auto" = "llvm"): string =>
  Buffer.from(encode(assemble(text, { syntax }))).toString("hex");

function refusal(text: string, syntax: "llvm" | "objdump" | "conformance" = "llvm"): AsmError {
  try {
    assemble(text, { syntax, file: "t.s" });
  } catch (e) {
    if (e instanceof AsmError) return e;
    throw e;
  }
  throw new Error(`assembled: ${text}`);
}

describe("LLVM syntax refusals", () => {
  // [text, code, message pattern, column]
  const cases: Array<[string, string, RegExp, number]> = [
    ["\tnop", "E_ASM_MNEMONIC", /unknown instruction 'nop'/, 2],
    ["\tr12 = 1", "E_ASM_REGISTER", /bad register 'r12'/, 2],
    ["\tw1 = r1", "E_ASM_REGISTER", /same width/, 7],
    ["\tr1 = *(u32 *)(r1 + -8)", "E_ASM_RANGE", /'\+ N' or '- N'/, 21],
    ["\tr1 = *(u64 *)(r1 + 32768)", "E_ASM_RANGE", /offset 32768 is out of range/, 21],
    ["\tr1 = *(u8 *)(r1)", "E_ASM_SYNTAX", /expected '\+ offset'/, 17],
    ["\tw1 = *(u64 *)(r1 + 0)", "E_ASM_REGISTER", /64-bit load needs an r register/, 2],
    ["\tw1 = *(s8 *)(r1 + 0)", "E_ASM_REGISTER", /sign-extending loads need an r register/, 2],
    ["\t*(u64 *)(r1 + 0) = w2", "E_ASM_REGISTER", /64-bit store needs an r register/, 21],
    ["\tlock *(u16 *)(r1 + 0) += w2", "E_ASM_LOCK", /32 or 64 bits/, 9],
    ["\tlock *(u64 *)(r1 + 0) -= r2", "E_ASM_LOCK", /expected \+=, \|=, &= or \^=/, 24],
    ["\tlock *(u64 *)(r1 + 0) += w2", "E_ASM_REGISTER", /needs an r register/, 27],
    ["\tlock *(u32 *)(r1 + 0) |= r2", "E_ASM_REGISTER", /32-bit lock \|= needs a w register/, 27],
    [
      "\tr2 = atomic_fetch_add((u64 *)(r1 + 0), r0)",
      "E_ASM_REGISTER",
      /result register must be the value register/,
      41,
    ],
    ["\tr1 = xchg_64(r1 + 0, r2)", "E_ASM_REGISTER", /result register/, 23],
    ["\tr1 = cmpxchg_64(r1 + 0, r0, r2)", "E_ASM_REGISTER", /r0/, 26],
    ["\tr1 = be16 r2", "E_ASM_REGISTER", /same register/, 12],
    ["\tw1 = be32 w1", "E_ASM_REGISTER", /r registers/, 2],
    ["\tw1 = (s32)w2", "E_ASM_SYNTAX", /\(s32\)/, 8],
    ["\tr1 = 0x100000000", "E_ASM_RANGE", /out of range/, 7],
    ["\tr1 = -2147483649", "E_ASM_RANGE", /out of range/, 7],
    ["\tr1 = 0x10000000000000000 ll", "E_ASM_RANGE", /64 bits/, 7],
    ["\tw1 = 1 ll", "E_ASM_REGISTER", /needs an r register/, 2],
    ["\tr1 = data1", "E_ASM_EXPR", /needs 'll'/, 7],
    ["\tgoto +32768", "E_ASM_RANGE", /jump offset 32768/, 7],
    ["\tif r1 == w2 goto +1", "E_ASM_REGISTER", /same width/, 11],
    ["\tif r1 =! r2 goto +1", "E_ASM_SYNTAX", /expected a comparison/, 8],
    ["\tif r1 > r2 +1", "E_ASM_SYNTAX", /expected 'goto'/, 13],
    ["\tcall r2", "E_ASM_SYNTAX", /callx rN/, 7],
    ["\tcallx w2", "E_ASM_REGISTER", /64-bit register/, 8],
    ["\tr0 = *(u64 *)skb[1]", "E_ASM_SYNTAX", /u8, u16 or u32/, 9],
    ["\tr1 = *(u8 *)skb[1]", "E_ASM_REGISTER", /write r0/, 2],
    ["\texit r0", "E_ASM_SYNTAX", /unexpected 'r0' after the operands/, 7],
    ["\tgoto nowhere", "E_ASM_UNDEFINED", /undefined label 'nowhere'/, 7],
    ["\tgoto 1f", "E_ASM_UNDEFINED", /undefined label '1f'/, 7],
    ["\tgoto 2b", "E_ASM_UNDEFINED", /no numeric label '2:' before '2b'/, 7],
    ["\t.frobnicate 1", "E_ASM_DIRECTIVE", /unknown directive '.frobnicate'/, 2],
    ['\t.section foo,"q",@progbits', "E_ASM_DIRECTIVE", /unknown section flag 'q'/, 15],
    ["x:\nx:", "E_ASM_LABEL", /already defined \(first defined at line 1\)/, 1],
    ["\t.byte 256", "E_ASM_RANGE", /does not fit in 1 byte/, 0],
    ["\t.loc 3 10 2\n\texit", "E_ASM_DIRECTIVE", /unassigned file number 3/, 7],
    ["\t.cfi_endproc", "E_ASM_DIRECTIVE", /without .cfi_startproc/, 0],
    ["\t.cfi_startproc\n\t.cfi_startproc", "E_ASM_DIRECTIVE", /inside another procedure/, 0],
    ['\t.ascii "abc', "E_ASM_STRING", /unterminated string/, 9],
    ["\tr1 = 1 % 0", "E_ASM_EXPR", /division by zero/, 9],
    // After the first token llvm-mc matches keywords and registers exactly.
    ["\tIF r1 > r2 GOTO +1", "E_ASM_SYNTAX", /expected 'goto'/, 13],
    ["\tr1 = R2", "E_ASM_EXPR", /symbol 'R2' needs 'll'/, 7],
    ["\tr1 = *(U32 *)(r1 + 0)", "E_ASM_SYNTAX", /expected a size/, 9],
    ["\tr1 = 5ll", "E_ASM_NUMBER", /write '5 ll' with a space/, 7],
  ];
  for (const [text, code, msg, col] of cases) {
    it(JSON.stringify(text), () => {
      const e = refusal(text);
      expect(e.code).toBe(code);
      expect(e.message).toMatch(msg);
      if (col > 0) expect(e.column).toBe(col);
      expect(e.line).toBeGreaterThanOrEqual(1);
      expect(e.message.startsWith(`t.s:${e.line}`)).toBe(true);
    });
  }

  it("names the right line in a longer text", () => {
    const e = refusal("\tr0 = 0\n# comment\n\n\tr0 = *(u8 *)(r1 + 99999)\n\texit\n");
    expect(e.line).toBe(4);
  });
});

describe("LLVM syntax: what clang writes that llvm-mc does not read", () => {
  it("matches the first token case-insensitively, as llvm-mc does", () => {
    expect(hex("\tEXIT")).toBe(hex("exit"));
    expect(hex("\tR1 = 2")).toBe(hex("r1 = 2"));
    expect(hex("\tIF r1 > r2 goto +1")).toBe(hex("if r1 > r2 goto +1"));
  });
  it("reads `rX = wY` (clang's zero-extending move) as `wX = wY`", () => {
    expect(hex("r1 = w0")).toBe(hex("w1 = w0"));
    expect(hex("r1 = w0")).toBe("bc01000000000000");
  });
});

describe("symbolic operands", () => {
  const text = [
    "\t.text",
    "f:",
    "\tr1 = map ll",
    "\tr2 = local_data + 8 ll",
    "\tcall sub",
    "\tcall ext",
    "\tcall 6",
    "\texit",
    "sub:",
    "\texit",
    "\t.data",
    "local_data:",
    "\t.quad 1, 2",
  ].join("\n");
  it("carries refs and leaves helper calls alone", () => {
    const insns = assemble(text);
    expect(insns[0].ref).toEqual({ kind: "symbol", symbol: "map" });
    expect(insns[1].ref).toEqual({ kind: "symbol", symbol: "local_data", section: ".data" });
    // A local symbol is relocated against its section: the addend is its offset plus 8.
    expect(insns[1].imm).toBe(8);
    expect(insns[2].ref).toEqual({ kind: "subprog", symbol: "sub" });
    expect(insns[2].src).toBe(1);
    expect(insns[2].imm).toBe(3); // resolved in place: sub is 4 slots after, minus one
    expect(insns[3].ref).toEqual({ kind: "extern", symbol: "ext" });
    expect(insns[3].imm).toBe(-1);
    expect(insns[4].ref).toBeUndefined();
    expect(insns[4].src).toBe(0);
  });
  it("makes the relocations llvm-mc makes", () => {
    const m = assembleModule(text);
    const t = m.sections.find((s) => s.name === ".text");
    expect(t?.relocations).toEqual([
      { offset: 0, type: 1, symbol: "map", section: false },
      { offset: 16, type: 1, symbol: ".data", section: true },
      { offset: 40, type: 10, symbol: "ext", section: false },
    ]);
  });
});

describe("objdump -d output as input", () => {
  const listing = [
    "",
    "x.o:\tfile format elf64-bpf",
    "",
    "Disassembly of section .text:",
    "",
    "0000000000000000 <f>:",
    "       0:\t85 00 00 00 01 00 00 00\tcall 0x1",
    "       1:\t15 00 02 00 00 00 00 00\tif r0 == 0x0 goto +0x2 <L1>",
    "       2:\t18 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00\tr1 = 0x0 ll",
    "\t\t0000000000000010:  R_BPF_64_64\tcounts",
    "",
    "0000000000000020 <L1>:",
    "       4:\t95 00 00 00 00 00 00 00\texit",
  ].join("\n");
  it("is detected and read, with its relocations", () => {
    expect(detectSyntax(listing)).toBe("objdump");
    const m = assembleModule(listing);
    const t = m.sections.find((s) => s.name === ".text");
    expect(t?.insns.length).toBe(4);
    expect(t?.relocations).toEqual([{ offset: 16, type: 1, symbol: "counts", section: false }]);
    expect(t?.insns[2].ref).toEqual({ kind: "symbol", symbol: "counts" });
    expect(hex(listing, "auto")).toBe(hex("call 1\nif r0 == 0 goto +2\nr1 = 0 ll\nexit"));
  });
  it("refuses raw bytes that are not the text's encoding, naming the line", () => {
    const bad = listing.replace("85 00 00 00 01", "85 00 00 00 02");
    const e = refusal(bad, "objdump");
    expect(e.code).toBe("E_ASM_BYTES");
    expect(e.line).toBe(7);
    expect(e.message).toMatch(/do not match 'call 0x1'/);
  });
  it("refuses a wrong annotation, a wrong slot number and a wrong label address", () => {
    expect(refusal(listing.replace("<L1>", "<f>"), "objdump").code).toBe("E_ASM_NOTE");
    expect(refusal(listing.replace("       4:", "       5:"), "objdump").code).toBe("E_ASM_ADDRESS");
    expect(refusal(listing.replace("0000000000000020 <L1>", "0000000000000028 <L1>"), "objdump").code).toBe(
      "E_ASM_ADDRESS",
    );
  });
  it("reads `...` (a run of zero bytes llvm-objdump skipped) up to the next address", () => {
    const zeros = [
      "0000000000000000 <.text>:",
      "       0:\tb7 00 00 00 00 00 00 00\tr0 = 0x0",
      "\t\t...",
      "       9:\t95 00 00 00 00 00 00 00\texit",
    ].join("\n");
    const t = assembleModule(zeros, { syntax: "objdump" }).sections[0];
    // The zero bytes are slots of the section (opcode 0, which llvm-objdump elides as `...`).
    expect(t.insnOffsets).toEqual([0, 8, 16, 24, 32, 40, 48, 56, 64, 72]);
    expect(t.insns[9].opcode).toBe(0x95);
    expect(t.size).toBe(80);
    expect([...t.data.subarray(8, 72)].every((b) => b === 0)).toBe(true);
  });
  it("counts .byte lines in a code section as the instructions they encode", () => {
    const insns = assemble("\tr0 = 1\n\t.byte 0x95, 0, 0, 0, 0, 0, 0, 0\n", { syntax: "llvm" });
    expect(insns).toEqual([assemble("r0 = 1")[0], { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]);
  });
  it("refuses an instruction that is not 8-byte aligned", () => {
    expect(refusal("\tr0 = 0\n\t.byte 1\n\texit\n").code).toBe("E_ASM_ALIGN");
  });
  it("takes the src of `call N` from the bytes (helper and bpf-to-bpf calls print alike)", () => {
    const insns = assemble("       0:\t85 10 00 00 ff ff ff ff\tcall -0x1\n", { syntax: "objdump" });
    expect(insns[0].src).toBe(1);
  });
});

describe("syntax detection", () => {
  it("tells the three syntaxes apart", () => {
    expect(detectSyntax("mov32 %r0, 0\nexit")).toBe("conformance");
    expect(detectSyntax("\tr0 = 0\n\texit")).toBe("llvm");
    expect(detectSyntax("exit")).toBe("llvm");
    expect(detectSyntax("ldxdw %r0, [%r1]\nexit")).toBe("conformance");
    expect(detectSyntax("       0:\t95 00 00 00 00 00 00 00\texit")).toBe("objdump");
    expect(detectSyntax("       0:\tr0 = 0x1\n       1:\texit")).toBe("objdump");
    expect(hex("       0:\tr0 = 0x1\n       1:\texit", "auto")).toBe(hex("r0 = 1\nexit"));
  });
});
