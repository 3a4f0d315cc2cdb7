/**
 * 64-bit arithmetic on registers kept as two int32 halves (L = low, H = high, both Int32Array,
 * so a store wraps modulo 2^32 by itself). Each function writes the result into register d.
 * Multiplication is exact with 16-bit partial products; division and modulo take plain number
 * paths when the divisor fits in 32 bits (long division in 16-bit steps for a wide dividend) and
 * fall back to BigInt only for divisors of 2^32 and above.
 */

/** High 32 bits (unsigned) of the 64-bit product of two unsigned 32-bit values. */
export function mulHiU32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

export function mul64(L: Int32Array, H: Int32Array, d: number, bl: number, bh: number): void {
  const al = L[d];
  const ah = H[d];
  L[d] = Math.imul(al, bl);
  H[d] = mulHiU32(al, bl) + Math.imul(al, bh) + Math.imul(ah, bl);
}

function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function setBig(L: Int32Array, H: Int32Array, d: number, v: bigint): void {
  L[d] = Number(BigInt.asIntN(32, v));
  H[d] = Number(BigInt.asIntN(32, v >> 32n));
}

/** Set register d from a safe integer (two's complement for negatives). */
export function setNumber(L: Int32Array, H: Int32Array, d: number, n: number): void {
  L[d] = n;
  H[d] = Math.floor(n / 4294967296);
}

// Results of divmodBy32: quotient low, quotient high, remainder. A typed array rather than
// module variables, which would box every double they hold.
const QR = new Float64Array(3);

/**
 * Unsigned 64-bit (al, ah) divided by an unsigned 32-bit b > 0, by long division in 16-bit
 * steps: every partial dividend stays below 2^48, so the float quotients are exact floors.
 */
function divmodBy32(al: number, ah: number, b: number): void {
  const ahu = ah >>> 0;
  const qh = (ahu / b) >>> 0; // every quotient here is below 2^32: truncation is floor
  let r = ahu - qh * b;
  let t = r * 65536 + (al >>> 16);
  const q1 = (t / b) >>> 0;
  r = t - q1 * b;
  t = r * 65536 + (al & 0xffff);
  const q0 = (t / b) >>> 0;
  QR[0] = q1 * 65536 + q0;
  QR[1] = qh;
  QR[2] = t - q0 * b;
}

/** Unsigned 64-bit division; by zero gives 0 (RFC 9669). */
export function udiv64(L: Int32Array, H: Int32Array, d: number, bl: number, bh: number): void {
  if (bh === 0) {
    if (bl === 0) {
      L[d] = 0;
      H[d] = 0;
    } else if (H[d] === 0) {
      L[d] = (L[d] >>> 0) / (bl >>> 0);
    } else {
      divmodBy32(L[d], H[d], bl >>> 0);
      L[d] = QR[0];
      H[d] = QR[1];
    }
    return;
  }
  setBig(L, H, d, toBig(L[d], H[d]) / toBig(bl, bh));
}

/** Unsigned 64-bit modulo; by zero leaves the dividend unchanged (RFC 9669). */
export function umod64(L: Int32Array, H: Int32Array, d: number, bl: number, bh: number): void {
  if (bh === 0) {
    if (bl === 0) return;
    if (H[d] === 0) {
      L[d] = (L[d] >>> 0) % (bl >>> 0);
    } else {
      divmodBy32(L[d], H[d], bl >>> 0);
      L[d] = QR[2];
      H[d] = 0;
    }
    return;
  }
  setBig(L, H, d, toBig(L[d], H[d]) % toBig(bl, bh));
}

/**
 * Signed division and modulo through the unsigned path on magnitudes when |b| < 2^32 (the
 * common case), else BigInt. Returns false when it did not apply.
 */
function sdivmodSmall(
  L: Int32Array,
  H: Int32Array,
  d: number,
  bl: number,
  bh: number,
  wantRem: boolean,
): boolean {
  const bNeg = bh < 0;
  const ml = bNeg ? -bl | 0 : bl;
  const mh = bNeg ? (~bh + (bl === 0 ? 1 : 0)) | 0 : bh;
  if (mh !== 0) return false;
  const al = L[d];
  const ah = H[d];
  const aNeg = ah < 0;
  const nl = aNeg ? -al | 0 : al;
  const nh = aNeg ? (~ah + (al === 0 ? 1 : 0)) | 0 : ah;
  divmodBy32(nl, nh, ml >>> 0);
  let rl: number;
  let rh: number;
  let neg: boolean;
  if (wantRem) {
    rl = QR[2];
    rh = 0;
    neg = aNeg;
  } else {
    rl = QR[0];
    rh = QR[1];
    neg = aNeg !== bNeg;
  }
  if (neg) {
    L[d] = -rl;
    H[d] = ~rh + ((rl | 0) === 0 ? 1 : 0);
  } else {
    L[d] = rl;
    H[d] = rh;
  }
  return true;
}

