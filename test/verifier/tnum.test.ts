import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Tnum,
  tnumAdd,
  tnumAnd,
  tnumArshift,
  tnumContains,
  tnumIntersect,
  tnumLshift,
  tnumMul,
  tnumOr,
  tnumRange,
  tnumRshift,
  tnumSub,
  tnumXor,
  U64,
} from "../../src/verifier/tnum.js";

// A small tnum with a few unknown bits, and a concrete member of it (brute-force model: every
// member of the inputs must give a member of the output).
const arbTnumWithMember = fc
  .tuple(
    fc.bigInt({ min: 0n, max: U64 }),
    fc.array(fc.integer({ min: 0, max: 63 }), { maxLength: 6 }),
    fc.bigInt({ min: 0n, max: U64 }),
  )
  .map(([v, bits, pick]) => {
    let mask = 0n;
    for (const b of bits) mask |= 1n << BigInt(b);
    const t: Tnum = { value: v & ~mask & U64, mask };
    return { t, x: (t.value | (pick & mask)) & U64 };
  });

const m64 = (x: bigint): bigint => x & U64;

describe("tnum operations are sound for every member", () => {
  const bin: [string, (a: Tnum, b: Tnum) => Tnum, (x: bigint, y: bigint) => bigint][] = [
    ["add", tnumAdd, (x, y) => m64(x + y)],
    ["sub", tnumSub, (x, y) => m64(x - y)],
    ["and", tnumAnd, (x, y) => x & y],
    ["or", tnumOr, (x, y) => x | y],
    ["xor", tnumXor, (x, y) => x ^ y],
    ["mul", tnumMul, (x, y) => m64(x * y)],
  ];
  for (const [name, op, conc] of bin) {
    it(name, () => {
      fc.assert(
        fc.property(arbTnumWithMember, arbTnumWithMember, (a, b) => {
          expect(tnumContains(op(a.t, b.t), conc(a.x, b.x))).toBe(true);
        }),
        { numRuns: 400 },
      );
    });
  }
  it("shifts", () => {
    fc.assert(
      fc.property(arbTnumWithMember, fc.integer({ min: 0, max: 63 }), (a, s) => {
        const S = BigInt(s);
        expect(tnumContains(tnumLshift(a.t, s), m64(a.x << S))).toBe(true);
        expect(tnumContains(tnumRshift(a.t, s), a.x >> S)).toBe(true);
        expect(tnumContains(tnumArshift(a.t, s, 64), m64(BigInt.asIntN(64, a.x) >> S))).toBe(true);
      }),
    );
  });
  it("range contains its bounds and everything between", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: U64 }),
        fc.bigInt({ min: 0n, max: U64 }),
        fc.bigInt({ min: 0n, max: U64 }),
        (a, b, c) => {
          const [lo, hi] = a < b ? [a, b] : [b, a];
          const t = tnumRange(lo, hi);
          const mid = lo + (c % (hi - lo + 1n));
          expect(tnumContains(t, lo) && tnumContains(t, hi) && tnumContains(t, mid)).toBe(true);
        },
      ),
    );
  });
  it("intersect keeps common members", () => {
    fc.assert(
      fc.property(arbTnumWithMember, arbTnumWithMember, (a, b) => {
        if (tnumContains(b.t, a.x)) expect(tnumContains(tnumIntersect(a.t, b.t), a.x)).toBe(true);
      }),
    );
  });
});
