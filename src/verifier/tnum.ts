/**
 * Tristate numbers ("tnums"), the kernel verifier's bit-level knowledge of a 64-bit value:
 * `value` holds the bits known to be 1, `mask` the bits that are unknown. A bit set in both is
 * impossible. Semantics follow kernel/bpf/tnum.c (read for the facts; written independently).
 * Values are unsigned 64-bit bigints.
 */
export interface Tnum {
  readonly value: bigint;
  readonly mask: bigint;
}

export const U64 = 0xffff_ffff_ffff_ffffn;
export const U32 = 0xffff_ffffn;
// (a value already within 64 bits is returned as it is: the mask would allocate a copy)
const m64 = (x: bigint): bigint => (x >= 0n && x <= U64 ? x : x & U64);

export const tnumConst = (v: bigint): Tnum => ({ value: m64(v), mask: 0n });
export const TNUM_UNKNOWN: Tnum = { value: 0n, mask: U64 };

const TWO32 = 0x1_0000_0000n;

/** Index (1-based) of the highest set bit of a u64; 0 for 0 (without building a string). */
export function fls64(x: bigint): number {
  if (x < TWO32) return 32 - Math.clz32(Number(x));
  return 64 - Math.clz32(Number(x >> 32n));
}

/** The tnum of all values in [min, max] (unsigned). */
export function tnumRange(min: bigint, max: bigint): Tnum {
  const chi = min ^ max;
  const bits = fls64(chi);
  if (bits > 63) return TNUM_UNKNOWN;
  const delta = (1n << BigInt(bits)) - 1n;
  return { value: min & ~delta & U64, mask: delta };
}

export const tnumIsConst = (a: Tnum): boolean => a.mask === 0n;
export const tnumIsUnknown = (a: Tnum): boolean => a.mask === U64;
export const tnumEquals = (a: Tnum, b: Tnum): boolean => a.value === b.value && a.mask === b.mask;

export const tnumLshift = (a: Tnum, shift: number): Tnum => ({
  value: m64(a.value << BigInt(shift)),
  mask: m64(a.mask << BigInt(shift)),
});
export const tnumRshift = (a: Tnum, shift: number): Tnum => ({
  value: a.value >> BigInt(shift),
  mask: a.mask >> BigInt(shift),
});

/** Arithmetic right shift within `bits` (32 or 64) of the operand, result zero-extended. */
export function tnumArshift(a: Tnum, shift: number, bits: 32 | 64): Tnum {
  const s = BigInt(shift);
  if (bits === 32) {
    const v = BigInt.asIntN(32, a.value) >> s;
    const m = BigInt.asIntN(32, a.mask) >> s;
    return { value: BigInt.asUintN(32, v), mask: BigInt.asUintN(32, m) };
  }
  return { value: m64(BigInt.asIntN(64, a.value) >> s), mask: m64(BigInt.asIntN(64, a.mask) >> s) };
}

export function tnumAdd(a: Tnum, b: Tnum): Tnum {
  const sm = m64(a.mask + b.mask);
  const sv = m64(a.value + b.value);
  const sigma = m64(sm + sv);
  const chi = sigma ^ sv;
  const mu = chi | a.mask | b.mask;
  return { value: sv & ~mu & U64, mask: mu };
}

export function tnumSub(a: Tnum, b: Tnum): Tnum {
  const dv = m64(a.value - b.value);
  const alpha = m64(dv + a.mask);
  const beta = m64(dv - b.mask);
  const chi = alpha ^ beta;
  const mu = chi | a.mask | b.mask;
  return { value: dv & ~mu & U64, mask: mu };
}

export const tnumNeg = (a: Tnum): Tnum => tnumSub(tnumConst(0n), a);

export function tnumAnd(a: Tnum, b: Tnum): Tnum {
  const alpha = a.value | a.mask;
  const beta = b.value | b.mask;
  const v = a.value & b.value;
  return { value: v, mask: alpha & beta & ~v & U64 };
}

export function tnumOr(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask | b.mask;
  return { value: v, mask: mu & ~v & U64 };
}

export function tnumXor(a: Tnum, b: Tnum): Tnum {
  const v = a.value ^ b.value;
  const mu = a.mask | b.mask;
  return { value: v & ~mu & U64, mask: mu };
}

/** Long multiplication over tnums (the kernel's shift-and-add form). */
export function tnumMul(a0: Tnum, b0: Tnum): Tnum {
  let a = a0;
  let b = b0;
  const accV = m64(a.value * b.value);
  let accM: Tnum = { value: 0n, mask: 0n };
  while (a.value !== 0n || a.mask !== 0n) {
    if (a.value & 1n) accM = tnumAdd(accM, { value: 0n, mask: b.mask });
    else if (a.mask & 1n) accM = tnumAdd(accM, { value: 0n, mask: b.value | b.mask });
    a = tnumRshift(a, 1);
    b = tnumLshift(b, 1);
  }
  return tnumAdd({ value: accV, mask: 0n }, accM);
}

/** Values that are in both a and b (a and b are assumed to overlap). */
export function tnumIntersect(a: Tnum, b: Tnum): Tnum {
  const v = a.value | b.value;
  const mu = a.mask & b.mask;
  return { value: v & ~mu & U64, mask: mu };
}

/** Truncate to `size` bytes. */
export function tnumCast(a: Tnum, size: number): Tnum {
  if (size >= 8) return a;
  const lim = CAST_LIMITS[size] ?? (1n << BigInt(size * 8)) - 1n;
  // a tnum already within the size is its own truncation (tnums are never changed in place)
  if (a.value <= lim && a.mask <= lim) return a;
  return { value: a.value & lim, mask: a.mask & lim };
}

/** The all-ones value of 0..7 bytes (computed once, not per cast). */
export const CAST_LIMITS: readonly bigint[] = [0, 1, 2, 3, 4, 5, 6, 7].map((n) => (1n << BigInt(n * 8)) - 1n);

export function tnumIsAligned(a: Tnum, size: number): boolean {
  if (size === 0) return true;
  return ((a.value | a.mask) & BigInt(size - 1)) === 0n;
}

/** Whether every value of b is a value of a. */
export function tnumIn(a: Tnum, b: Tnum): boolean {
  if (b.mask & ~a.mask & U64) return false;
  return a.value === (b.value & ~a.mask & U64);
}

export const tnumSubreg = (a: Tnum): Tnum => tnumCast(a, 4);
export const tnumClearSubreg = (a: Tnum): Tnum => tnumLshift(tnumRshift(a, 32), 32);
export const tnumWithSubreg = (reg: Tnum, sub: Tnum): Tnum => tnumOr(tnumClearSubreg(reg), tnumSubreg(sub));
export const tnumConstSubreg = (a: Tnum, v: bigint): Tnum => tnumWithSubreg(a, tnumConst(v));

/** Whether a concrete value is described by the tnum. */
export const tnumContains = (a: Tnum, x: bigint): boolean => (m64(x) & ~a.mask & U64) === a.value;

/** The kernel's var_off print: `(0x<value>; 0x<mask>)`. */
export const tnumStr = (a: Tnum): string => `(0x${a.value.toString(16)}; 0x${a.mask.toString(16)})`;
