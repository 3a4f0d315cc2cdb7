/**
 * Scalar value tracking as the kernel verifier does it: a tnum plus unsigned/signed 64-bit and
 * 32-bit bounds, kept consistent by reg_bounds_sync (tnum -> bounds, bounds deduced from each
 * other three times, bounds -> tnum, tnum -> bounds). Algorithms follow kernel/bpf/verifier.c
 * (facts read there, code written here); where this model is less precise than the kernel it is
 * on the safe side (wider bounds), never narrower.
 */
import {
  CAST_LIMITS,
  fls64,
  TNUM_UNKNOWN,
  type Tnum,
  tnumAdd,
  tnumAnd,
  tnumArshift,
  tnumCast,
  tnumConst,
  tnumIntersect,
  tnumIsConst,
  tnumLshift,
  tnumMul,
  tnumOr,
  tnumRange,
  tnumRshift,
  tnumSub,
  tnumSubreg,
  tnumXor,
  U32,
  U64,
} from "./tnum.js";

export const S64_MIN = -(1n << 63n);
export const S64_MAX = (1n << 63n) - 1n;
export const S32_MIN = -(1n << 31n);
export const S32_MAX = (1n << 31n) - 1n;

/** The numeric part of a register (scalars, and the variable offset of pointers). */
export interface Bounds {
  varOff: Tnum;
  smin: bigint;
  smax: bigint;
  umin: bigint;
  umax: bigint;
  s32min: bigint;
  s32max: bigint;
  u32min: bigint;
  u32max: bigint;
}

const s64 = (x: bigint): bigint => BigInt.asIntN(64, x);
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const s32 = (x: bigint): bigint => BigInt.asIntN(32, x);
const u32 = (x: bigint): bigint => BigInt.asUintN(32, x);
const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

export function unknownBounds(): Bounds {
  return {
    varOff: TNUM_UNKNOWN,
    smin: S64_MIN,
    smax: S64_MAX,
    umin: 0n,
    umax: U64,
    s32min: S32_MIN,
    s32max: S32_MAX,
    u32min: 0n,
    u32max: U32,
  };
}

/** Below 2^31 a value is the same in its four views (no BigInt.asIntN/asUintN allocations). */
const SMALL = 0x8000_0000n;

export function constBounds(v: bigint): Bounds {
  if (v >= 0n && v < SMALL) {
    return {
      varOff: { value: v, mask: 0n },
      smin: v,
      smax: v,
      umin: v,
      umax: v,
      s32min: v,
      s32max: v,
      u32min: v,
      u32max: v,
    };
  }
  const x = v >= 0n && v <= U64 ? v : u64(v);
  const sx = x <= S64_MAX ? x : s64(x);
  const lo = x <= U32 ? x : x & U32;
  const slo = lo < SMALL ? lo : s32(lo);
  return {
    varOff: { value: x, mask: 0n },
    smin: sx,
    smax: sx,
    umin: x,
    umax: x,
    s32min: slo,
    s32max: slo,
    u32min: lo,
    u32max: lo,
  };
}

/** assignBounds(b, constBounds(v)) without the intermediate Bounds object (constant folding). */
export function setConstBounds(b: Bounds, v: bigint): void {
  if (v >= 0n && v < SMALL) {
    b.varOff = { value: v, mask: 0n };
    b.smin = b.smax = b.umin = b.umax = b.s32min = b.s32max = b.u32min = b.u32max = v;
    return;
  }
  const x = v >= 0n && v <= U64 ? v : u64(v);
  const sx = x <= S64_MAX ? x : s64(x);
  const lo = x <= U32 ? x : x & U32;
  const slo = lo < SMALL ? lo : s32(lo);
  b.varOff = { value: x, mask: 0n };
  b.smin = sx;
  b.smax = sx;
  b.umin = x;
  b.umax = x;
  b.s32min = slo;
  b.s32max = slo;
  b.u32min = lo;
  b.u32max = lo;
}

/**
 * A copy of the bounds alone, in the field order of unknownBounds/constBounds: one hidden class
 * for every Bounds (a spread of a register would copy all its fields into another shape, and
 * the bounds code would become polymorphic).
 */
export function copyBounds(b: Bounds): Bounds {
  return {
    varOff: b.varOff,
    smin: b.smin,
    smax: b.smax,
    umin: b.umin,
    umax: b.umax,
    s32min: b.s32min,
    s32max: b.s32max,
    u32min: b.u32min,
    u32max: b.u32max,
  };
}

export function assignBounds(dst: Bounds, src: Bounds): void {
  dst.varOff = src.varOff;
  dst.smin = src.smin;
  dst.smax = src.smax;
  dst.umin = src.umin;
  dst.umax = src.umax;
  dst.s32min = src.s32min;
  dst.s32max = src.s32max;
  dst.u32min = src.u32min;
  dst.u32max = src.u32max;
}

