/**
 * The CO-RE algorithm on small BTFs built here, no kernel involved: a local BTF as clang would
 * write it for a program, and target BTFs with fields moved, renamed or missing, flavors,
 * anonymous members, arrays, bitfields, enums and enum64, several candidates. Expected values
 * follow from the C layout written in each case (offsets are the sums of the member offsets
 * given to the builder), never from running the code under test.
 */
import { describe, expect, it } from "vitest";
import type { Btf } from "../../src/elf/btf/btf.js";
import { parseBtf } from "../../src/elf/btf/parse.js";
import {
  CORE_ERROR,
  CORE_POISON_HELPER,
  type CoreRecordInput,
  coreContext,
  coreFailure,
  essentialName,
  CoreReloKind as K,
  relocateInstructions,
} from "../../src/elf/core/index.js";
import { type Instruction, imm64, insn, ldImm64 } from "../../src/isa/instruction.js";
import { BtfBuilder, info, KIND } from "../btf/btf-builder.js";

const SIGNED = 1;

function btf(build: (b: BtfBuilder) => void): Btf {
  const b = new BtfBuilder();
  build(b);
  return parseBtf(b.bytes());
}

function enum64(b: BtfBuilder, name: string, values: readonly [string, bigint][], signed = false): number {
  const w = [b.str(name), info(KIND.ENUM64, values.length, signed), 8];
  for (const [n, v] of values) {
    const u = BigInt.asUintN(64, v);
    w.push(b.str(n), Number(u & 0xffffffffn), Number(u >> 32n));
  }
  return b.raw(...w);
}

// ---- the local BTF (ids are fixed by the order of creation) ----
const L = {
  int: 1,
  uint: 2,
  long: 3,
  ulong: 4,
  arr4: 5,
  foo: 6,
  fooV2: 7,
  color: 8,
  ptrFoo: 9,
  anon: 10,
  bar: 11,
  missing: 12,
  narrow: 13,
  pidT: 14,
} as const;
const local = btf((b) => {
  b.int("int", 4, 32, SIGNED); // 1
  b.int("unsigned int", 4, 32); // 2
  b.int("long", 8, 64, SIGNED); // 3
  b.int("unsigned long", 8, 64); // 4
  b.array(L.int, L.int, 4); // 5 int[4]
  // 6: struct foo { int a; int b; unsigned bf1:3; unsigned bf2:5; int arr[4]; unsigned int u; int s; int gone; }
  b.struct("foo", 40, [
    { name: "a", type: L.int, bitOffset: 0 },
    { name: "b", type: L.int, bitOffset: 32 },
    { name: "bf1", type: L.uint, bitOffset: 64, bitfieldSize: 3 },
    { name: "bf2", type: L.uint, bitOffset: 67, bitfieldSize: 5 },
    { name: "arr", type: L.arr4, bitOffset: 96 },
    { name: "u", type: L.uint, bitOffset: 224 },
    { name: "s", type: L.int, bitOffset: 256 },
    { name: "gone", type: L.int, bitOffset: 288 },
  ]);
  b.struct("foo___v2", 4, [{ name: "c", type: L.int, bitOffset: 0 }]); // 7
  b.enumType("color", 4, [
    ["RED", 0],
    ["GREEN", 1],
    ["BLUE", 2],
    ["PURPLE", 3],
  ]); // 8
  b.ref(KIND.PTR, L.foo); // 9
  b.struct("", 4, [{ name: "x", type: L.int, bitOffset: 0 }]); // 10 anonymous
  b.struct("bar", 8, [
    { name: "x", type: L.int, bitOffset: 0 },
    { name: "y", type: L.int, bitOffset: 32 },
  ]); // 11
  b.struct("not_in_target", 4, [{ name: "x", type: L.int, bitOffset: 0 }]); // 12
  b.struct("narrow", 8, [
    { name: "p", type: L.int, bitOffset: 0 },
    { name: "q", type: L.int, bitOffset: 32 },
  ]); // 13
  b.ref(KIND.TYPEDEF, L.int, "pid_t"); // 14
});

