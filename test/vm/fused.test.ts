/**
 * The interpreter's fused pair `rD = rS; rD += imm` (code.ts OP_FUSED_MOV_ADD) against the fast
 * path, which runs code.op and so never the fused form: same registers, budget use and faults,
 * including a budget that ends between the two and a jump into the second.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Instruction, insn } from "../../src/isa/instruction.js";
import { compile, OP_FUSED_MOV_ADD, OP_FUSED_MOV32_JGT, OP_FUSED_MOV32_JNE32 } from "../../src/vm/code.js";
import { VmFault } from "../../src/vm/errors.js";
import { createVm, type VmEngine } from "../../src/vm/interpreter.js";
import { Memory } from "../../src/vm/memory.js";

const EXIT = insn(0x95);

function outcome(
  prog: readonly Instruction[],
  args: bigint[],
  budget: number,
  engine: VmEngine = "interp",
): unknown {
  try {
    const r = createVm(prog, { memory: new Memory() }, { engine }).run({ args, budget });
    return { r0: r.r0, insns: r.insns };
  } catch (e) {
    if (!(e instanceof VmFault)) throw e;
    return { fault: e.kind, insn: e.insn };
  }
}

describe("fused mov + add", () => {
  it("is fused where the pair is, and only there", () => {
    const code = compile(
      [insn(0xbf, 2, 1), insn(0x07, 2, 0, 0, 5), insn(0xbf, 3, 1), insn(0x07, 4, 0, 0, 1), EXIT],
      {
        memory: new Memory(),
      },
      true,
    );
    expect(code.word[0] & 0xff).toBe(OP_FUSED_MOV_ADD);
    expect(code.word[2] & 0xff).toBe(0xbf); // different destination: not fused
    expect(code.op[0]).toBe(0xbf);
  });

  it("a real 0x01 opcode still faults as an unknown opcode", () => {
    expect(outcome([insn(0x01, 0, 0, 0, 0), EXIT], [], 10)).toEqual({ fault: "invalid-insn", insn: 0 });
  });

  it("gives what the fast path (which runs code.op, never fused) gives, for any operands and budget", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.integer({ min: 0, max: 5 }),
        fc.boolean(),
        (x, imm, budget, same) => {
          // r0 = r1 + imm, or r2 = r2 + imm (source = destination) then r0 = r2
          const prog = same
            ? [insn(0xbf, 2, 2), insn(0x07, 2, 0, 0, imm), insn(0xbf, 0, 2), EXIT]
            : [insn(0xbf, 0, 1), insn(0x07, 0, 0, 0, imm), EXIT];
          const a = outcome(prog, [x, x], budget, "interp");
          expect(a).toEqual(outcome(prog, [x, x], budget, "jit"));
          if (budget === 1) expect(a).toEqual({ fault: "budget", insn: 1 });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a jump into the add runs it alone", () => {
    // r1 = 10; goto add; r2 = r1 (fused with the add); add: r2 += 5; r0 = r2
    const prog = [
      insn(0xb7, 1, 0, 0, 10),
      insn(0x05, 0, 0, 1),
      insn(0xbf, 2, 1),
      insn(0x07, 2, 0, 0, 5),
      insn(0xbf, 0, 2),
      EXIT,
    ];
    expect(outcome(prog, [], 100)).toEqual({ r0: 5n, insns: 5 });
  });
});

describe("fused mov32 imm + conditional jump", () => {
  it("is fused before jgt reg and jne32 imm, and only there", () => {
    const code = compile(
      [
        insn(0xb4, 0, 0, 0, 1),
        insn(0x2d, 1, 2, 1),
        insn(0xb4, 0, 0, 0, 2),
        insn(0x56, 1, 0, 0, 8),
        insn(0xb4, 0, 0, 0, 3),
        insn(0x25, 1, 0, 0, 8), // jgt imm: not fused
        EXIT,
      ],
      { memory: new Memory() },
      true,
    );
    expect(code.word[0] & 0xff).toBe(OP_FUSED_MOV32_JGT);
    expect(code.word[2] & 0xff).toBe(OP_FUSED_MOV32_JNE32);
    expect(code.word[4] & 0xff).toBe(0xb4);
    expect([code.op[0], code.op[2]]).toEqual([0xb4, 0xb4]);
  });

  it("real 0x09 and 0x11 opcodes still fault as unknown opcodes", () => {
    expect(outcome([insn(0x09, 0, 0, 0, 0), EXIT], [], 10)).toEqual({ fault: "invalid-insn", insn: 0 });
    expect(outcome([insn(0x11, 0, 0, 0, 0), EXIT], [], 10)).toEqual({ fault: "invalid-insn", insn: 0 });
  });

  it("gives what the fast path (which runs code.op, never fused) gives, for any operands and budget", () => {
    const reg = fc.integer({ min: 0, max: 3 });
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.tuple(reg, reg, reg),
        fc.boolean(),
        fc.integer({ min: 0, max: 6 }),
        (x, y, movImm, cmpImm, [d, a, b], jgt, budget) => {
          // wD = movImm; if (rA > rB | wA != cmpImm) goto +1; r0 = 7; exit / r0 = rD ^ rA (the
          // jump may read the register the mov wrote); registers r0-r3 start as x, y, x, y
          const jump = jgt ? insn(0x2d, a, b, 2) : insn(0x56, a, 0, 2, cmpImm);
          const prog = [
            insn(0xbf, 2, 1),
            insn(0xbf, 3, 2),
            insn(0xb4, d, 0, 0, movImm),
            jump,
            insn(0xb7, 0, 0, 0, 7),
            EXIT,
            insn(0xbf, 0, d),
            insn(0xaf, 0, a),
            EXIT,
          ];
          const args = [x, y];
          const r = outcome(prog, args, budget, "interp");
          expect(r).toEqual(outcome(prog, args, budget, "jit"));
          if (budget === 3) expect(r).toEqual({ fault: "budget", insn: 3 });
        },
      ),
      { numRuns: 400 },
    );
  });

  it("a jump into the conditional jump runs it alone", () => {
    // r1 = 10; goto jgt; w0 = 5 (fused with the jump); jgt: if r1 > r2 goto +1; exit; r0 = 1; exit
    const prog = [
      insn(0xb7, 1, 0, 0, 10),
      insn(0x05, 0, 0, 1),
      insn(0xb4, 0, 0, 0, 5),
      insn(0x2d, 1, 2, 1),
      EXIT,
      insn(0xb7, 0, 0, 0, 1),
      EXIT,
    ];
    expect(outcome(prog, [], 100)).toEqual({ r0: 1n, insns: 5 });
  });
});