export const isConst = (b: Bounds): boolean => tnumIsConst(b.varOff);
export const isConst32 = (b: Bounds): boolean => tnumIsConst(tnumSubreg(b.varOff));

export function markUnbounded(b: Bounds): void {
  b.smin = S64_MIN;
  b.smax = S64_MAX;
  b.umin = 0n;
  b.umax = U64;
  b.s32min = S32_MIN;
  b.s32max = S32_MAX;
  b.u32min = 0n;
  b.u32max = U32;
}

function _markUnbounded64(b: Bounds): void {
  b.smin = S64_MIN;
  b.smax = S64_MAX;
  b.umin = 0n;
  b.umax = U64;
}

function markUnbounded32(b: Bounds): void {
  b.s32min = S32_MIN;
  b.s32max = S32_MAX;
  b.u32min = 0n;
  b.u32max = U32;
}

const HI32 = U64 ^ U32;
const BIT63 = 1n << 63n;

function updateBounds(b: Bounds): void {
  // the subregister's tnum inline (no Tnum objects: this runs twice per sync)
  const v = b.varOff;
  const v32 = v.value & U32;
  const m32 = v.mask & U32;
  b.s32min = max(b.s32min, s32(v32 | (m32 & 0x8000_0000n)));
  b.s32max = min(b.s32max, s32(v32 | (m32 & 0x7fff_ffffn)));
  b.u32min = max(b.u32min, v32);
  b.u32max = min(b.u32max, v32 | m32);
  b.smin = max(b.smin, s64(v.value | (v.mask & BIT63)));
  b.smax = min(b.smax, s64(v.value | (v.mask & S64_MAX)));
  b.umin = max(b.umin, v.value);
  b.umax = min(b.umax, v.value | v.mask);
}

function deduce32(b: Bounds): void {
  // 64-bit ranges whose upper halves agree bound the lower halves.
  if (b.umin >> 32n === b.umax >> 32n) {
    b.u32min = max(b.u32min, u32(b.umin));
    b.u32max = min(b.u32max, u32(b.umax));
    if (s32(b.umin) <= s32(b.umax)) {
      b.s32min = max(b.s32min, s32(b.umin));
      b.s32max = min(b.s32max, s32(b.umax));
    }
  }
  if (b.smin >> 32n === b.smax >> 32n) {
    if (u32(b.smin) <= u32(b.smax)) {
      b.u32min = max(b.u32min, u32(b.smin));
      b.u32max = min(b.u32max, u32(b.smax));
    }
    if (s32(b.smin) <= s32(b.smax)) {
      b.s32min = max(b.s32min, s32(b.smin));
      b.s32max = min(b.s32max, s32(b.smax));
    }
  }
  if (s32(b.u32min) <= s32(b.u32max)) {
    b.s32min = max(b.s32min, s32(b.u32min));
    b.s32max = min(b.s32max, s32(b.u32max));
  }
  if (u32(b.s32min) <= u32(b.s32max)) {
    b.u32min = max(b.u32min, u32(b.s32min));
    b.u32max = min(b.u32max, u32(b.s32max));
  }
}

// Comparisons of a value's other view, decided by comparisons alone where they can be (each
// BigInt.asIntN/asUintN or arithmetic allocates a BigInt, and these run at every sync).

// (A refinement may leave a bound one past its range, -1 or 2^64, before the sync: those
// take the conversions.)
const inU = (x: bigint): boolean => x >= 0n && x <= U64;
const inS = (x: bigint): boolean => x >= S64_MIN && x <= S64_MAX;

/** s64(a) <= s64(b). */
function sLeU(a: bigint, b: bigint): boolean {
  if (!inU(a) || !inU(b)) return s64(a) <= s64(b);
  const an = a > S64_MAX;
  return an === b > S64_MAX ? a <= b : an;
}

/** u64(a) <= u64(b). */
function uLeS(a: bigint, b: bigint): boolean {
  if (!inS(a) || !inS(b)) return u64(a) <= u64(b);
  const an = a < 0n;
  return an === b < 0n ? a <= b : !an;
}

/** u < u64(s). */
function uLtUofS(u: bigint, s: bigint): boolean {
  if (!inU(u) || !inS(s)) return u < u64(s);
  return s < 0n ? u <= S64_MAX || u < u64(s) : u < s;
}

/** u64(s) < u. */
function uOfSLtU(s: bigint, u: bigint): boolean {
  if (!inU(u) || !inS(s)) return u64(s) < u;
  return s < 0n ? u > S64_MAX && u64(s) < u : s < u;
}