// ---- the target ----
const T = {
  int: 1,
  uint: 2,
  long: 3,
  ulong: 4,
  arr2: 5,
  anonUnion: 6,
  foo: 7,
  color: 8,
  bar: 9,
  barDup: 10,
  narrow: 11,
  narrow2: 12,
  kernelPid: 13,
  pidT: 14,
} as const;
const target = btf((b) => {
  b.int("int", 4, 32, SIGNED); // 1
  b.int("unsigned int", 4, 32); // 2
  b.int("long", 8, 64, SIGNED); // 3
  b.int("unsigned long", 8, 64); // 4
  b.array(T.int, T.int, 2); // 5 int[2]
  // 6: union { int a; long alias; }
  b.struct(
    "",
    8,
    [
      { name: "a", type: T.int, bitOffset: 0 },
      { name: "alias", type: T.long, bitOffset: 0 },
    ],
    true,
  );
  // 7: struct foo { long pad; int b; union {int a; long alias;} (at 16); pad bits; bf1:3 at bit 197;
  //    bf2:5 at bit 200; int arr[2] at 28; unsigned long u at 40; long s at 48; int c at 56 }
  b.struct("foo", 64, [
    { name: "pad", type: T.long, bitOffset: 0 },
    { name: "b", type: T.int, bitOffset: 64 },
    { name: "", type: T.anonUnion, bitOffset: 128 },
    { name: "bf1", type: T.uint, bitOffset: 197, bitfieldSize: 3 },
    { name: "bf2", type: T.uint, bitOffset: 200, bitfieldSize: 5 },
    { name: "arr", type: T.arr2, bitOffset: 224 },
    { name: "u", type: T.ulong, bitOffset: 320 },
    { name: "s", type: T.long, bitOffset: 384 },
    { name: "c", type: T.int, bitOffset: 448 },
  ]);
  b.enumType("color", 4, [
    ["BLUE", 7],
    ["RED", 0],
    ["GREEN", 0x80000000],
  ]); // 8 (no PURPLE)
  b.struct("bar", 4, [{ name: "x", type: T.int, bitOffset: 0 }]); // 9: no y
  b.struct("bar___2", 8, [
    { name: "x", type: T.int, bitOffset: 0 },
    { name: "y", type: T.int, bitOffset: 32 },
  ]); // 10
  b.struct("narrow", 8, [
    { name: "p", type: T.int, bitOffset: 0 },
    { name: "q", type: T.int, bitOffset: 32 },
  ]); // 11
  b.struct("narrow___x", 12, [
    { name: "p", type: T.int, bitOffset: 32 },
    { name: "q", type: T.int, bitOffset: 64 },
  ]); // 12
  b.ref(KIND.TYPEDEF, T.int, "__kernel_pid_t"); // 13
  b.ref(KIND.TYPEDEF, T.kernelPid, "pid_t"); // 14
});

/** Two flavors of foo whose b sits at different offsets: an ambiguous target. */
const ambiguous = btf((b) => {
  b.int("int", 4, 32, SIGNED);
  b.struct("foo", 8, [{ name: "b", type: 1, bitOffset: 0 }]);
  b.struct("foo___2", 8, [{ name: "b", type: 1, bitOffset: 32 }]);
});

const movImm = (imm: number): Instruction => insn(0xb7, 1, 0, 0, imm); // r1 = imm (ALU64 K)
const ldxW = (off: number): Instruction => insn(0x61, 1, 2, off, 0); // r1 = *(u32 *)(r2 + off)

function run(insns: Instruction[], records: CoreRecordInput[], tgt: Btf = target) {
  return relocateInstructions(local, tgt, insns, records);
}

function one(kindId: number, typeId: number, access: string, ins: Instruction) {
  const { insns, results } = run([ins], [{ slot: 0, typeId, access, kindId }]);
  return { insn: insns[0], insns, r: results[0] };
}

