// The BTF value codec (src/loader/values.ts): decode/encode/decode is stable for any bytes of
// any type (property test over the fixtures' types and vmlinux's structs, bitfields included),
// bitfields read what an independent whole-struct shift-and-mask reads, and the documented
// shapes (numbers, bigints, strings for C strings, enumerator names, errors) hold.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Btf } from "../../src/elf/btf/btf.js";
import { btfFromBytes } from "../../src/elf/btf/load.js";
import { openObjectSync } from "../../src/elf/object/open.js";
import { fixedObjectBtf } from "../../src/loader/btf-fixup.js";
import { type BtfValue, decodeValue, encodeValue, parseValueText } from "../../src/loader/values.js";

const fixtureBtf = (f: string): Btf => {
  const spec = openObjectSync(new Uint8Array(readFileSync(f)), { file: f });
  return btfFromBytes(fixedObjectBtf(spec)!);
};

let vmlinux: Btf | undefined;
try {
  vmlinux = btfFromBytes(new Uint8Array(readFileSync("/sys/kernel/btf/vmlinux")));
} catch {
  console.warn("SKIP vmlinux codec properties: /sys/kernel/btf/vmlinux unreadable");
}
const vkit = vmlinux ? it : it.skip;

/** Types with a layout (sizes 1..limit): structs, unions, arrays, ints, enums, DATASECs. */
function sizedTypes(btf: Btf, limit: number, kinds: readonly string[]): number[] {
  const out: number[] = [];
  for (const t of btf.types) {
    if (!kinds.includes(t.kind)) continue;
    try {
      const n = btf.sizeOf(t.id);
      if (n > 0 && n <= limit) out.push(t.id);
    } catch {
      // no layout
    }
  }
  return out;
}

function stable(btf: Btf, id: number, bytes: Uint8Array): void {
  const v = decodeValue(btf, id, bytes);
  const again = decodeValue(btf, id, encodeValue(btf, id, v));
  expect(again).toEqual(v);
}

const OBJECTS = [
  "global_data",
  "maps_btf",
  "core_fields",
  "core_types",
  "ringbuf",
  "kconfig",
  "map_in_map",
].map((n) => `test/fixtures/obj/${n}.el.v1.o`);