/** s64(x) without an allocation when x already is an s64. */
const s64u = (x: bigint): bigint => (inS(x) ? x : s64(x));
/** u64(x) without an allocation when x already is a u64. */
const u64s = (x: bigint): bigint => (inU(x) ? x : u64(x));

function deduce64(b: Bounds): void {
  if (sLeU(b.umin, b.umax)) {
    b.smin = max(b.smin, s64u(b.umin));
    b.smax = min(b.smax, s64u(b.umax));
  }
  if (uLeS(b.smin, b.smax)) {
    b.umin = max(b.umin, u64s(b.smin));
    b.umax = min(b.umax, u64s(b.smax));
  } else if (uLtUofS(b.umax, b.smin)) {
    // The signed range crosses the sign boundary, the unsigned one lies below it.
    b.smin = max(b.smin, s64u(b.umin));
    b.umax = min(b.umax, u64s(b.smax));
  } else if (uOfSLtU(b.smax, b.umin)) {
    b.smax = min(b.smax, s64u(b.umax));
    b.umin = max(b.umin, u64s(b.smin));
  }
}

function deduceMixed(b: Bounds): void {
  // The 32-bit bounds tighten the low half of the 64-bit ones.
  const hiU = b.umin & ~U32;
  const nUmin = hiU | b.u32min;
  const nUmax = (b.umax & ~U32) | b.u32max;
  b.umin = max(b.umin, nUmin);
  b.umax = min(b.umax, nUmax);
  const nSmin = s64((u64(b.smin) & ~U32) | b.u32min);
  const nSmax = s64((u64(b.smax) & ~U32) | b.u32max);
  b.smin = max(b.smin, nSmin);
  b.smax = min(b.smax, nSmax);
}

function boundOffset(b: Bounds): void {
  // tnum_intersect(var_off, tnum_range(umin, umax)) for the 64-bit part and the same on the
  // subregister, joined (high half of the first, low half of the second); computed on bigints
  // directly, and the old tnum kept when nothing changes (this runs at every sync)
  const v = b.varOff;
  const bits = fls64(b.umin ^ b.umax);
  let rv = 0n;
  let rm = U64;
  if (bits <= 63) {
    rm = (1n << BigInt(bits)) - 1n;
    rv = b.umin & ~rm & U64;
  }
  const m64 = v.mask & rm;
  const v64 = (v.value | rv) & ~m64 & U64;
  const bits32 = fls64(b.u32min ^ b.u32max);
  const rm32 = (1n << BigInt(bits32)) - 1n;
  const rv32 = b.u32min & ~rm32 & U32;
  const m32 = v.mask & U32 & rm32;
  const v32 = ((v.value & U32) | rv32) & ~m32 & U32;
  const value = (v64 & HI32) | v32;
  const mask = ((m64 & HI32) | m32) & ~value & U64;
  if (value !== v.value || mask !== v.mask) b.varOff = { value, mask };
}

