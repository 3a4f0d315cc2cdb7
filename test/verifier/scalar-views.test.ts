import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { constBounds, isCollapsedConst, viewComparisons as v } from "../../src/verifier/scalar.js";
import { CAST_LIMITS, tnumCast } from "../../src/verifier/tnum.js";

// The sync's comparison shortcuts decide by comparisons what their definitions compute with
// BigInt.asIntN/asUintN and shifts; they must agree on every input, including the bounds one
// past their range (-1, 2^64, S64_MAX + 1) a refinement can leave before the sync.
const U64 = (1n << 64n) - 1n;
const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const EDGES = [
  0n,
  1n,
  -1n,
  U64,
  U64 + 1n,
  1n << 63n,
  (1n << 63n) - 1n,
  -(1n << 63n),
  -(1n << 63n) - 1n,
  0xffff_ffffn,
  0x1_0000_0000n,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_ffff_0000_0000n,
  0xffff_fffe_ffff_ffffn,
  -(1n << 32n),
  -(1n << 32n) - 1n,
];
const big = fc.oneof(
  fc.constantFrom(...EDGES),
  fc.bigInt({ min: -(1n << 63n) - 2n, max: U64 + 2n }),
  fc.bigInt({ min: -(1n << 33n), max: 1n << 33n }),
  fc.constantFrom(...EDGES).chain((e) => fc.bigInt({ min: e - 3n, max: e + 3n })),
);

describe("bounds comparison shortcuts agree with their definitions", () => {
  it("signed/unsigned views and high halves", () => {
    fc.assert(
      fc.property(big, big, (a, b) => {
        expect(v.sLeU(a, b)).toBe(s64(a) <= s64(b));
        expect(v.uLeS(a, b)).toBe(u64(a) <= u64(b));
        expect(v.uLtUofS(a, b)).toBe(a < u64(b));
        expect(v.uOfSLtU(a, b)).toBe(u64(a) < b);
        expect(v.sameHigh(a, b)).toBe(a >> 32n === b >> 32n);
        expect(v.s64u(a)).toBe(s64(a));
        expect(v.u64s(a)).toBe(u64(a));
      }),
      { numRuns: 20000 },
    );
  });
  it("constants: built bounds are collapsed, casts keep the low bytes", () => {
    fc.assert(
      fc.property(big, fc.integer({ min: 1, max: 8 }), (x, size) => {
        const b = constBounds(x);
        const c = u64(x);
        expect([b.umin, b.umax, b.varOff.value, b.varOff.mask]).toEqual([c, c, c, 0n]);
        expect([b.smin, b.smax, b.u32min, b.s32min]).toEqual([
          s64(c),
          s64(c),
          c & 0xffff_ffffn,
          BigInt.asIntN(32, c),
        ]);
        expect(isCollapsedConst(b)).toBe(true);
        const lim = size >= 8 ? U64 : (1n << BigInt(size * 8)) - 1n;
        if (size < 8) expect(CAST_LIMITS[size]).toBe(lim);
        const t = tnumCast({ value: c, mask: 0n }, size);
        expect([t.value, t.mask]).toEqual([c & lim, 0n]);
      }),
      { numRuns: 5000 },
    );
  });
});
