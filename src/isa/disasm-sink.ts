/**
 * A growable byte buffer the disassembler writes its text into. Building a 100k-line listing
 * from small strings costs most of its time in allocation and garbage collection; writing ASCII
 * bytes straight into one buffer and decoding once at the end is several times faster.
 */
const HEX_DIGITS = "0123456789abcdef";
const HEX_CODES: readonly number[] = Array.from(HEX_DIGITS, (c) => c.charCodeAt(0));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class TextSink {
  private buf: Uint8Array;
  private len = 0;

  constructor(initial = 1 << 16) {
    this.buf = new Uint8Array(initial);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  /** Append a string (UTF-8). */
  push(s: string): void {
    const n = s.length;
    this.reserve(n);
    const buf = this.buf;
    let at = this.len;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        // Non-ASCII (symbol names): let the encoder do the rest of the string.
        this.len = at;
        const rest = encoder.encode(s.slice(i));
        this.reserve(rest.length);
        this.buf.set(rest, this.len);
        this.len += rest.length;
        return;
      }
      buf[at++] = c;
    }
    this.len = at;
  }

  /** Append one ASCII character code. */
  char(c: number): void {
    this.reserve(1);
    this.buf[this.len++] = c;
  }

  /** Append `count` bytes of `src` from `from` as hex pairs separated by spaces. */
  hexBytes(src: Uint8Array, from: number, count: number): void {
    this.reserve(count * 3);
    const buf = this.buf;
    let at = this.len;
    for (let k = 0; k < count; k++) {
      if (k > 0) buf[at++] = 0x20;
      const b = src[from + k];
      buf[at++] = HEX_CODES[b >> 4];
      buf[at++] = HEX_CODES[b & 15];
    }
    this.len = at;
  }

  /** Append a non-negative safe integer in decimal, right-aligned in `width` columns. */
  decimal(value: number, width: number): void {
    this.reserve(width + 16);
    let digits = 1;
    for (let v = value; v >= 10; v = Math.floor(v / 10)) digits++;
    const buf = this.buf;
    let at = this.len;
    for (let i = digits; i < width; i++) buf[at++] = 0x20;
    let end = at + digits;
    this.len = end;
    let v = value;
    do {
      buf[--end] = 0x30 + (v % 10);
      v = Math.floor(v / 10);
    } while (v > 0);
  }

  toString(): string {
    return decoder.decode(this.buf.subarray(0, this.len));
  }
}