/** reg_bounds_sync. */
export function syncBounds(b: Bounds): void {
  // Fast paths with the same result as the full sync (which is most of the verifier's time):
  // a known constant inside every bound collapses all bounds onto it; a fully unknown value
  // with full bounds stays as it is.
  const v = b.varOff;
  if (v.mask === 0n) {
    const c = v.value;
    // below 2^31 the four views of the constant are the same BigInt: no conversions
    const small = c < SMALL;
    const sc = small ? c : s64(c);
    const lo = small ? c : c & U32;
    const slo = small ? c : s32(lo);
    if (
      b.umin <= c &&
      c <= b.umax &&
      b.smin <= sc &&
      sc <= b.smax &&
      b.u32min <= lo &&
      lo <= b.u32max &&
      b.s32min <= slo &&
      slo <= b.s32max
    ) {
      b.umin = c;
      b.umax = c;
      b.smin = sc;
      b.smax = sc;
      b.u32min = lo;
      b.u32max = lo;
      b.s32min = slo;
      b.s32max = slo;
      return;
    }
  } else if (
    v.mask === U64 &&
    b.umin === 0n &&
    b.umax === U64 &&
    b.smin === S64_MIN &&
    b.smax === S64_MAX &&
    b.u32min === 0n &&
    b.u32max === U32 &&
    b.s32min === S32_MIN &&
    b.s32max === S32_MAX
  ) {
    return;
  } else if (v.value < SMALL && v.mask < SMALL) {
    // Every value the tnum allows is below 2^31, where the four views of a value agree: the
    // full sync intersects the four ranges with the tnum's, narrows the tnum to that range and
    // the ranges to the tnum (a loaded byte, a masked index). Only when that intersection is
    // empty does the full sync do something else.
    let lo = max(max(v.value, b.umin), max(max(b.smin, b.u32min), b.s32min));
    let hi = min(min(v.value | v.mask, b.umax), min(min(b.smax, b.u32max), b.s32max));
    if (lo <= hi) {
      const bits = fls64(lo ^ hi);
      const rm = (1n << BigInt(bits)) - 1n;
      const mask = v.mask & rm;
      const value = (v.value | (lo & ~rm)) & ~mask;
      if (value !== v.value || mask !== v.mask) b.varOff = { value, mask };
      lo = max(lo, value);
      hi = min(hi, value | mask);
      b.umin = b.smin = b.u32min = b.s32min = lo;
      b.umax = b.smax = b.u32max = b.s32max = hi;
      return;
    }
  } else if (v.mask === U64 && b.umax < 0x8000_0000n) {
    // An unknown tnum with an unsigned maximum below 2^31 (a counter compared with a small
    // bound): as above, the full sync intersects the four ranges, and the tnum becomes that
    // range's (when it is not empty).
    const lo = max(max(b.umin, b.smin), max(b.u32min, b.s32min));
    const hi = min(min(b.umax, b.smax), min(b.u32max, b.s32max));
    if (lo <= hi) {
      b.varOff = tnumRange(lo, hi);
      b.umin = b.smin = b.u32min = b.s32min = lo;
      b.umax = b.smax = b.u32max = b.s32max = hi;
      return;
    }
  } else if (v.mask === U64 && b.umin === b.umax && withinAll(b, b.umin)) {
    // An unknown tnum whose unsigned bounds hold one value that every other bound admits (a
    // compare's equality side): the full sync narrows every bound and the tnum onto it.
    const c = b.umin;
    b.varOff = tnumConst(c);
    b.smin = b.smax = s64(c);
    b.u32min = b.u32max = c & U32;
    b.s32min = b.s32max = s32(c & U32);
    return;
  } else if (
    v.mask === U64 &&
    b.u32min === 0n &&
    b.u32max === U32 &&
    b.s32min === S32_MIN &&
    b.s32max === S32_MAX &&
    !halvesBound32(b)
  ) {
    // An unknown tnum with full 32-bit bounds that the 64-bit ones cannot narrow (the common
    // shape of a compared counter): the full sync's tnum -> bounds steps, its first 32-bit
    // deduction and the mixed one change nothing, so only the rest runs, in the same order.
    deduce64(b);
    if (halvesBound32(b)) deduce32(b);
    deduce64(b);
    // tnum_range of bounds whose top bits differ is unknown: the tnum and the bounds stay
    const topDiffers =
      inU(b.umin) && inU(b.umax) ? b.umin <= S64_MAX !== b.umax <= S64_MAX : fls64(b.umin ^ b.umax) > 63;
    if (topDiffers && b.u32min === 0n && b.u32max === U32) return;
    boundOffset(b);
    updateBounds(b);
    return;
  }
  syncBoundsFull(b);
}

/** reg_bounds_sync without the fast paths (exported for the test that checks they agree). */
export function syncBoundsFull(b: Bounds): void {
  updateBounds(b);
  deduce32(b);
  deduce64(b);
  deduceMixed(b);
  deduce32(b);
  deduce64(b);
  boundOffset(b);
  updateBounds(b);
}

/** Whether the signed 64-bit and both 32-bit ranges hold the u64 value `c`. */
function withinAll(b: Bounds, c: bigint): boolean {
  const sc = s64(c);
  const lo = c & U32;
  const slo = s32(lo);
  return (
    b.smin <= sc && sc <= b.smax && b.u32min <= lo && lo <= b.u32max && b.s32min <= slo && slo <= b.s32max
  );
}

/** Whether deduce32's 64-bit clauses apply (64-bit bounds within one 2^32-aligned block). */
function halvesBound32(b: Bounds): boolean {
  return sameHigh(b.umin, b.umax) || sameHigh(b.smin, b.smax);
}

const HI32_MIN = 0xffff_ffff_0000_0000n;
const TWO32N = 0x1_0000_0000n;

/** a >> 32n === b >> 32n, decided by comparisons in the common cases (no BigInt allocated). */
function sameHigh(a: bigint, b: bigint): boolean {
  if (a === b) return true;
  // different signs: different high halves
  if (a < 0n !== b < 0n) return false;
  if (a >= 0n) {
    if (a < TWO32N) return b < TWO32N;
    if (b === U64) return a >= HI32_MIN && a <= U64;
    if (a === U64) return b >= HI32_MIN && b <= U64;
  }
  return a >> 32n === b >> 32n;
}

/** Whether the bounds describe no value at all (a contradiction: the path is impossible). */
export function boundsEmpty(b: Bounds): boolean {
  return b.umin > b.umax || b.smin > b.smax || b.u32min > b.u32max || b.s32min > b.s32max;
}

