/**
 * Mutated BTF (byte flips, truncation, header fields and type words overwritten) must either
 * parse or fail with BtfError; whatever parses must survive every query and both dumps with
 * nothing but BtfError, and finish: a mutated reference easily makes a cycle (a pointer to
 * itself through typedefs, a struct embedding itself).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Btf, dumpBtfC, dumpBtfJson, dumpBtfRaw, parseBtf } from "../../src/elf/btf/index.js";
import { readElf } from "../../src/elf/reader.js";
import { BtfError } from "../../src/errors.js";
import { BtfBuilder, KIND } from "./btf-builder.js";

const SAMPLE = join(import.meta.dirname, "..", "fixtures", "golden", "btf-vmlinux-sample");

function seedFromObject(file: string): Uint8Array {
  const elf = readElf(new Uint8Array(readFileSync(join(SAMPLE, file))));
  return elf.section(".BTF")!.data.slice();
}

function seedHandMade(): Uint8Array {
  const b = new BtfBuilder();
  const int = b.int("int", 4, 32, 1);
  const ptr = b.ref(KIND.PTR, 5);
  const s = b.struct("node", 16, [
    { name: "v", type: int, bitOffset: 0, bitfieldSize: 7 },
    { name: "next", type: ptr, bitOffset: 64 },
  ]);
  const arr = b.array(s, int, 2);
  b.ref(KIND.TYPEDEF, s, "node_t"); // 5
  b.funcProto(int, [
    ["n", ptr],
    ["", 0],
  ]);
  b.enumType("e", 4, [["A", 1]]);
  b.ref(KIND.CONST, arr);
  return b.bytes();
}

const SEEDS: readonly Uint8Array[] = [
  seedFromObject("tricky.el.o"),
  seedFromObject("tricky.eb.o"),
  seedHandMade(),
];

function onlyBtfError(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof BtfError)) throw e;
  }
}

/** Every public query on every type, and both dumps. */
function exercise(btf: Btf): void {
  for (let id = 0; id < btf.typeCount; id++) {
    onlyBtfError(() => btf.typeById(id));
    onlyBtfError(() => btf.resolve(id));
    onlyBtfError(() => btf.sizeOf(id));
    onlyBtfError(() => btf.alignOf(id));
    onlyBtfError(() => btf.typeString(id));
  }
  onlyBtfError(() => btf.types);
  onlyBtfError(() => btf.findByName("node"));
  onlyBtfError(() => dumpBtfRaw(btf));
  onlyBtfError(() => dumpBtfC(btf));
  onlyBtfError(() => dumpBtfJson(btf));
}

function check(bytes: Uint8Array): void {
  let btf: Btf | undefined;
  try {
    btf = parseBtf(bytes);
  } catch (e) {
    if (!(e instanceof BtfError)) throw e;
    expect(e.message.length).toBeGreaterThan(0);
    return;
  }
  exercise(btf);
}

type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "truncate"; len: number }
  | { op: "header"; field: number; value: number }
  | { op: "word"; at: number; value: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant("truncate" as const), len: fc.nat() }),
  fc.record({
    op: fc.constant("header" as const),
    field: fc.integer({ min: 1, max: 5 }),
    value: fc.oneof(fc.nat({ max: 4096 }), fc.nat(), fc.constant(0xffffffff)),
  }),
  // Small values look like type ids: the way to make reference cycles.
  fc.record({
    op: fc.constant("word" as const),
    at: fc.nat(),
    value: fc.oneof(fc.nat({ max: 40 }), fc.nat(), fc.constant(0xffffffff)),
  }),
);

function apply(seed: Uint8Array, muts: readonly Mutation[]): Uint8Array {
  let b = seed.slice();
  const le = b[0] === 0x9f;
  for (const m of muts) {
    if (b.length === 0) break;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    switch (m.op) {
      case "flip":
        b[m.at % b.length] ^= 1 << m.bit;
        break;
      case "truncate":
        b = b.slice(0, m.len % (b.length + 1));
        break;
      case "header":
        if (b.length >= 4 + m.field * 4) v.setUint32(m.field * 4, m.value >>> 0, le);
        break;
      case "word": {
        // Aim inside the type section (it starts right after the 24-byte header in the seeds).
        const words = Math.floor((b.length - 24) / 4);
        if (words > 0) v.setUint32(24 + (m.at % words) * 4, m.value >>> 0, le);
        break;
      }
    }
  }
  return b;
}

describe("mutated BTF fails only with BtfError and never hangs", () => {
  it("seeds parse and dump cleanly", () => {
    for (const s of SEEDS) {
      const btf = parseBtf(s);
      expect(dumpBtfC(btf).length).toBeGreaterThan(0);
    }
  });

  it("random mutations", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: SEEDS.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (si, muts) => {
          check(apply(SEEDS[si], muts));
        },
      ),
      { numRuns: Number(process.env.BTF_FUZZ_RUNS ?? 1500) },
    );
  }, 120_000);

  it("every single type word set to each small id", () => {
    // Exhaustive on the hand-made seed: every reference re-pointed at every type id.
    const seed = SEEDS[2];
    const words = Math.floor((seed.length - 24) / 4);
    for (let w = 0; w < words; w++) {
      for (let value = 0; value < 12; value++) check(apply(seed, [{ op: "word", at: w, value }]));
    }
  }, 120_000);
});
