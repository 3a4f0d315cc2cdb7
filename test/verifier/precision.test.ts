import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Instruction, insn, ldImm64 } from "../../src/isa/instruction.js";
import { goldenOf } from "../../src/verifier/diff.js";
import { kernelVerify } from "../../src/verifier/kernel.js";
import { verifyProgram } from "../../src/verifier/verify.js";
import { objectOf } from "./generate.js";

/**
 * Precision tracking against the live kernel: generated XDP programs whose paths split on an
 * unknown value and join again (so states are stored and pruned at the joins), with constants,
 * copies, ALU and stack spills/fills on each side, and then a use of a register whose exact
 * value matters (an offset into a 16-byte map value, or a branch guarding an out-of-bounds
 * access). A precision mark missed on the way back through a join would let a bad path be
 * pruned: a false accept.
 */
const kernelWhy = process.getuid?.() !== 0 ? "not root" : undefined;

const REGS = [1, 4, 5, 9];
const SLOTS = [-16, -24];
const arbReg = fc.constantFrom(...REGS);
const arbImm = fc.integer({ min: -4, max: 24 });

/** One straight-line op on the scratch registers and stack slots. */
const arbOp: fc.Arbitrary<Instruction[]> = fc.oneof(
  fc.tuple(arbReg, arbImm).map(([d, k]) => [insn(0xb7, d, 0, 0, k)]), // rd = k
  fc.tuple(arbReg, arbImm).map(([d, k]) => [insn(0x07, d, 0, 0, k)]), // rd += k
  fc.tuple(arbReg, arbReg).map(([d, s]) => [insn(0xbf, d, s)]), // rd = rs
  fc.tuple(arbReg, arbReg).map(([d, s]) => [insn(0x0f, d, s)]), // rd += rs
  fc.tuple(arbReg, fc.constantFrom(3, 7, 15, 31)).map(([d, k]) => [insn(0x57, d, 0, 0, k)]), // rd &= k
  fc.tuple(arbReg, fc.constantFrom(...SLOTS)).map(([s, off]) => [insn(0x7b, 10, s, off)]), // spill
  fc.tuple(arbReg, fc.constantFrom(...SLOTS)).map(([d, off]) => [insn(0x79, d, 10, off)]), // fill
  fc.tuple(arbReg).map(([d]) => [insn(0xbf, d, 7)]), // rd = unknown
  fc.tuple(arbReg, arbImm).map(([d, k]) => [insn(0x25, d, 0, 1, k), insn(0xb7, d, 0, 0, 0)]), // if rd > k: rd = 0
  fc.constant(0).map(() => [insn(0xb7, 0, 0, 0, 0)]),
);

/** if r7 <op> k { then } else { else }: both sides explored, joining after. */
const arbDiamond: fc.Arbitrary<Instruction[]> = fc
  .tuple(
    fc.constantFrom(0x15, 0x25, 0x35, 0xa5, 0x45),
    fc.integer({ min: 0, max: 40 }),
    fc.array(arbOp, { maxLength: 4 }),
    fc.array(arbOp, { maxLength: 4 }),
  )
  .map(([op, k, a, b]) => {
    const then = a.flat();
    const other = [...b.flat(), insn(0xb7, 0, 0, 0, 0)];
    return [insn(op, 7, 0, then.length + 1, k), ...then, insn(0x05, 0, 0, other.length), ...other];
  });

/** A use of a register's exact value. */
const arbUse: fc.Arbitrary<Instruction[]> = fc.oneof(
  // r2 = map value + rX; r0 = *(u8 *)(r2 + 0)
  arbReg.map((r) => [insn(0xbf, 2, 8), insn(0x0f, 2, r), insn(0x71, 0, 2, 0)]),
  // if rX > k skip the out-of-bounds load
  fc
    .tuple(arbReg, fc.integer({ min: 0, max: 24 }))
    .map(([r, k]) => [insn(0x25, r, 0, 1, k), insn(0x71, 0, 8, 16)]),
  // a stack slot's value as the offset
  fc
    .tuple(fc.constantFrom(...SLOTS))
    .map(([off]) => [insn(0x79, 3, 10, off), insn(0xbf, 2, 8), insn(0x0f, 2, 3), insn(0x71, 0, 2, 0)]),
);