/** Whether a concrete 64-bit value satisfies all the bounds. */
export function boundsContain(b: Bounds, x: bigint): boolean {
  const v = u64(x);
  const lo = u32(v);
  return (
    (v & ~b.varOff.mask & U64) === b.varOff.value &&
    v >= b.umin &&
    v <= b.umax &&
    s64(v) >= b.smin &&
    s64(v) <= b.smax &&
    lo >= b.u32min &&
    lo <= b.u32max &&
    s32(lo) >= b.s32min &&
    s32(lo) <= b.s32max
  );
}

/** The 32-bit subregister as a 64-bit value (zero-extended): zext after a 32-bit op. */
export function zext32(b: Bounds): void {
  b.varOff = tnumSubreg(b.varOff);
  b.umin = b.u32min;
  b.umax = b.u32max;
  b.smin = b.u32min;
  b.smax = b.u32max;
  syncBounds(b);
}

/** The low 32 bits as an operand of a 32-bit op, viewed as a zero-extended 64-bit value. */
export function lower32(b: Bounds): Bounds {
  const r: Bounds = {
    varOff: tnumSubreg(b.varOff),
    smin: b.u32min,
    smax: b.u32max,
    umin: b.u32min,
    umax: b.u32max,
    s32min: b.s32min,
    s32max: b.s32max,
    u32min: b.u32min,
    u32max: b.u32max,
  };
  syncBounds(r);
  return r;
}

/**
 * Truncate to `size` bytes, zero-extending (coerce_reg_to_size): bounds survive when the range
 * does not wrap in the kept bits.
 */
export function truncate(b: Bounds, size: number): void {
  if (size >= 8) return;
  const bits = BigInt(size * 8);
  const lim = CAST_LIMITS[size] ?? (1n << bits) - 1n;
  b.varOff = tnumCast(b.varOff, size);
  let umin = 0n;
  let umax = lim;
  if (size === 4 ? sameHigh(b.umin, b.umax) : b.umin >> bits === b.umax >> bits) {
    umin = b.umin <= lim && b.umin >= 0n ? b.umin : b.umin & lim;
    umax = b.umax <= lim && b.umax >= 0n ? b.umax : b.umax & lim;
  }
  let s32min = S32_MIN;
  let s32max = S32_MAX;
  if (size === 4 && sameHigh(b.smin, b.smax) && s32(b.smin) <= s32(b.smax)) {
    s32min = s32(b.smin);
    s32max = s32(b.smax);
  }
  markUnbounded(b);
  b.umin = umin;
  b.umax = umax;
  b.smin = umin;
  b.smax = umax;
  if (size === 4) {
    b.s32min = s32min;
    b.s32max = s32max;
  }
  syncBounds(b);
}

/** Sign-extend the low `size` bytes to 64 bits (LDSX, MOVSX). */
export function signExtend(b: Bounds, size: number): void {
  const bits = size * 8;
  if (isConst(b)) {
    const v = BigInt.asIntN(bits, b.varOff.value);
    assignBounds(b, constBounds(v));
    return;
  }
  const lim = (1n << BigInt(bits)) - 1n;
  const half = 1n << BigInt(bits - 1);
  // Non-negative in the small width and no wrap: the value is unchanged.
  const lo = b.umin;
  const hi = b.umax;
  const small = hi <= lim && hi < half;
  const nb = unknownBounds();
  if (small) {
    nb.umin = lo;
    nb.umax = hi;
    nb.smin = lo;
    nb.smax = hi;
    nb.varOff = tnumCast(b.varOff, size);
  } else {
    nb.smin = -half;
    nb.smax = half - 1n;
  }
  syncBounds(nb);
  assignBounds(b, nb);
}

/** 32-bit sign extension of the low `size` bytes into the subregister, then zero-extended (MOVSX32). */
export function signExtend32(b: Bounds, size: number): void {
  signExtend(b, size);
  truncate(b, 4);
}

export type AluOp = "add" | "sub" | "mul" | "div" | "mod" | "or" | "and" | "lsh" | "rsh" | "arsh" | "xor";

function addBounds(d: Bounds, s: Bounds): void {
  const smin = d.smin + s.smin;
  const smax = d.smax + s.smax;
  if (smin < S64_MIN || smax > S64_MAX) {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  } else {
    d.smin = smin;
    d.smax = smax;
  }
  const umin = d.umin + s.umin;
  const umax = d.umax + s.umax;
  if (umax > U64) {
    d.umin = 0n;
    d.umax = U64;
  } else {
    d.umin = umin;
    d.umax = umax;
  }
}

