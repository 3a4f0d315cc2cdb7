/**
 * Differential property test: every ALU/ALU64 and JMP/JMP32 operation of the interpreter (which
 * works on 32-bit halves) against a straightforward BigInt model written from RFC 9669.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Instruction, insn, ldImm64 } from "../../src/isa/instruction.js";
import { createVm } from "../../src/vm/interpreter.js";
import { Memory } from "../../src/vm/memory.js";

const M64 = (1n << 64n) - 1n;
const u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v);
const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);
const s32 = (v: bigint): bigint => BigInt.asIntN(32, v);

function swap(v: bigint, bytes: number): bigint {
  let out = 0n;
  for (let i = 0; i < bytes; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** The RFC's meaning of `dst op= src` (src already chosen: register or sign-extended imm). */
function refAlu(code: number, is64: boolean, off: number, dst: bigint, src: bigint, imm: number): bigint {
  const bits = is64 ? 64 : 32;
  const U = (v: bigint): bigint => BigInt.asUintN(bits, v);
  const S = (v: bigint): bigint => BigInt.asIntN(bits, v);
  const a = U(dst);
  const b = U(src);
  const mask = BigInt(bits - 1);
  let r: bigint;
  switch (code) {
    case 0x00:
      r = a + b;
      break;
    case 0x10:
      r = a - b;
      break;
    case 0x20:
      r = a * b;
      break;
    case 0x30:
      if (off === 1) r = b === 0n ? 0n : S(a) / S(b);
      else r = b === 0n ? 0n : a / b;
      break;
    case 0x40:
      r = a | b;
      break;
    case 0x50:
      r = a & b;
      break;
    case 0x60:
      r = a << (b & mask);
      break;
    case 0x70:
      r = a >> (b & mask);
      break;
    case 0x80:
      r = -a;
      break;
    case 0x90:
      if (off === 1) r = b === 0n ? a : S(a) % S(b);
      else r = b === 0n ? a : a % b;
      break;
    case 0xa0:
      r = a ^ b;
      break;
    case 0xb0:
      if (off === 8) r = BigInt.asIntN(8, src);
      else if (off === 16) r = BigInt.asIntN(16, src);
      else if (off === 32) r = BigInt.asIntN(32, src);
      else r = b;
      break;
    case 0xc0:
      r = S(a) >> (b & mask);
      break;
    default: {
      // end: ALU class le (src bit 0) / be (src bit 8); ALU64 bswap
      const w = BigInt(imm);
      const t = BigInt.asUintN(imm, dst);
      r = code === 0xd0 ? t : swap(t, imm / 8);
      return u64(r) & ((1n << w) - 1n);
    }
  }
  return u64(U(r));
}

function runProgram(insns: Instruction[]): bigint {
  const vm = createVm(insns, { memory: new Memory() });
  return vm.run().r0;
}

const u64Arb = fc.oneof(
  fc.bigInt({ min: 0n, max: M64 }),
  fc.constantFrom(0n, 1n, M64, 1n << 63n, (1n << 63n) - 1n, 0xffffffffn, 0x80000000n, 0x7fffffffn, 1n << 32n),
  fc.bigInt({ min: 0n, max: 0xffffffffn }),
  fc.bigInt({ min: 0n, max: 0xffn }),
);
const immArb = fc.oneof(
  fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  fc.constantFrom(0, 1, -1, 0x7fffffff, -0x80000000, 31, 32, 63, 64),
  fc.integer({ min: -70, max: 70 }),
);

