/**
 * Property tests. Bitfields: for any placement of a bitfield in the target (both byte orders,
 * every integer width, signed or not), the values CO-RE patches in (byte offset, byte size, left
 * and right shift, signedness) must extract exactly that field from memory, simulated here bit by
 * bit; and relocation must refuse exactly the fields no aligned 8-byte load covers. Robustness:
 * random records (any type id, access string, kind, instruction, slot) and mutated target BTF end
 * in a result or a typed error, never anything else, and never hang.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Btf } from "../../src/elf/btf/btf.js";
import { btfFromBytes } from "../../src/elf/btf/load.js";
import { parseBtf } from "../../src/elf/btf/parse.js";
import { CORE_ERROR, CoreReloKind as K, relocateInstructions } from "../../src/elf/core/index.js";
import { BtfError, TsbpfError } from "../../src/errors.js";
import { type Instruction, insn, ldImm64 } from "../../src/isa/instruction.js";
import { BtfBuilder } from "../btf/btf-builder.js";

const INT_NAMES: Record<number, string> = { 1: "char", 2: "short", 4: "int", 8: "long" };

interface Placement {
  readonly size: 1 | 2 | 4 | 8;
  readonly signed: boolean;
  readonly bitOff: number;
  readonly bitSz: number;
  readonly structBytes: number;
}

/** One struct `s` with a single bitfield member `f` (plus a named int so the struct is not trivial). */
function bitfieldBtf(p: Placement, le: boolean): Btf {
  const b = new BtfBuilder();
  const t = b.int(`${p.signed ? "" : "unsigned "}${INT_NAMES[p.size]}`, p.size, p.size * 8, p.signed ? 1 : 0);
  b.struct("s", p.structBytes, [{ name: "f", type: t, bitOffset: p.bitOff, bitfieldSize: p.bitSz }]);
  return parseBtf(b.bytes({ littleEndian: le }));
}

const placement: fc.Arbitrary<Placement> = fc
  .record({
    size: fc.constantFrom<1 | 2 | 4 | 8>(1, 2, 4, 8),
    signed: fc.boolean(),
    unit: fc.integer({ min: 0, max: 6 }),
    within: fc.nat(),
    bits: fc.nat(),
  })
  .map(({ size, signed, unit, within, bits }) => {
    const bitSz = 1 + (bits % (size * 8));
    // Anywhere in a few storage units; a field may straddle its unit (packed layouts do).
    const bitOff = unit * size * 8 + (within % (size * 8));
    const structBytes = Math.ceil((bitOff + bitSz) / 8 / size) * size + 8;
    return { size, signed, bitOff, bitSz, structBytes };
  });

/** Set bit i of the struct (LE: LSB-first within a byte; BE: MSB-first). */
function writeField(mem: Uint8Array, p: Placement, value: bigint, le: boolean): void {
  for (let k = 0; k < p.bitSz; k++) {
    // LE: the field's bit k (from its LSB) is struct bit bitOff + k; BE: its MSB comes first.
    const i = le ? p.bitOff + k : p.bitOff + (p.bitSz - 1 - k);
    const byte = i >> 3;
    const bit = le ? i & 7 : 7 - (i & 7);
    const on = ((value >> BigInt(k)) & 1n) === 1n;
    mem[byte] = on ? mem[byte] | (1 << bit) : mem[byte] & ~(1 << bit);
  }
}

function load(mem: Uint8Array, off: number, size: number, le: boolean): bigint {
  let v = 0n;
  for (let j = 0; j < size; j++) {
    const byte = BigInt(mem[off + (le ? size - 1 - j : j)]);
    v = (v << 8n) | byte;
  }
  return v;
}

describe("bitfield relocations extract the field", () => {
  for (const le of [true, false]) {
    it(`${le ? "little" : "big"}-endian targets`, () => {
      fc.assert(
        fc.property(
          placement,
          fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          fc.uint8Array({ minLength: 80, maxLength: 80 }),
          (p, raw, noise) => {
            // The local view: the same field, one bit wide, at bit 0 (its own values are not checked
            // for bitfields, except right shift and signedness, which the instructions carry).
            const localP: Placement = { size: 4, signed: p.signed, bitOff: 0, bitSz: 1, structBytes: 4 };
            const localBtf = bitfieldBtf(localP, le);
            const targetBtf = bitfieldBtf(p, le);
            const kinds = [
              K.FIELD_BYTE_OFFSET,
              K.FIELD_BYTE_SIZE,
              K.FIELD_LSHIFT_U64,
              K.FIELD_RSHIFT_U64,
              K.FIELD_SIGNED,
            ];
            const localImm = [0, 4, 0, 63, p.signed ? 1 : 0];
            const insns = localImm.map((imm) => insn(0xb7, 1, 0, 0, imm));
            const records = kinds.map((kindId, slot) => ({ slot, typeId: 2, access: "0:0", kindId }));
            const { insns: out, results } = relocateInstructions(localBtf, targetBtf, insns, records);

            const straddles = Math.floor(p.bitOff / 64) !== Math.floor((p.bitOff + p.bitSz - 1) / 64);
            if (straddles) {
              for (const r of results.slice(0, 3)) expect(r.error?.code).toBe(CORE_ERROR.BITFIELD);
              return;
            }
            for (const r of results) expect(r.outcome).toBe("patched");
            const [byteOff, byteSz, lshift, rshift, signed] = out.map((i) => i.imm);
            expect([1, 2, 4, 8]).toContain(byteSz);
            expect(byteOff % byteSz).toBe(0);
            expect(byteOff * 8 <= p.bitOff && p.bitOff + p.bitSz <= (byteOff + byteSz) * 8).toBe(true);
            expect(signed).toBe(p.signed ? 1 : 0);

            const mem = noise.slice(0, p.structBytes);
            const value = raw & ((1n << BigInt(p.bitSz)) - 1n);
            writeField(mem, p, value, le);
            const shifted = BigInt.asUintN(64, load(mem, byteOff, byteSz, le) << BigInt(lshift));
            const got = p.signed ? BigInt.asIntN(64, shifted) >> BigInt(rshift) : shifted >> BigInt(rshift);
            const want = p.signed ? BigInt.asIntN(p.bitSz, value) : value;
            expect(got).toBe(want);
          },
        ),
        { numRuns: 400 },
      );
    });
  }
});