/** A static subprogram the use may call (`call` with imm SUB is patched to reach it). */
const SUB = -999;
const arbSubUse: fc.Arbitrary<{ use: Instruction[]; sub: Instruction[] }> = fc.oneof(
  // the offset as an argument: sub(r1 = rX, r2 = map value) loads r2[r1]
  arbReg.map((r) => ({
    use: [insn(0xbf, 1, r), insn(0xbf, 2, 8), insn(0x85, 0, 1, 0, SUB)],
    sub: [insn(0x0f, 2, 1), insn(0x71, 0, 2, 0), insn(0xb7, 0, 0, 0, 0), insn(0x95)],
  })),
  // the offset as the result: sub(r1 = rX) returns 4 or k by a branch on r1
  fc.tuple(arbReg, fc.integer({ min: 0, max: 6 }), fc.integer({ min: 8, max: 24 })).map(([r, cut, k]) => ({
    use: [
      insn(0xbf, 1, r),
      insn(0x85, 0, 1, 0, SUB),
      insn(0xbf, 2, 8),
      insn(0x0f, 2, 0),
      insn(0x71, 0, 2, 0),
    ],
    sub: [insn(0x25, 1, 0, 2, cut), insn(0xb7, 0, 0, 0, 4), insn(0x95), insn(0xb7, 0, 0, 0, k), insn(0x95)],
  })),
);

const arbJoinProgram: fc.Arbitrary<Instruction[]> = fc
  .tuple(
    fc.array(arbDiamond, { minLength: 1, maxLength: 3 }),
    fc.oneof(
      arbUse.map((use) => ({ use, sub: [] as Instruction[] })),
      arbSubUse,
    ),
  )
  .map(([diamonds, { use, sub }]) => {
    const body = [...diamonds.flat(), ...use, insn(0xb7, 0, 0, 0, 2), insn(0x95)];
    const prefix: Instruction[] = [
      insn(0xbf, 6, 1), // r6 = ctx
      insn(0x7a, 10, 0, -8, 0), // key = 0
      { ...ldImm64(1, 0n), ref: { kind: "map", map: "m" } } as Instruction,
      insn(0xbf, 2, 10),
      insn(0x07, 2, 0, 0, -8),
      insn(0x85, 0, 0, 0, 1), // bpf_map_lookup_elem
    ];
    const rest: Instruction[] = [
      insn(0xbf, 8, 0), // r8 = value (16 bytes)
      insn(0x61, 7, 6, 12), // r7 = ctx->ingress_ifindex (unknown)
      ...REGS.map((r) => insn(0xb7, r, 0, 0, 0)),
      ...SLOTS.map((off) => insn(0x7a, 10, 0, off, 0)),
      ...body,
    ];
    // if r0 == 0 goto the final exit (r0 = 0 there); the subprogram after it
    const main = [...prefix, insn(0x15, 0, 0, rest.length, 0), ...rest, insn(0x95)];
    // slots: ld_imm64 takes two
    const slotOf = (k: number): number => k + (k > 2 ? 1 : 0);
    const subStart = slotOf(main.length);
    return [
      ...main.map((i, k) =>
        i.opcode === 0x85 && i.imm === SUB ? { ...i, imm: subStart - slotOf(k) - 1 } : i,
      ),
      ...sub,
    ];
  });

describe("precision tracking: generated join programs vs the live kernel", () => {
  it.skipIf(kernelWhy !== undefined)(
    "no false accepts; processed counts",
    () => {
      const stats = { n: 0, agree: 0, falseAccepts: 0, falseRejects: 0, accepts: 0, processedExact: 0 };
      const bad: string[] = [];
      fc.assert(
        fc.property(arbJoinProgram, (insns) => {
          const { obj, prog } = objectOf(insns);
          const ours = verifyProgram(obj, prog, { logLevel: 0, maxMillis: 5000 });
          const k = goldenOf("gen", "gen", kernelVerify(obj, prog));
          if (k.unavailable || (ours.error && !ours.error.modelled)) return;
          stats.n++;
          if (ours.verdict === k.verdict) {
            stats.agree++;
            if (k.verdict === "accept") {
              stats.accepts++;
              if (ours.processedInsns === k.processedInsns) stats.processedExact++;
            }
          } else if (ours.verdict === "accept") {
            stats.falseAccepts++;
            bad.push(`${JSON.stringify(insns)} kernel: ${k.message}`);
          } else stats.falseRejects++;
        }),
        {
          numRuns: Number(process.env.TSBPF_PRECISION_RUNS ?? 1500),
          seed: Number(process.env.TSBPF_SEED ?? 11),
        },
      );
      console.log(JSON.stringify({ precision: stats }));
      expect(bad).toEqual([]);
      expect(stats.n).toBeGreaterThan(100);
    },
    600_000,
  );
});