function subBounds(d: Bounds, s: Bounds): void {
  const smin = d.smin - s.smax;
  const smax = d.smax - s.smin;
  if (smin < S64_MIN || smax > S64_MAX) {
    d.smin = S64_MIN;
    d.smax = S64_MAX;
  } else {
    d.smin = smin;
    d.smax = smax;
  }
  if (d.umin < s.umax) {
    d.umin = 0n;
    d.umax = U64;
  } else {
    d.umin = d.umin - s.umax;
    d.umax = d.umax - s.umin;
  }
}

/**
 * 64-bit ALU on two scalars (adjust_scalar_min_max_vals for BPF_ALU64). `src` is not modified.
 * Returns false when the op's result is simply unknown.
 */
export function alu64(op: AluOp, d: Bounds, s: Bounds): void {
  // Two known constants (bounds collapsed onto them) give the folded constant: the general path
  // computes sound bounds around an exact tnum, which the sync collapses onto the same value
  // (scalar.test.ts checks the two agree). Shifts by 64 or more keep the general path.
  if (
    isCollapsedConst(d) &&
    isCollapsedConst(s) &&
    !((op === "lsh" || op === "rsh" || op === "arsh") && s.umax >= 64n)
  ) {
    assignBounds(d, constBounds(constFold(op, d.umin, s.umin, 64)));
    return;
  }
  alu64Bounds(op, d, s);
}

/** A known constant whose every bound is collapsed onto it (what syncBounds makes of one). */
export function isCollapsedConst(b: Bounds): boolean {
  const c = b.umin;
  if (b.varOff.mask !== 0n || b.varOff.value !== c || b.umax !== c) return false;
  if (c < SMALL) {
    return (
      b.smin === c && b.smax === c && b.u32min === c && b.u32max === c && b.s32min === c && b.s32max === c
    );
  }
  // every range a single value first (comparisons), then that value the constant's (conversions
  // only where the views differ)
  if (b.smin !== b.smax || b.u32min !== b.u32max || b.s32min !== b.s32max) return false;
  if (b.smin !== (c <= S64_MAX ? c : s64(c))) return false;
  const lo = c <= U32 ? c : c & U32;
  if (b.u32min !== lo) return false;
  return b.s32min === (lo < SMALL ? lo : s32(lo));
}

/** alu64 without the constant fast path (exported for the test that checks the two agree). */
export function alu64Bounds(op: AluOp, d: Bounds, s: Bounds): void {
  const srcConst = isConst(s);
  // The kernel also tracks the low 32 bits through 64-bit ops (scalar32_min_max_*).
  const b32 = sub32Bounds(op, d, s);
  alu64Inner(op, d, s, srcConst);
  if (b32 && !boundsEmpty(d)) {
    d.s32min = max(d.s32min, b32[0]);
    d.s32max = min(d.s32max, b32[1]);
    d.u32min = max(d.u32min, b32[2]);
    d.u32max = min(d.u32max, b32[3]);
    syncBounds(d);
  }
}

/** [s32min, s32max, u32min, u32max] of the low halves' result, for ops whose low half only depends on low halves. */
function sub32Bounds(op: AluOp, d: Bounds, s: Bounds): [bigint, bigint, bigint, bigint] | undefined {
  // the subregisters' tnums only for the bitwise ops (add and sub do not read them)
  const bitwise = op === "and" || op === "or" || op === "xor";
  const d32 = bitwise ? tnumSubreg(d.varOff) : d.varOff;
  const s32v = bitwise ? tnumSubreg(s.varOff) : s.varOff;
  switch (op) {
    case "add": {
      const smin = d.s32min + s.s32min;
      const smax = d.s32max + s.s32max;
      const umin = d.u32min + s.u32min;
      const umax = d.u32max + s.u32max;
      const sOk = smin >= S32_MIN && smax <= S32_MAX;
      const uOk = umax <= U32;
      return [sOk ? smin : S32_MIN, sOk ? smax : S32_MAX, uOk ? umin : 0n, uOk ? umax : U32];
    }
    case "sub": {
      const smin = d.s32min - s.s32max;
      const smax = d.s32max - s.s32min;
      const sOk = smin >= S32_MIN && smax <= S32_MAX;
      const uOk = d.u32min >= s.u32max;
      return [
        sOk ? smin : S32_MIN,
        sOk ? smax : S32_MAX,
        uOk ? d.u32min - s.u32max : 0n,
        uOk ? d.u32max - s.u32min : U32,
      ];
    }
    case "and": {
      const t = tnumAnd(d32, s32v);
      const umax = min(d.u32max, s.u32max);
      const pos = d.s32min >= 0n && s.s32min >= 0n;
      return [pos ? t.value : S32_MIN, pos ? umax : S32_MAX, t.value, umax];
    }
    case "or": {
      const t = tnumOr(d32, s32v);
      const umin = max(d.u32min, s.u32min);
      const umax = t.value | t.mask;
      const pos = d.s32min >= 0n && s.s32min >= 0n;
      return [pos ? umin : S32_MIN, pos ? umax : S32_MAX, umin, umax];
    }
    case "xor": {
      const t = tnumXor(d32, s32v);
      const pos = d.s32min >= 0n && s.s32min >= 0n;
      return [pos ? t.value : S32_MIN, pos ? t.value | t.mask : S32_MAX, t.value, t.value | t.mask];
    }
    default:
      return undefined;
  }
}