describe("essential names", () => {
  it("strip the last ___flavor only between non-underscores", () => {
    expect(essentialName("task_struct___pre514")).toBe("task_struct");
    expect(essentialName("a___b___c")).toBe("a___b");
    expect(essentialName("a____b")).toBe("a____b");
    expect(essentialName("___x")).toBe("___x");
    expect(essentialName("x___")).toBe("x___");
    expect(essentialName("plain")).toBe("plain");
  });
});

describe("field relocations", () => {
  it("a field moved into an anonymous union is found through it", () => {
    const { insn: out, r } = one(K.FIELD_BYTE_OFFSET, L.foo, "0:0", movImm(0));
    expect(r.outcome).toBe("patched");
    // a: anonymous member #2 at bit 128, then member #0 of the union: byte 16.
    expect(r.targetSpecText).toBe("<byte_off> [7] struct foo.a (0:2:0 @ offset 16)");
    expect(r.localSpecText).toBe("<byte_off> [6] struct foo.a (0:0 @ offset 0)");
    expect(out.imm).toBe(16);
  });

  it("a moved field patches a load's offset; same size keeps the opcode", () => {
    const { insn: out, r } = one(K.FIELD_BYTE_OFFSET, L.foo, "0:1", ldxW(4));
    expect(r).toMatchObject({ outcome: "patched", insnClass: "LDX/ST/STX", oldValue: 4n, newValue: 8n });
    expect(out).toMatchObject({ opcode: 0x61, off: 8 });
  });

  it("an unsigned int that became an unsigned long widens the load to 8 bytes", () => {
    const { insn: out, r } = one(K.FIELD_BYTE_OFFSET, L.foo, "0:5", ldxW(28));
    expect(r.memSize).toEqual({ from: 4, to: 8 });
    expect(out).toMatchObject({ opcode: 0x79, off: 40 }); // LDX DW
  });

  it("a signed int that became a long poisons the load (it would misread)", () => {
    const { insn: out, r } = one(K.FIELD_BYTE_OFFSET, L.foo, "0:6", ldxW(32));
    expect(r.outcome).toBe("poisoned");
    expect(r.warning).toMatch(/accesses field incorrectly/);
    expect(out).toEqual({ opcode: 0x85, dst: 0, src: 0, off: 0, imm: CORE_POISON_HELPER });
  });

  it("stores (STX and ST) are patched like loads", () => {
    const stx = one(K.FIELD_BYTE_OFFSET, L.foo, "0:1", insn(0x63, 2, 1, 4, 0));
    expect(stx.insn).toMatchObject({ opcode: 0x63, off: 8 });
    const st = one(K.FIELD_BYTE_OFFSET, L.foo, "0:1", insn(0x62, 2, 0, 4, 99));
    expect(st.insn).toMatchObject({ opcode: 0x62, off: 8, imm: 99 });
  });

  it("a missing field: exists is 0, its offset poisons the instruction", () => {
    const ex = one(K.FIELD_EXISTS, L.foo, "0:7", movImm(1));
    expect(ex.r.outcome).toBe("patched");
    expect(ex.insn.imm).toBe(0);
    expect(ex.r.candidates).toEqual([
      {
        id: T.foo,
        source: "vmlinux",
        type: "struct foo",
        matched: false,
        spec: "<field_exists> [7] struct foo (0 @ offset 0)",
      },
    ]);
    const off = one(K.FIELD_BYTE_OFFSET, L.foo, "0:7", movImm(36));
    expect(off.r.outcome).toBe("poisoned");
    expect(off.r.localSpec).toBe("struct foo.gone");
    expect(off.insn.imm).toBe(CORE_POISON_HELPER);
  });

  it("a flavor matches the type of its essential name", () => {
    const { insn: out, r } = one(K.FIELD_BYTE_OFFSET, L.fooV2, "0:0", movImm(0));
    expect(r.targetTypeId).toBe(T.foo);
    expect(out.imm).toBe(56);
  });

  it("array elements: in bounds relocate, out of the target's bounds do not match", () => {
    const inB = one(K.FIELD_BYTE_OFFSET, L.foo, "0:4:1", movImm(16));
    expect(inB.insn.imm).toBe(28 + 4);
    expect(inB.r.targetSpec).toBe("struct foo.arr[1]");
    const sz = one(K.FIELD_BYTE_SIZE, L.foo, "0:4", movImm(16));
    expect(sz.insn.imm).toBe(8); // int[2]
    const elemSz = one(K.FIELD_BYTE_SIZE, L.foo, "0:4:3", movImm(4));
    expect(elemSz.r.outcome).toBe("poisoned");
    const shift = one(K.FIELD_LSHIFT_U64, L.foo, "0:4:1", movImm(0));
    expect(shift.r.outcome).toBe("failed");
    expect(shift.r.error?.code).toBe(CORE_ERROR.KIND_MISMATCH);
  });

  it("the root index of an access string steps over whole structs (p[1].b)", () => {
    // Local struct foo is 40 bytes: p[1].b is at 44; the target's foo is 64 bytes: 72.
    const { insn: out, r } = one(K.FIELD_BYTE_OFFSET, L.foo, "1:1", movImm(44));
    expect(r.localSpecText).toBe("<byte_off> [6] struct foo[1].b (1:1 @ offset 44)");
    expect(out.imm).toBe(72);
  });

  it("bitfields: offset, size, shifts and signedness of the target's placement", () => {
    const v = (kind: number, imm: number) => one(kind, L.foo, "0:2", movImm(imm)).insn.imm;
    // Target bf1: 3 bits at bit 197 in an unsigned int: the 4-byte word at byte 24 holds bits 192..223.
    expect(v(K.FIELD_BYTE_OFFSET, 8)).toBe(24);
    expect(v(K.FIELD_BYTE_SIZE, 4)).toBe(4);
    expect(v(K.FIELD_LSHIFT_U64, 0)).toBe(64 - (197 + 3 - 192));
    // Right shift and signedness are checked against the local values (3 bits: 61; unsigned: 0).
    expect(v(K.FIELD_RSHIFT_U64, 61)).toBe(61);
    expect(v(K.FIELD_SIGNED, 0)).toBe(0);
  });

  it("a renamed struct member is a missing one, the access string's index is only the local position", () => {
    // Local bar.y (0:1) exists only in the flavor bar___2: one of two candidates matches.
    const { results } = run(
      [movImm(4)],
      [{ slot: 0, typeId: L.bar, access: "0:1", kindId: K.FIELD_BYTE_OFFSET }],
    );
    expect(results[0].candidates.map((c) => [c.id, c.matched])).toEqual([
      [T.bar, false],
      [T.barDup, true],
    ]);
    expect(results[0].newValue).toBe(4n);
  });
});

