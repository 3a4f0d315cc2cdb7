/**
 * The bpf_conformance syntax, form by form, against the same instruction written in LLVM syntax
 * (whose encodings are checked against llvm-mc-19 by the fixture tests), and its refusals.
 */
import { describe, expect, it } from "vitest";
import { AsmError } from "../../src/errors.js";
import { assemble, detectSyntax } from "../../src/isa/asm/index.js";
import { encode } from "../../src/isa/codec.js";

const bytes = (text: string, syntax: "llvm" | "conformance"): string =>
  Buffer.from(encode(assemble(text, { syntax }))).toString("hex");

describe("conformance syntax = LLVM syntax", () => {
  const pairs: Array<[string, string]> = [
    ["mov32 %r0, -3", "w0 = -3"],
    ["mov %r1, 0xffffffff", "r1 = -1"],
    ["add32 %r1, %r2", "w1 += w2"],
    ["sdiv %r1, -4", "r1 s/= -4"],
    ["smod32 %r1, %r2", "w1 s%= w2"],
    ["arsh %r1, 3", "r1 s>>= 3"],
    ["neg32 %r3", "w3 = -w3"],
    ["neg %r3", "r3 = -r3"],
    ["be16 %r1", "r1 = be16 r1"],
    ["le64 %r1", "r1 = le64 r1"],
    ["swap32 %r1", "r1 = bswap32 r1"],
    ["bswap64 %r1", "r1 = bswap64 r1"],
    ["movsx832 %r1, %r2", "w1 = (s8)w2"],
    ["movsx1664 %r1, %r2", "r1 = (s16)r2"],
    ["movsx3264 %r1, %r2", "r1 = (s32)r2"],
    ["lddw %r1, 0x1122334455667788", "r1 = 0x1122334455667788 ll"],
    ["ldxb %r0, [%r1+0x2]", "r0 = *(u8 *)(r1 + 2)"],
    ["ldxdw %r0, [%r10-8]", "r0 = *(u64 *)(r10 - 8)"],
    ["ldxh %r0, [%r1]", "r0 = *(u16 *)(r1 + 0)"],
    ["ldxsw %r0, [%r1+4]", "r0 = *(s32 *)(r1 + 4)"],
    ["stb [%r10-1], 0xff", "*(u8 *)(r10 - 1) = 255"],
    ["stxdw [%r10-8], %r1", "*(u64 *)(r10 - 8) = r1"],
    ["lock add [%r10-8], %r1", "lock *(u64 *)(r10 - 8) += r1"],
    ["lock xor32 [%r10-4], %r1", "lock *(u32 *)(r10 - 4) ^= w1"],
    ["lock fetch or [%r10-8], %r1", "r1 = atomic_fetch_or((u64 *)(r10 - 8), r1)"],
    ["lock fetch and32 [%r10-8], %r1", "w1 = atomic_fetch_and((u32 *)(r10 - 8), w1)"],
    ["lock xchg [%r10-8], %r1", "r1 = xchg_64(r10 - 8, r1)"],
    ["lock cmpxchg32 [%r10-8], %r1", "w0 = cmpxchg32_32(r10 - 8, w0, w1)"],
    ["call 5", "call 5"],
    ["call helper 6", "call 6"],
    ["call %r2", "callx r2"],
    ["callx %r3", "callx r3"],
    ["ja +1\nexit\nexit", "goto +1\nexit\nexit"],
    ["ja32 +1\nexit\nexit", "gotol +1\nexit\nexit"],
    ["jsgt32 %r1, -1, +0", "if w1 s> -1 goto +0"],
    ["jset %r1, %r2, -1", "if r1 & r2 goto -1"],
    ["jne %r1, 0, exit\nmov %r0, 1\nexit", "if r1 != 0 goto +1\nr0 = 1\nexit"],
    ["call local f\nexit\nf:\nexit", "call f\nexit\nf:\nexit"],
    ["l: # comment\nja l", "l:\ngoto l"],
  ];
  for (const [conf, llvm] of pairs) {
    it(JSON.stringify(conf), () => {
      expect(bytes(conf, "conformance")).toBe(bytes(llvm, "llvm"));
    });
  }
  it("call runtime N is a kfunc-style call (src 2)", () => {
    expect(assemble("call runtime 7", { syntax: "conformance" })[0]).toEqual({
      opcode: 0x85,
      dst: 0,
      src: 2,
      off: 0,
      imm: 7,
    });
  });
  it("is detected even when the program opens with `call local`", () => {
    expect(detectSyntax("call local f\nexit\nf:\nexit")).toBe("conformance");
  });
});

describe("conformance syntax refusals point at the operand", () => {
  const cases: Array<[string, RegExp, number]> = [
    ["mov32 %r0, 2147483648", /immediate 2147483648 is out of range/, 12],
    ["ldxb %r0, [%r1+0x10000]", /offset \+0x10000 is out of range/, 16],
    ["or %r0, %r50", /invalid register '%r50'/, 9],
    ["ja NOT_A_LABEL", /undefined label 'NOT_A_LABEL'/, 4],
    ["lock or [%r10-8]", /Invalid number of operands for lock/, 1],
    ["lock fetch xchg32", /Invalid number of operands for lock/, 1],
    ["lock sub [%r10-8], %r1", /invalid lock operation 'sub'/, 1],
    ["call bogus 1", /invalid call mode 'bogus'/, 1],
    ["movsx3232 %r1, %r2", /invalid mnemonic 'movsx3232'/, 1],
    ["x:\nx:", /duplicate label 'x'/, 1],
    ["add %r1", /'add' takes 2 operands, found 1/, 1],
    ["exit %r0", /'exit' takes 0 operands, found 1/, 1],
  ];
  for (const [text, msg, col] of cases) {
    it(JSON.stringify(text), () => {
      let err: unknown;
      try {
        assemble(text, { syntax: "conformance" });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(AsmError);
      expect((err as AsmError).message).toMatch(msg);
      expect((err as AsmError).column).toBe(col);
    });
  }
});