function alu64Inner(op: AluOp, d: Bounds, s: Bounds, srcConst: boolean): void {
  switch (op) {
    case "add":
      addBounds(d, s);
      d.varOff = tnumAdd(d.varOff, s.varOff);
      markUnbounded32(d);
      break;
    case "sub":
      subBounds(d, s);
      d.varOff = tnumSub(d.varOff, s.varOff);
      markUnbounded32(d);
      break;
    case "mul": {
      d.varOff = tnumMul(d.varOff, s.varOff);
      if (d.smin < 0n || s.smin < 0n || d.umax > U32 || s.umax > U32) {
        markUnbounded(d);
      } else {
        const umin = d.umin * s.umin;
        const umax = d.umax * s.umax;
        markUnbounded(d);
        d.umin = umin;
        d.umax = umax;
        if (umax <= S64_MAX) {
          d.smin = umin;
          d.smax = umax;
        }
      }
      markUnbounded32(d);
      break;
    }
    case "and": {
      const bothPos = d.smin >= 0n && s.smin >= 0n;
      d.varOff = tnumAnd(d.varOff, s.varOff);
      const umax = min(d.umax, s.umax);
      markUnbounded(d);
      d.umin = d.varOff.value;
      d.umax = umax;
      if (bothPos) {
        d.smin = d.umin;
        d.smax = d.umax;
      }
      break;
    }
    case "or": {
      const bothPos = d.smin >= 0n && s.smin >= 0n;
      d.varOff = tnumOr(d.varOff, s.varOff);
      const umin = max(d.umin, s.umin);
      markUnbounded(d);
      d.umin = umin;
      d.umax = d.varOff.value | d.varOff.mask;
      if (bothPos) {
        d.smin = d.umin;
        d.smax = d.umax;
      }
      break;
    }
    case "xor": {
      const bothPos = d.smin >= 0n && s.smin >= 0n;
      d.varOff = tnumXor(d.varOff, s.varOff);
      markUnbounded(d);
      d.umin = d.varOff.value;
      d.umax = d.varOff.value | d.varOff.mask;
      if (bothPos) {
        d.smin = d.umin;
        d.smax = d.umax;
      }
      break;
    }
    case "lsh": {
      if (!srcConst || s.umax >= 64n) {
        assignBounds(d, unknownBounds());
        return;
      }
      const sh = s.umin;
      const nb = unknownBounds();
      if (d.umax <= U64 >> sh) {
        nb.umin = d.umin << sh;
        nb.umax = d.umax << sh;
      }
      nb.varOff = tnumLshift(d.varOff, Number(sh));
      assignBounds(d, nb);
      break;
    }
    case "rsh": {
      if (!srcConst || s.umax >= 64n) {
        assignBounds(d, unknownBounds());
        return;
      }
      const sh = s.umin;
      const nb = unknownBounds();
      nb.umin = d.umin >> sh;
      nb.umax = d.umax >> sh;
      nb.varOff = tnumRshift(d.varOff, Number(sh));
      assignBounds(d, nb);
      break;
    }
    case "arsh": {
      if (!srcConst || s.umax >= 64n) {
        assignBounds(d, unknownBounds());
        return;
      }
      const sh = s.umin;
      const nb = unknownBounds();
      nb.smin = d.smin >> sh;
      nb.smax = d.smax >> sh;
      nb.varOff = tnumArshift(d.varOff, Number(sh), 64);
      assignBounds(d, nb);
      break;
    }
    default:
      // div/mod: the kernel of 6.18 does not track them for non-constants.
      if (isConst(d) && srcConst) {
        assignBounds(d, constBounds(constFold(op, d.varOff.value, s.varOff.value, 64)));
        return;
      }
      assignBounds(d, unknownBounds());
      return;
  }
  syncBounds(d);
}