describe("BTF value codec", () => {
  it("decode(encode(decode(bytes))) = decode(bytes) for every sized type of the fixtures", () => {
    for (const f of OBJECTS) {
      const btf = fixtureBtf(f);
      const ids = sizedTypes(btf, 4096, [
        "STRUCT",
        "UNION",
        "ARRAY",
        "INT",
        "ENUM",
        "ENUM64",
        "TYPEDEF",
        "DATASEC",
        "FLOAT",
        "PTR",
      ]);
      expect(ids.length, f).toBeGreaterThan(3);
      for (const id of ids) {
        fc.assert(
          fc.property(fc.uint8Array({ minLength: btf.sizeOf(id), maxLength: btf.sizeOf(id) }), (b) =>
            stable(btf, id, b),
          ),
          { numRuns: 20 },
        );
      }
    }
  });

  vkit("the same for 400 vmlinux structs and unions (bitfields, anonymous members, nested arrays)", () => {
    const btf = vmlinux!;
    const ids = sizedTypes(btf, 1024, ["STRUCT", "UNION"]);
    const pick = fc.sample(fc.constantFrom(...ids), { numRuns: 400, seed: 42 });
    for (const id of pick) {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: btf.sizeOf(id), maxLength: btf.sizeOf(id) }), (b) =>
          stable(btf, id, b),
        ),
        { numRuns: 5 },
      );
    }
  });

  vkit("bitfields decode as a whole-struct little-endian shift and mask", () => {
    const btf = vmlinux!;
    const withBits = sizedTypes(btf, 256, ["STRUCT"]).filter((id) => {
      const t = btf.typeById(id);
      return t.kind === "STRUCT" && t.members.some((m) => m.bitfieldSize > 0 && m.name !== "");
    });
    expect(withBits.length).toBeGreaterThan(50);
    for (const id of withBits.slice(0, 200)) {
      const t = btf.typeById(id);
      if (t.kind !== "STRUCT") continue;
      fc.assert(
        fc.property(fc.uint8Array({ minLength: t.size, maxLength: t.size }), (b) => {
          const v = decodeValue(btf, id, b) as Record<string, BtfValue>;
          let whole = 0n;
          for (let i = b.length - 1; i >= 0; i--) whole = (whole << 8n) | BigInt(b[i]!);
          for (const m of t.members) {
            if (m.bitfieldSize === 0 || m.name === "") continue;
            let x = (whole >> BigInt(m.bitOffset)) & ((1n << BigInt(m.bitfieldSize)) - 1n);
            const mt = btf.typeById(btf.resolve(m.type));
            if (mt.kind === "INT" && mt.encoding & 4) {
              expect(v[m.name]).toBe(x === 0n ? false : x === 1n ? true : Number(x));
              continue;
            }
            if ((mt.kind === "INT" && mt.encoding & 1) || (mt.kind === "ENUM" && mt.signed))
              x = BigInt.asIntN(m.bitfieldSize, x);
            expect(BigInt(v[m.name] as number | bigint), `${btf.typeString(id)}.${m.name}`).toBe(x);
          }
        }),
        { numRuns: 10 },
      );
    }
  });

  it("documented shapes: ints, u64 as bigint, C strings, enum names, DATASEC objects, errors", () => {
    const btf = fixtureBtf("test/fixtures/obj/global_data.el.v1.o");
    const rodata = btf.findByName(".rodata", "DATASEC")!.id;
    const bytes = encodeValue(btf, rodata, { target_pid: -1, verbose: true, greeting: "héllo" });
    expect(bytes.length).toBe(btf.sizeOf(rodata));
    const v = decodeValue(btf, rodata, bytes) as Record<string, BtfValue>;
    // target_pid is a __u32: -1 goes in as two's complement, as C assignment does.
    expect(v).toMatchObject({ target_pid: 4294967295, verbose: true, greeting: "héllo" });
    const data = btf.findByName(".data", "DATASEC")!.id;
    expect(
      (decodeValue(btf, data, encodeValue(btf, data, { calls: 2n ** 63n })) as Record<string, BtfValue>)
        .calls,
    ).toBe(2n ** 63n);
    // A char array that is not a C string comes back as its bytes, losslessly.
    const tag = encodeValue(btf, data, { tag: [116, 0, 98, 102] });
    expect((decodeValue(btf, data, tag) as Record<string, BtfValue>).tag).toEqual([116, 0, 98, 102]);
    expect(() => encodeValue(btf, rodata, { greeting: "much too long" })).toThrow(/longer than 8 bytes/);
    expect(() => encodeValue(btf, rodata, { nope: 1 })).toThrow(/has no member 'nope'/);
    expect(() => encodeValue(btf, rodata, { verbose: 1, target_pid: 2 ** 40 })).toThrow(
      /does not fit in 32 bits/,
    );
    expect(parseValueText(btf, btf.findByName("target_pid", "VAR")!.id, "0x10")).toBe("0x10");
    // Enumerators by name (core_types has enums).
    const ct = fixtureBtf("test/fixtures/obj/core_types.el.v1.o");
    const e = ct.types.find((t) => t.kind === "ENUM" && t.values.length > 1);
    if (e && e.kind === "ENUM") {
      const last = e.values[e.values.length - 1]!;
      expect(decodeValue(ct, e.id, encodeValue(ct, e.id, last.name))).toBe(last.value);
    }
    // No BTF: numbers for the common sizes, bytes otherwise.
    expect(encodeValue(undefined, 0, 258, 4)).toEqual(Uint8Array.from([2, 1, 0, 0]));
    expect(decodeValue(undefined, 0, Uint8Array.from([1, 2]))).toEqual(Uint8Array.from([1, 2]));
  });
});