describe("candidates", () => {
  it("all matching candidates must agree on the offset", () => {
    const { results, insns } = run(
      [movImm(4)],
      [{ slot: 0, typeId: L.foo, access: "0:1", kindId: K.FIELD_BYTE_OFFSET }],
      ambiguous,
    );
    expect(results[0].candidates.map((c) => c.matched)).toEqual([true, true]);
    expect(results[0]).toMatchObject({ outcome: "failed", error: { code: CORE_ERROR.AMBIGUOUS } });
    expect(insns[0].imm).toBe(4); // untouched
  });

  it("candidates agreeing on everything are fine", () => {
    const { results } = run(
      [movImm(0)],
      [{ slot: 0, typeId: L.bar, access: "0:0", kindId: K.FIELD_BYTE_OFFSET }],
    );
    expect(results[0].candidates.map((c) => c.matched)).toEqual([true, true]);
    expect(results[0]).toMatchObject({ outcome: "patched", newValue: 0n });
  });

  it("later records of a type only see the candidates that matched earlier ones", () => {
    // bar.y exists only in bar___2: after that record, bar's candidates are [bar___2] alone,
    // so bar.x (which both have) is decided by bar___2 only.
    const recs: CoreRecordInput[] = [
      { slot: 0, typeId: L.bar, access: "0:1", kindId: K.FIELD_EXISTS },
      { slot: 1, typeId: L.bar, access: "0:0", kindId: K.FIELD_BYTE_OFFSET },
    ];
    const ctx = coreContext(local, target);
    const { results } = relocateInstructions(local, target, [movImm(1), movImm(0)], recs, { context: ctx });
    expect(results[0].candidates.map((c) => c.id)).toEqual([T.bar, T.barDup]);
    expect(results[1].candidates.map((c) => c.id)).toEqual([T.barDup]);
    expect(ctx.candidates.get(L.bar)?.map((c) => c.id)).toEqual([T.barDup]);
    // In the other order both candidates match bar.x and both stay.
    const fresh = run([movImm(0)], [recs[1]]);
    expect(fresh.results[0].candidates.map((c) => c.id)).toEqual([T.bar, T.barDup]);
  });

  it("no matching candidate leaves the list as it was", () => {
    const ctx = coreContext(local, target);
    relocateInstructions(
      local,
      target,
      [movImm(1)],
      [{ slot: 0, typeId: L.foo, access: "0:7", kindId: K.FIELD_EXISTS }],
      {
        context: ctx,
      },
    );
    expect(ctx.candidates.get(L.foo)?.map((c) => c.id)).toEqual([T.foo]);
  });

  it("an anonymous local type cannot be searched for", () => {
    const { r } = one(K.FIELD_BYTE_OFFSET, L.anon, "0:0", movImm(0));
    expect(r).toMatchObject({ outcome: "failed", error: { code: CORE_ERROR.ANONYMOUS } });
  });
});