describe("ALU against a BigInt model of RFC 9669", () => {
  const ops = [0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0];
  it("register and immediate forms, 32 and 64 bits, signed variants", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ops),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(0, 1, 8, 16, 32),
        u64Arb,
        u64Arb,
        immArb,
        (code, is64, useReg, off, a, b, imm) => {
          let o = off;
          if (code === 0x30 || code === 0x90) o = off === 1 ? 1 : 0;
          else if (code === 0xb0) o = useReg && off !== 1 && (is64 || off !== 32) ? off : 0;
          else o = 0;
          const cls = is64 ? 0x07 : 0x04;
          const reg = useReg && code !== 0x80;
          const opcode = cls | code | (reg ? 0x08 : 0);
          const prog = [
            ldImm64(1, a),
            ldImm64(2, b),
            reg ? insn(opcode, 1, 2, o, 0) : insn(opcode, 1, 0, o, code === 0x80 ? 0 : imm),
            insn(0xbf, 0, 1),
            insn(0x95),
          ];
          const src = reg ? b : is64 ? u64(BigInt(imm)) : u32(BigInt(imm));
          const want = refAlu(code, is64, o, a, code === 0x80 ? 0n : src, 0);
          expect(runProgram(prog)).toBe(want);
        },
      ),
      { numRuns: 4000 },
    );
  });

  it("64-bit div/mod (signed and unsigned) of wide dividends by divisors of every width", () => {
    const divisor = fc.oneof(
      fc.bigInt({ min: 1n, max: 0xffffffffn }),
      fc.bigInt({ min: BigInt.asUintN(64, -0xffffffffn), max: M64 }),
      fc.constantFrom(1n, M64, 0x80000000n, BigInt.asUintN(64, -0x80000000n), 1n << 32n, 0xffffffffn),
      fc.bigInt({ min: 0n, max: M64 }),
    );
    fc.assert(
      fc.property(fc.constantFrom(0x30, 0x90), fc.constantFrom(0, 1), u64Arb, divisor, (code, off, a, b) => {
        const prog = [
          ldImm64(1, a),
          ldImm64(2, b),
          insn(0x07 | code | 0x08, 1, 2, off, 0),
          insn(0xbf, 0, 1),
          insn(0x95),
        ];
        expect(runProgram(prog)).toBe(refAlu(code, true, off, a, b, 0));
      }),
      { numRuns: 4000 },
    );
  });

  it("byte swaps: le/be (ALU) and bswap (ALU64) of 16, 32, 64 bits", () => {
    fc.assert(
      fc.property(fc.constantFrom(0xd4, 0xdc, 0xd7), fc.constantFrom(16, 32, 64), u64Arb, (opcode, w, a) => {
        const prog = [ldImm64(0, a), insn(opcode, 0, 0, 0, w), insn(0x95)];
        const code = opcode === 0xd4 ? 0xd0 : 0xd8;
        expect(runProgram(prog)).toBe(refAlu(code, true, 0, a, 0n, w));
      }),
      { numRuns: 500 },
    );
  });
});

function refJump(code: number, is64: boolean, a: bigint, b: bigint): boolean {
  const U = is64 ? u64 : u32;
  const S = is64 ? s64 : s32;
  switch (code) {
    case 0x10:
      return U(a) === U(b);
    case 0x20:
      return U(a) > U(b);
    case 0x30:
      return U(a) >= U(b);
    case 0x40:
      return (U(a) & U(b)) !== 0n;
    case 0x50:
      return U(a) !== U(b);
    case 0x60:
      return S(a) > S(b);
    case 0x70:
      return S(a) >= S(b);
    case 0xa0:
      return U(a) < U(b);
    case 0xb0:
      return U(a) <= U(b);
    case 0xc0:
      return S(a) < S(b);
    default:
      return S(a) <= S(b);
  }
}

describe("conditional jumps against a BigInt model", () => {
  it("JMP and JMP32, register and immediate, signed and unsigned", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0),
        fc.boolean(),
        fc.boolean(),
        u64Arb,
        u64Arb,
        immArb,
        (code, is64, useReg, a, b, imm) => {
          const opcode = (is64 ? 0x05 : 0x06) | code | (useReg ? 0x08 : 0);
          const prog = [
            ldImm64(1, a),
            ldImm64(2, b),
            insn(0xb7, 0, 0, 0, 0),
            useReg ? insn(opcode, 1, 2, 1, 0) : insn(opcode, 1, 0, 1, imm),
            insn(0x95),
            insn(0xb7, 0, 0, 0, 1),
            insn(0x95),
          ];
          const other = useReg ? b : u64(BigInt(imm));
          expect(runProgram(prog)).toBe(refJump(code, is64, a, other) ? 1n : 0n);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
