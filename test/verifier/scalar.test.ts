import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COND_OPS, type CondOp, refine, scalarBranchTaken } from "../../src/verifier/branch.js";
import {
  type AluOp,
  alu32,
  alu64,
  alu64Bounds,
  type Bounds,
  boundsContain,
  constBounds,
  constFold,
  syncBounds,
  syncBoundsFull,
  unknownBounds,
} from "../../src/verifier/scalar.js";
import { TNUM_UNKNOWN, tnumConst, U32, U64 } from "../../src/verifier/tnum.js";

// Bounds built from a random interval around a concrete member, so properties can check that
// every abstract operation keeps the concrete result inside.
const arbBoundsWithMember = fc
  .tuple(
    fc.bigInt({ min: 0n, max: U64 }),
    fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 300n }), fc.bigInt({ min: 0n, max: U64 })),
    fc.nat(1000),
  )
  .map(([x, span, pick]) => {
    const b: Bounds = unknownBounds();
    const lo = x >= span ? x - span : 0n;
    const hi = clampU64(x + span);
    b.umin = lo;
    b.umax = hi;
    syncBounds(b);
    void pick;
    return { b, x };
  });

function clampU64(v: bigint): bigint {
  if (v > U64) return U64;
  return v;
}

const OPS: AluOp[] = ["add", "sub", "mul", "div", "mod", "or", "and", "lsh", "rsh", "arsh", "xor"];

describe("scalar ALU keeps concrete results within the bounds", () => {
  it("64-bit", () => {
    fc.assert(
      fc.property(arbBoundsWithMember, arbBoundsWithMember, fc.constantFrom(...OPS), (a, b, op) => {
        if ((op === "lsh" || op === "rsh" || op === "arsh") && b.x >= 64n) return;
        const d = { ...a.b };
        alu64(op, d, { ...b.b });
        expect(boundsContain(d, constFold(op, a.x, b.x, 64))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
  it("32-bit (zero-extended result)", () => {
    fc.assert(
      fc.property(arbBoundsWithMember, arbBoundsWithMember, fc.constantFrom(...OPS), (a, b, op) => {
        if ((op === "lsh" || op === "rsh" || op === "arsh") && (b.x & 0xffffffffn) >= 32n) return;
        const d = { ...a.b };
        alu32(op, d, { ...b.b });
        expect(boundsContain(d, constFold(op, a.x, b.x, 32))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("alu64's constant fast path", () => {
  // constants near the edges of every signed/unsigned 32/64-bit range, and anything
  const edge = fc.oneof(
    fc.constantFrom(0n, 1n, 2n, 31n, 32n, 63n, 64n, 0x7fff_ffffn, 0x8000_0000n, 0xffff_ffffn, 1n << 32n),
    fc.constantFrom(1n << 63n, (1n << 63n) - 1n, U64, U64 - 1n),
    fc.bigInt({ min: 0n, max: 0xffffn }),
    fc.bigInt({ min: 0n, max: U64 }),
  );
  it("gives what the general path gives for two constants", () => {
    fc.assert(
      fc.property(edge, edge, fc.constantFrom(...OPS), (x, y, op) => {
        const fast = constBounds(x);
        alu64(op, fast, constBounds(y));
        const slow = constBounds(x);
        alu64Bounds(op, slow, constBounds(y));
        expect(fast).toEqual(slow);
      }),
      { numRuns: 20000 },
    );
  });
});

describe("syncBounds' fast paths", () => {
  const edge64 = fc.oneof(
    fc.constantFrom(
      0n,
      1n,
      0xffff_ffffn,
      1n << 32n,
      (1n << 32n) + 5n,
      1n << 63n,
      (1n << 63n) - 1n,
      U64,
      U64 - 1n,
    ),
    fc.bigInt({ min: 0n, max: 0xffffn }),
    fc.bigInt({ min: U64 - 0xffffn, max: U64 }),
    fc.bigInt({ min: 0n, max: U64 }),
  );
  const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
  // an unknown or constant tnum, random 64-bit bounds (possibly empty), full or random 32-bit ones
  const arb = fc
    .tuple(
      edge64,
      edge64,
      edge64,
      edge64,
      fc.boolean(),
      fc.option(edge64),
      fc.tuple(edge64, edge64),
      fc.nat(3),
    )
    .map(([a, b0, c, d, full32, k, [e, f], pick]): Bounds => {
      // a single unsigned value a quarter of the time, with full signed bounds half of those
      const b = pick === 0 ? a : b0;
      if (pick === 0 && e < f) [c, d] = [1n << 63n, (1n << 63n) - 1n];
      const r = unknownBounds();
      // unknown, a constant, or (pick 1) a run of unknown low bits over a known value
      r.varOff = k === null ? TNUM_UNKNOWN : tnumConst(k);
      if (pick === 1 && k !== null) {
        const m = (1n << (k % 40n)) - 1n;
        r.varOff = { value: (a >> (k % 64n)) & ~m, mask: m };
      }
      // ordered pairs (possibly empty ranges come from the 32-bit side)
      [r.umin, r.umax] = a < b ? [a, b] : [b, a];
      [r.smin, r.smax] = s64(c) < s64(d) ? [s64(c), s64(d)] : [s64(d), s64(c)];
      if (!full32) {
        r.u32min = e & U32;
        r.u32max = f & U32;
      }
      return r;
    });
  it("give what the full sync gives", () => {
    fc.assert(
      fc.property(arb, (b) => {
        const fast = { ...b };
        syncBounds(fast);
        const full = { ...b };
        syncBoundsFull(full);
        expect(fast).toEqual(full);
      }),
      { numRuns: 30000 },
    );
  });
});

function holds(op: CondOp, x: bigint, y: bigint, is32: boolean): boolean {
  const bits = is32 ? 32 : 64;
  const ux = BigInt.asUintN(bits, x);
  const uy = BigInt.asUintN(bits, y);
  const sx = BigInt.asIntN(bits, x);
  const sy = BigInt.asIntN(bits, y);
  switch (op) {
    case "jeq":
      return ux === uy;
    case "jne":
      return ux !== uy;
    case "jgt":
      return ux > uy;
    case "jge":
      return ux >= uy;
    case "jlt":
      return ux < uy;
    case "jle":
      return ux <= uy;
    case "jsgt":
      return sx > sy;
    case "jsge":
      return sx >= sy;
    case "jslt":
      return sx < sy;
    case "jsle":
      return sx <= sy;
    case "jset":
      return (ux & uy) !== 0n;
  }
}

describe("branches", () => {
  it("is_branch_taken never contradicts a concrete pair, and refinement keeps it", () => {
    fc.assert(
      fc.property(
        arbBoundsWithMember,
        arbBoundsWithMember,
        fc.constantFrom(...Object.values(COND_OPS)),
        fc.boolean(),
        (a, b, op, is32) => {
          const h = holds(op, a.x, b.x, is32);
          const taken = scalarBranchTaken(a.b, b.b, op, is32);
          if (taken !== -1) expect(taken === 1).toBe(h);
          const ra = { ...a.b };
          const rb = { ...b.b };
          refine(ra, rb, op, is32, !h);
          expect(boundsContain(ra, a.x)).toBe(true);
          expect(boundsContain(rb, b.x)).toBe(true);
        },
      ),
      { numRuns: 3000 },
    );
  });
  it("constants compare exactly", () => {
    expect(scalarBranchTaken(constBounds(5n), constBounds(7n), "jlt", false)).toBe(1);
    expect(scalarBranchTaken(constBounds(-1n), constBounds(0n), "jslt", true)).toBe(1);
  });
});