describe("type relocations", () => {
  it("exists, size, ids and matches", () => {
    expect(one(K.TYPE_EXISTS, L.foo, "0", movImm(1)).insn.imm).toBe(1);
    expect(one(K.TYPE_EXISTS, L.missing, "0", movImm(1)).insn.imm).toBe(0);
    expect(one(K.TYPE_SIZE, L.missing, "0", movImm(4)).insn.imm).toBe(0);
    expect(one(K.TYPE_SIZE, L.fooV2, "0", movImm(4)).insn.imm).toBe(64);
    expect(one(K.TYPE_SIZE, L.pidT, "0", movImm(4)).insn.imm).toBe(4);
    // Type ids: the target's (not checked against the instruction), the local's.
    expect(imm64(one(K.TYPE_ID_TARGET, L.pidT, "0", ldImm64(1, 12345n)).insn)).toBe(BigInt(T.pidT));
    expect(imm64(one(K.TYPE_ID_LOCAL, L.pidT, "0", ldImm64(1, 999n)).insn)).toBe(BigInt(L.pidT));
    // pid_t -> int matches __kernel_pid_t -> int; bar (x, y) does not match the one-field bar
    // but matches bar___2.
    expect(one(K.TYPE_MATCHES, L.pidT, "0", movImm(1)).insn.imm).toBe(1);
    const bar = one(K.TYPE_MATCHES, L.bar, "0", movImm(1));
    expect(bar.r.candidates.map((c) => c.matched)).toEqual([false, true]);
    expect(bar.insn.imm).toBe(1);
    // narrow: p and q are ints of the same size and signedness in both candidates.
    expect(one(K.TYPE_MATCHES, L.narrow, "0", movImm(1)).r.candidates.map((c) => c.matched)).toEqual([
      true,
      true,
    ]);
  });

  it("a type relocation needs the access string 0", () => {
    const { r } = one(K.TYPE_EXISTS, L.foo, "0:1", movImm(1));
    expect(r).toMatchObject({ outcome: "failed", error: { code: CORE_ERROR.BAD_SPEC } });
  });
});

