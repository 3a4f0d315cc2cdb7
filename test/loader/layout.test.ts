// The generic struct encoder/decoder: every field kind round-trips, both spellings of negative
// values are accepted, out-of-range values and unknown fields are refused with LoaderError.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LoaderError } from "../../src/loader/errors.js";
import {
  bit,
  bytes,
  cString,
  decodeStruct,
  encodeStruct,
  layout,
  s32,
  u8,
  u16,
  u32,
  u64,
} from "../../src/loader/layout.js";

const L = layout("struct t", "", {
  a: u8(0),
  b: u16(2),
  c: u32(4),
  d: s32(8),
  e: u64(16),
  name: bytes(24, 8),
  flag: bit(32, 3),
  ptr: u64(40),
});
const noAddr = (): bigint => {
  throw new Error("no pointer expected");
};

describe("struct layouts", () => {
  it("size is the end of the furthest field", () => {
    expect(L.size).toBe(48);
  });

  it("numbers round-trip through encode/decode (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.boolean(),
        (a, b, c, d, e, flag) => {
          const buf = encodeStruct(L, { a, b, c, d, e, flag }, noAddr);
          expect(decodeStruct(L, buf)).toMatchObject({ a, b, c, d, e, flag: flag ? 1 : 0 });
        },
      ),
    );
  });

  it("negative values are taken modulo the field width, like C", () => {
    const buf = encodeStruct(L, { c: -1, e: -2n }, noAddr);
    expect(decodeStruct(L, buf)).toMatchObject({ c: 0xffffffff, e: (1n << 64n) - 2n });
  });

  it("pointer fields store the address of the given bytes; char arrays hold strings", () => {
    const target = new Uint8Array(4);
    const buf = encodeStruct(L, { ptr: target, name: "abc" }, (b) => (b === target ? 0x1234n : 0n));
    const d = decodeStruct(L, buf);
    expect(d.ptr).toBe(0x1234n);
    expect(cString(d.name as Uint8Array)).toBe("abc");
  });

  it("refuses out-of-range values, oversized strings and unknown fields", () => {
    expect(() => encodeStruct(L, { a: 256 }, noAddr)).toThrow(LoaderError);
    expect(() => encodeStruct(L, { c: 2 ** 32 }, noAddr)).toThrow(/c: 4294967296 out of range/);
    expect(() => encodeStruct(L, { c: 1.5 }, noAddr)).toThrow(/not an integer/);
    expect(() => encodeStruct(L, { e: 1n << 64n }, noAddr)).toThrow(/out of range/);
    expect(() => encodeStruct(L, { name: "123456789" }, noAddr)).toThrow(/9 bytes do not fit in 8/);
    expect(() => encodeStruct(L, { nope: 1 } as never, noAddr)).toThrow(/no field nope/);
  });
});
