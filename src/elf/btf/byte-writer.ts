/**
 * An append-only byte buffer for dumps that are mostly digits and names copied straight from the
 * BTF string table: no per-name JS string is ever made, which is what makes the raw dump of a
 * 126k-type vmlinux cheap.
 */
const encoder = new TextEncoder();

export class ByteWriter {
  buf: Uint8Array;
  len = 0;

  constructor(initial = 1 << 16) {
    this.buf = new Uint8Array(initial);
  }

  ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buf.subarray(0, this.len));
    this.buf = grown;
  }

  /** Append pre-encoded bytes (see `ascii`). */
  raw(bytes: Uint8Array): void {
    const n = bytes.length;
    if (this.len + n > this.buf.length) this.ensure(n);
    if (n < 24) {
      // A loop beats TypedArray.set for the short keyword pieces that dominate.
      const buf = this.buf;
      let at = this.len;
      for (let i = 0; i < n; i++) buf[at++] = bytes[i];
      this.len = at;
      return;
    }
    this.buf.set(bytes, this.len);
    this.len += n;
  }

  byte(b: number): void {
    if (this.len === this.buf.length) this.ensure(1);
    this.buf[this.len++] = b;
  }

  /** Any JS string (UTF-8 encoded). */
  text(s: string): void {
    this.raw(encoder.encode(s));
  }

  /** An unsigned 32-bit number in decimal. */
  u32(n: number): void {
    if (this.len + 10 > this.buf.length) this.ensure(10);
    const buf = this.buf;
    if (n < 10) {
      buf[this.len++] = 48 + n;
      return;
    }
    if (n < 100) {
      const q = (n * 205) >>> 11; // n / 10 for n < 1029
      buf[this.len] = 48 + q;
      buf[this.len + 1] = 48 + n - q * 10;
      this.len += 2;
      return;
    }
    const digits =
      n < 1000
        ? 3
        : n < 10000
          ? 4
          : n < 100000
            ? 5
            : n < 1000000
              ? 6
              : n < 1e7
                ? 7
                : n < 1e8
                  ? 8
                  : n < 1e9
                    ? 9
                    : 10;
    let at = this.len + digits;
    this.len = at;
    while (n >= 10) {
      const q = Math.floor(n / 10);
      buf[--at] = 48 + (n - q * 10);
      n = q;
    }
    buf[--at] = 48 + n;
  }

  /** A signed 32-bit number (the word reinterpreted) in decimal. */
  i32(word: number): void {
    const v = word | 0;
    if (v < 0) {
      this.byte(45);
      this.u32(-v);
    } else {
      this.u32(v);
    }
  }

  /** Copy a NUL-terminated string from `table` starting at `off` (without the NUL). */
  cstr(table: Uint8Array, off: number): void {
    let end = off;
    while (table[end] !== 0) end++;
    const n = end - off;
    if (this.len + n > this.buf.length) this.ensure(n);
    const buf = this.buf;
    let at = this.len;
    for (let i = off; i < end; i++) buf[at++] = table[i];
    this.len = at;
  }

  /** The bytes as a string: latin1 when ASCII-only (fast), else UTF-8. */
  toString(ascii: boolean): string {
    const b = Buffer.from(this.buf.buffer, this.buf.byteOffset, this.len);
    return ascii ? b.toString("latin1") : b.toString("utf8");
  }
}

export function ascii(s: string): Uint8Array {
  return encoder.encode(s);
}