describe("enum relocations", () => {
  it("values come from the target by enumerator name", () => {
    const v = one(K.ENUMVAL_VALUE, L.color, "2", ldImm64(1, 2n));
    expect(v.r.localSpecText).toBe("<enumval_value> [8] enum color::BLUE = 2");
    expect(v.r.targetSpecText).toBe("<enumval_value> [8] enum color::BLUE = 7");
    expect(imm64(v.insn)).toBe(7n);
    // A 32-bit value with the top bit set reads as the uapi's __s32: sign-extended.
    expect(imm64(one(K.ENUMVAL_VALUE, L.color, "1", ldImm64(1, 1n)).insn)).toBe(0xffffffff80000000n);
  });

  it("a missing enumerator: exists is 0, its value poisons both slots of the ld_imm64", () => {
    expect(imm64(one(K.ENUMVAL_EXISTS, L.color, "3", ldImm64(1, 1n)).insn)).toBe(0n);
    const { insns, r } = one(K.ENUMVAL_VALUE, L.color, "3", ldImm64(1, 3n));
    expect(r.outcome).toBe("poisoned");
    expect(insns).toHaveLength(2);
    for (const i of insns) expect(i).toMatchObject({ opcode: 0x85, imm: CORE_POISON_HELPER });
  });

  it("a 32-bit local enum relocates against a target enum64", () => {
    const t64 = btf((b) => {
      enum64(b, "color", [
        ["BLUE", 1n << 40n],
        ["RED", -2n],
      ]);
    });
    const r = relocateInstructions(
      local,
      t64,
      [ldImm64(1, 2n)],
      [{ slot: 0, typeId: L.color, access: "2", kindId: K.ENUMVAL_VALUE }],
    );
    expect(imm64(r.insns[0])).toBe(1n << 40n);
    expect(r.results[0].targetSpecText).toBe("<enumval_value> [1] enum64 color::BLUE = 1099511627776");
  });

  it("an enumerator index beyond the enum fails to parse", () => {
    const { r } = one(K.ENUMVAL_VALUE, L.color, "4", ldImm64(1, 0n));
    expect(r.error?.code).toBe(CORE_ERROR.BAD_SPEC);
  });
});

describe("instruction patching rules", () => {
  it("the instruction must hold the local value", () => {
    const { insn: out, r } = one(K.FIELD_BYTE_OFFSET, L.foo, "0:1", movImm(5));
    expect(r).toMatchObject({ outcome: "failed", error: { code: CORE_ERROR.BAD_INSN } });
    expect(out.imm).toBe(5);
  });

  it("only immediate ALU forms, loads/stores and plain ld_imm64 are relocatable", () => {
    expect(one(K.FIELD_BYTE_OFFSET, L.foo, "0:1", insn(0xbf, 1, 2, 0, 4)).r.error?.code).toBe(
      CORE_ERROR.BAD_INSN,
    );
    expect(one(K.FIELD_BYTE_OFFSET, L.foo, "0:1", insn(0x05, 0, 0, 4, 0)).r.error?.code).toBe(
      CORE_ERROR.BAD_INSN,
    );
    expect(one(K.ENUMVAL_VALUE, L.color, "2", ldImm64(1, 2n, 1)).r.error?.code).toBe(CORE_ERROR.BAD_INSN);
  });

  it("offsets past 32767 do not fit a load", () => {
    const big = btf((b) => {
      b.int("int", 4, 32, SIGNED);
      b.struct("bar", 40000, [{ name: "x", type: 1, bitOffset: 8 * 33000 }]);
    });
    const r = relocateInstructions(
      local,
      big,
      [ldxW(0)],
      [{ slot: 0, typeId: L.bar, access: "0:0", kindId: K.FIELD_BYTE_OFFSET }],
    );
    expect(r.results[0].error?.code).toBe(CORE_ERROR.RANGE);
  });

  it("a record outside the program fails with the slot", () => {
    const { results } = run(
      [movImm(0)],
      [{ slot: 7, typeId: L.foo, access: "0:0", kindId: K.FIELD_BYTE_OFFSET }],
    );
    expect(results[0].error?.code).toBe(CORE_ERROR.INSN_OFFSET);
  });

  it("unknown kinds fail", () => {
    expect(one(13, L.foo, "0:0", movImm(0)).r.error?.code).toBe(CORE_ERROR.UNKNOWN_KIND);
  });
});