/** Concrete result of an ALU op (BPF semantics: x/0 = 0, x%0 = x) in `bits` bits, unsigned. */
export function constFold(op: AluOp, a: bigint, b: bigint, bits: 32 | 64): bigint {
  const mask = bits === 64 ? U64 : U32;
  // (operands already within the width need no masking, which would allocate)
  const x = a >= 0n && a <= mask ? a : a & mask;
  const y = b >= 0n && b <= mask ? b : b & mask;
  switch (op) {
    case "add":
      return (x + y) & mask;
    case "sub":
      return (x - y) & mask;
    case "mul":
      return (x * y) & mask;
    case "div":
      return y === 0n ? 0n : x / y;
    case "mod":
      return y === 0n ? x : x % y;
    case "or":
      return x | y;
    case "and":
      return x & y;
    case "xor":
      return x ^ y;
    case "lsh":
      return (x << (y & BigInt(bits - 1))) & mask;
    case "rsh":
      return x >> (y & BigInt(bits - 1));
    case "arsh": {
      const sx = BigInt.asIntN(bits, x);
      return BigInt.asUintN(bits, sx >> (y & BigInt(bits - 1)));
    }
  }
}

/**
 * 32-bit ALU: operate on the zero-extended low halves with the 64-bit rules (shifts by up to 31),
 * then keep the low 32 bits and zero-extend. Less precise than the kernel for some signed
 * 32-bit ranges; never narrower.
 */
export function alu32(op: AluOp, d: Bounds, s: Bounds): void {
  const a = lower32(d);
  const b = lower32(s);
  if (isConst(a) && isConst(b)) {
    assignBounds(d, constBounds(constFold(op, a.varOff.value, b.varOff.value, 32)));
    return;
  }
  if (op === "arsh") {
    if (!isConst(b) || b.umax >= 32n) {
      assignBounds(d, unknownBounds());
      truncate(d, 4);
      return;
    }
    const sh = b.umin;
    const nb = unknownBounds();
    nb.varOff = tnumArshift(a.varOff, Number(sh), 32);
    nb.s32min = d.s32min >> sh;
    nb.s32max = d.s32max >> sh;
    syncBounds(nb);
    truncate(nb, 4);
    assignBounds(d, nb);
    return;
  }
  if ((op === "lsh" || op === "rsh") && (!isConst(b) || b.umax >= 32n)) {
    assignBounds(d, unknownBounds());
    truncate(d, 4);
    return;
  }
  if (op === "sub" || op === "add") {
    // Signed view for add/sub, so small negative results keep their 32-bit signed range.
    const sa = lower32Signed(d);
    const sb = lower32Signed(s);
    const r = copyBounds(a);
    alu64(op, r, b);
    truncate(r, 4);
    alu64(op, sa, sb);
    truncate(sa, 4);
    // Both are sound; intersect them.
    r.s32min = max(r.s32min, sa.s32min);
    r.s32max = min(r.s32max, sa.s32max);
    r.u32min = max(r.u32min, sa.u32min);
    r.u32max = min(r.u32max, sa.u32max);
    r.varOff = tnumIntersect(r.varOff, sa.varOff);
    r.umin = r.u32min;
    r.umax = r.u32max;
    r.smin = r.u32min;
    r.smax = r.u32max;
    syncBounds(r);
    assignBounds(d, r);
    return;
  }
  const r = copyBounds(a);
  alu64(op, r, b);
  truncate(r, 4);
  assignBounds(d, r);
}

/** The low 32 bits viewed as a sign-extended 64-bit value. */
function lower32Signed(b: Bounds): Bounds {
  const r = unknownBounds();
  r.smin = b.s32min;
  r.smax = b.s32max;
  r.varOff = TNUM_UNKNOWN;
  if (b.s32min >= 0n) {
    r.umin = b.s32min;
    r.umax = b.s32max;
  }
  syncBounds(r);
  return r;
}

/** BPF_NEG. */
export function neg(d: Bounds, bits: 32 | 64): void {
  const zero = constBounds(0n);
  if (bits === 64) {
    alu64("sub", zero, d);
    assignBounds(d, zero);
  } else {
    alu32("sub", zero, d);
    assignBounds(d, zero);
  }
}

/** BPF_END / bswap: only constants stay known. */
export function byteSwap(d: Bounds, bits: 16 | 32 | 64, swap: boolean): void {
  if (!swap) {
    truncate(d, bits / 8);
    return;
  }
  if (isConst(d)) {
    let v = d.varOff.value & ((1n << BigInt(bits)) - 1n);
    let r = 0n;
    for (let i = 0; i < bits / 8; i++) {
      r = (r << 8n) | (v & 0xffn);
      v >>= 8n;
    }
    assignBounds(d, constBounds(r));
    return;
  }
  assignBounds(d, unknownBounds());
  truncate(d, bits / 8);
}

/** The comparison shortcuts above, for the test that checks them against their definitions. */
export const viewComparisons = { sLeU, uLeS, uLtUofS, uOfSLtU, sameHigh, s64u, u64s } as const;