// ---- robustness ----

const OBJ = join(import.meta.dirname, "..", "fixtures", "obj");
const localBtfs: readonly Btf[] = ["core_fields.el.v3.o", "core_types.el.v3.o", "core.eb.v3.o"].map((f) =>
  btfFromBytes(new Uint8Array(readFileSync(join(OBJ, f))), { file: f }),
);
// The .BTF of other objects are fine small "kernels": the same names, other layouts.
const targetBytes: readonly Uint8Array[] = ["core.el.v3.o", "core_subprog.el.v3.o"].map(
  (f) => new Uint8Array(readFileSync(join(OBJ, f))),
);

const instruction: fc.Arbitrary<Instruction> = fc.oneof(
  fc
    .record({
      opcode: fc.oneof(
        fc.constantFrom(0xb7, 0x07, 0x61, 0x79, 0x63, 0x62, 0xbf, 0x85, 0x05),
        fc.integer({ min: 0, max: 255 }),
      ),
      dst: fc.integer({ min: 0, max: 10 }),
      src: fc.integer({ min: 0, max: 10 }),
      off: fc.integer({ min: -32768, max: 32767 }),
      imm: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    })
    .filter((i) => i.opcode !== 0x18),
  fc
    .tuple(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.integer({ min: 0, max: 6 }))
    .map(([v, src]) => ldImm64(1, v, src)),
);

const accessString = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 140 }), { minLength: 1, maxLength: 6 }).map((a) => a.join(":")),
  fc.constantFrom("0", "", ":", "0:", "-1", "0::1", "99999999999", "0:1:x", " 1", "0:0:0:0:0:0:0:0:0:0"),
  fc.string({ maxLength: 12 }),
);

function record(btf: Btf, slots: number) {
  return fc.record({
    slot: fc.oneof(fc.integer({ min: 0, max: slots + 2 }), fc.constantFrom(-1, 0.5)),
    typeId: fc.oneof(fc.integer({ min: 0, max: btf.typeCount + 3 }), fc.constantFrom(-1, 2 ** 32)),
    access: accessString,
    kindId: fc.integer({ min: -1, max: 14 }),
  });
}

function expectTypedOrNothing(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof TsbpfError)) throw e;
  }
}

describe("random records never end in anything but results or typed errors", () => {
  for (const [i, local] of localBtfs.entries()) {
    it(`local BTF #${i}`, () => {
      const target = btfFromBytes(targetBytes[i % targetBytes.length]);
      fc.assert(
        fc.property(
          fc.array(instruction, { minLength: 1, maxLength: 8 }),
          fc.array(record(local, 10), { maxLength: 6 }),
          (insns, records) => {
            const { results } = relocateInstructions(local, target, insns, records);
            expect(results).toHaveLength(records.length);
            for (const r of results) {
              expect(["patched", "poisoned", "failed"]).toContain(r.outcome);
              if (r.outcome === "failed") expect(r.error?.code).toMatch(/^(CORE|BTF)_/);
            }
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it("mutated target BTF: typed errors only, and it finishes", () => {
    const seed = btfFromBytes(targetBytes[0]);
    const local = localBtfs[0];
    const elfBtf = (() => {
      // The raw .BTF section of the seed object, to mutate its type words.
      const bytes = targetBytes[0];
      const text = Buffer.from(bytes);
      const at = text.indexOf(Buffer.from([0x9f, 0xeb, 0x01, 0x00]));
      const hdrLen = text.readUInt32LE(at + 4);
      const strOff = text.readUInt32LE(at + 16);
      const strLen = text.readUInt32LE(at + 20);
      return bytes.slice(at, at + hdrLen + strOff + strLen);
    })();
    expect(parseBtf(elfBtf).typeCount).toBe(seed.typeCount);
    const typeWords = (elfBtf.length - 24) >> 2;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0xffffffff })), { minLength: 1, maxLength: 6 }),
        fc.array(record(local, 4), { minLength: 1, maxLength: 4 }),
        (edits, records) => {
          const bytes = elfBtf.slice();
          const view = new DataView(bytes.buffer);
          for (const [where, value] of edits) view.setUint32(24 + 4 * (where % typeWords), value, true);
          let target: Btf;
          try {
            target = parseBtf(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(BtfError);
            return;
          }
          expectTypedOrNothing(() => {
            const { results } = relocateInstructions(local, target, [insn(0xb7, 1, 0, 0, 0)], records);
            for (const r of results)
              if (r.outcome === "failed") expect(r.error?.code).toMatch(/^(CORE|BTF)_/);
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