/** Signed 64-bit division (truncating); by zero gives 0; INT64_MIN / -1 wraps to INT64_MIN. */
export function sdiv64(L: Int32Array, H: Int32Array, d: number, bl: number, bh: number): void {
  if (bl === 0 && bh === 0) {
    L[d] = 0;
    H[d] = 0;
    return;
  }
  const al = L[d];
  if (H[d] === al >> 31 && bh === bl >> 31) {
    setNumber(L, H, d, Math.trunc(al / bl));
    return;
  }
  if (sdivmodSmall(L, H, d, bl, bh, false)) return;
  const a = BigInt.asIntN(64, toBig(al, H[d]));
  const b = BigInt.asIntN(64, toBig(bl, bh));
  setBig(L, H, d, BigInt.asUintN(64, a / b));
}

/** Signed 64-bit modulo (sign of the dividend); by zero leaves the dividend unchanged. */
export function smod64(L: Int32Array, H: Int32Array, d: number, bl: number, bh: number): void {
  if (bl === 0 && bh === 0) return;
  const al = L[d];
  if (H[d] === al >> 31 && bh === bl >> 31) {
    const r = (al % bl) | 0;
    L[d] = r;
    H[d] = r >> 31;
    return;
  }
  if (sdivmodSmall(L, H, d, bl, bh, true)) return;
  const a = BigInt.asIntN(64, toBig(al, H[d]));
  const b = BigInt.asIntN(64, toBig(bl, bh));
  setBig(L, H, d, BigInt.asUintN(64, a % b));
}

export function lsh64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  n &= 63;
  if (n === 0) return;
  const lo = L[d];
  if (n < 32) {
    H[d] = (H[d] << n) | (lo >>> (32 - n));
    L[d] = lo << n;
  } else {
    H[d] = lo << (n - 32);
    L[d] = 0;
  }
}

export function rsh64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  n &= 63;
  if (n === 0) return;
  const hi = H[d];
  if (n < 32) {
    L[d] = (L[d] >>> n) | (hi << (32 - n));
    H[d] = hi >>> n;
  } else {
    L[d] = hi >>> (n - 32);
    H[d] = 0;
  }
}

export function arsh64(L: Int32Array, H: Int32Array, d: number, n: number): void {
  n &= 63;
  if (n === 0) return;
  const hi = H[d];
  if (n < 32) {
    L[d] = (L[d] >>> n) | (hi << (32 - n));
    H[d] = hi >> n;
  } else {
    L[d] = hi >> (n - 32);
    H[d] = hi >> 31;
  }
}

export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

export function bswap16(x: number): number {
  return ((x & 0xff) << 8) | ((x >>> 8) & 0xff);
}

/** Byte swap of the low 16/32 bits (zero-extended) or of all 64 bits. */
export function bswap(L: Int32Array, H: Int32Array, d: number, width: number): void {
  if (width === 16) {
    L[d] = bswap16(L[d]);
    H[d] = 0;
  } else if (width === 32) {
    L[d] = bswap32(L[d]);
    H[d] = 0;
  } else {
    const lo = L[d];
    L[d] = bswap32(H[d]);
    H[d] = bswap32(lo);
  }
}

/** Truncation to the low 16/32 bits (le16/le32 on a little-endian machine; le64 is a no-op). */
export function truncate(L: Int32Array, H: Int32Array, d: number, width: number): void {
  if (width === 16) {
    L[d] = L[d] & 0xffff;
    H[d] = 0;
  } else if (width === 32) {
    H[d] = 0;
  }
}

/** Unsigned a < b on halves. */
export function ltU(al: number, ah: number, bl: number, bh: number): boolean {
  return ah === bh ? al >>> 0 < bl >>> 0 : ah >>> 0 < bh >>> 0;
}

/** Signed a < b on halves. */
export function ltS(al: number, ah: number, bl: number, bh: number): boolean {
  return ah === bh ? al >>> 0 < bl >>> 0 : ah < bh;
}

/** 32-bit division (unsigned, or signed with off 1); by zero gives 0; the result zero-extended. */
export function div32(L: Int32Array, H: Int32Array, d: number, b: number, signed: boolean): void {
  if (b === 0) L[d] = 0;
  else if (signed)
    L[d] = (L[d] / b) | 0; // INT_MIN / -1 wraps to INT_MIN through ToInt32
  else L[d] = (L[d] >>> 0) / (b >>> 0);
  H[d] = 0;
}

/** 32-bit modulo; by zero leaves the dividend (zero-extended). */
export function mod32(L: Int32Array, H: Int32Array, d: number, b: number, signed: boolean): void {
  if (b !== 0) L[d] = signed ? L[d] % b : (L[d] >>> 0) % (b >>> 0);
  H[d] = 0; // by zero: the dividend, zero-extended
}