describe("module BTF", () => {
  // A module's split BTF on top of `target`: its ids and strings continue after the base's.
  const modBuilder = new BtfBuilder({ startId: target.typeCount, strBase: target.stringsLength });
  const modStruct = modBuilder.struct("not_in_target", 8, [
    { name: "pad", type: T.int, bitOffset: 0 },
    { name: "x", type: T.int, bitOffset: 32 },
  ]);
  modBuilder.struct("foo", 4, [{ name: "a", type: T.int, bitOffset: 0 }]);
  const mod = parseBtf(modBuilder.bytes(), { base: target });

  it("types vmlinux lacks are searched in the modules, with the module's ids", () => {
    let loads = 0;
    const tgt = {
      btf: target,
      modules: () => {
        loads++;
        return [{ name: "tsbpf_mod", btf: mod }];
      },
    };
    const r = relocateInstructions(
      local,
      tgt,
      [movImm(0), ldImm64(1, 0n)],
      [
        { slot: 0, typeId: L.missing, access: "0:0", kindId: K.FIELD_BYTE_OFFSET },
        { slot: 1, typeId: L.missing, access: "0", kindId: K.TYPE_ID_TARGET },
      ],
    );
    expect(r.results[0].candidates).toEqual([
      expect.objectContaining({ id: modStruct, source: "tsbpf_mod", matched: true }),
    ]);
    expect(r.insns[0].imm).toBe(4);
    expect(imm64(r.insns[1])).toBe(BigInt(modStruct));
    expect(modStruct).toBeGreaterThanOrEqual(target.typeCount);
    expect(loads).toBe(1);
  });

  it("a type vmlinux has is never looked for in the modules", () => {
    let loads = 0;
    const tgt = {
      btf: target,
      modules: () => {
        loads++;
        return [{ name: "tsbpf_mod", btf: mod }];
      },
    };
    const r = relocateInstructions(
      local,
      tgt,
      [movImm(0)],
      [{ slot: 0, typeId: L.foo, access: "0:0", kindId: K.FIELD_BYTE_OFFSET }],
    );
    expect(r.results[0].candidates.map((c) => c.source)).toEqual(["vmlinux"]);
    expect(loads).toBe(0);
  });

  it("a plain BTF target has no modules", () => {
    const r = relocateInstructions(
      local,
      target,
      [movImm(1)],
      [{ slot: 0, typeId: L.missing, access: "0", kindId: K.TYPE_EXISTS }],
    );
    expect(r.insns[0].imm).toBe(0);
  });
});

describe("coreFailure", () => {
  it("names the first failed record, or nothing when all went through", () => {
    const ok = run([movImm(0)], [{ slot: 0, typeId: L.foo, access: "0:0", kindId: K.FIELD_BYTE_OFFSET }]);
    expect(coreFailure(ok.results)).toBeUndefined();
    const bad = run(
      [movImm(0), movImm(5)],
      [
        { slot: 0, typeId: L.foo, access: "0:0", kindId: K.FIELD_BYTE_OFFSET },
        { slot: 1, typeId: L.foo, access: "0:1", kindId: K.FIELD_BYTE_OFFSET },
      ],
    );
    const err = coreFailure(bad.results);
    expect(err?.code).toBe(CORE_ERROR.BAD_INSN);
    expect(err?.message).toContain("relo #1: <byte_off> [6] struct foo.b");
  });
});
