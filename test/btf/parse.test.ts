/**
 * Parsing hand-made BTF: every kind into its object form, both byte orders, header variants,
 * layout queries and C spellings, and one BtfError (never a RangeError) per malformation.
 */
import { describe, expect, it } from "vitest";
import { dumpBtfC, dumpBtfRaw, parseBtf } from "../../src/elf/btf/index.js";
import { BtfError } from "../../src/errors.js";
import { BtfBuilder, info, KIND } from "./btf-builder.js";

/** One of every kind, with the C layout facts (x86-64/BPF LP64 ABI) noted per type. */
function everyKind(): { b: BtfBuilder; ids: Record<string, number> } {
  const b = new BtfBuilder();
  const ids: Record<string, number> = {};
  ids.int = b.int("int", 4, 32, 1); // 1
  ids.char = b.int("char", 1, 8, 2); // 2
  ids.long = b.int("long int", 8, 64, 1); // 3
  ids.ptrInt = b.ref(KIND.PTR, ids.int); // 4: int *
  ids.arr = b.array(ids.int, ids.int, 10); // 5: int[10]
  ids.s = b.struct("s", 24, [
    { name: "a", type: ids.char, bitOffset: 0, bitfieldSize: 3 },
    { name: "b", type: ids.int, bitOffset: 3, bitfieldSize: 5 },
    { name: "p", type: ids.ptrInt, bitOffset: 64 },
    { name: "c", type: ids.char, bitOffset: 128 },
  ]); // 6
  ids.u = b.struct(
    "u",
    8,
    [
      { name: "i", type: ids.int, bitOffset: 0 },
      { name: "l", type: ids.long, bitOffset: 0 },
    ],
    true,
  ); // 7
  ids.e = b.enumType(
    "e",
    4,
    [
      ["NEG", -1],
      ["POS", 7],
    ],
    true,
  ); // 8
  ids.fwd = b.raw(b.str("f"), info(KIND.FWD, 0, true), 0); // 9: union f
  ids.td = b.ref(KIND.TYPEDEF, ids.s, "s_t"); // 10
  ids.vol = b.ref(KIND.VOLATILE, ids.int); // 11
  ids.cst = b.ref(KIND.CONST, ids.vol); // 12
  ids.rst = b.ref(KIND.RESTRICT, ids.ptrInt); // 13
  ids.proto = b.funcProto(ids.int, [
    ["x", ids.cst],
    ["", 0],
  ]); // 14: int (volatile const int x, ...), as libbpf orders the qualifiers
  ids.func = b.raw(b.str("fn"), info(KIND.FUNC, 1), ids.proto); // 15
  ids.var = b.raw(b.str("v"), info(KIND.VAR), ids.td, 1); // 16
  ids.sec = b.raw(b.str(".data"), info(KIND.DATASEC, 1), 24, ids.var, 0, 24); // 17
  ids.flt = b.raw(b.str("double"), info(KIND.FLOAT), 8); // 18
  ids.dtag = b.raw(b.str("tag"), info(KIND.DECL_TAG), ids.s, 0xffffffff); // 19
  ids.ttag = b.ref(KIND.TYPE_TAG, ids.int, "user"); // 20
  ids.e64 = b.raw(b.str("e64"), info(KIND.ENUM64, 2, false), 8, b.str("BIG"), 0, 1, b.str("SMALL"), 5, 0); // 21
  ids.fp = b.ref(KIND.PTR, ids.proto); // 22: int (*)(volatile const int x, ...)
  ids.fpArr = b.array(ids.fp, ids.int, 3); // 23
  ids.ptrArr = b.ref(KIND.PTR, ids.arr); // 24: int (*)[10]
  ids.packed = b.struct("pk", 5, [
    { name: "c", type: ids.char, bitOffset: 0 },
    { name: "i", type: ids.int, bitOffset: 8 },
  ]); // 25
  return { b, ids };
}

describe("parseBtf: every kind", () => {
  const { b, ids } = everyKind();
  const btf = parseBtf(b.bytes());

  it("builds the object form of each type", () => {
    expect(btf.typeCount).toBe(26);
    expect(btf.typeById(0)).toEqual({ kind: "VOID", id: 0, name: "" });
    expect(btf.typeById(ids.int)).toEqual({
      kind: "INT",
      id: 1,
      name: "int",
      size: 4,
      encoding: 1,
      bitsOffset: 0,
      bits: 32,
    });
    expect(btf.typeById(ids.arr)).toEqual({
      kind: "ARRAY",
      id: 5,
      name: "",
      type: 1,
      indexType: 1,
      nelems: 10,
    });
    expect(btf.typeById(ids.s)).toMatchObject({
      kind: "STRUCT",
      size: 24,
      kindFlag: true,
      members: [
        { name: "a", type: 2, bitOffset: 0, bitfieldSize: 3 },
        { name: "b", type: 1, bitOffset: 3, bitfieldSize: 5 },
        { name: "p", type: 4, bitOffset: 64, bitfieldSize: 0 },
        { name: "c", type: 2, bitOffset: 128, bitfieldSize: 0 },
      ],
    });
    expect(btf.typeById(ids.u)).toMatchObject({ kind: "UNION", kindFlag: false });
    expect(btf.typeById(ids.e)).toMatchObject({
      kind: "ENUM",
      signed: true,
      values: [
        { name: "NEG", value: -1 },
        { name: "POS", value: 7 },
      ],
    });
    expect(btf.typeById(ids.fwd)).toEqual({ kind: "FWD", id: 9, name: "f", union: true });
    expect(btf.typeById(ids.td)).toEqual({ kind: "TYPEDEF", id: 10, name: "s_t", type: ids.s });
    expect(btf.typeById(ids.proto)).toEqual({
      kind: "FUNC_PROTO",
      id: 14,
      name: "",
      returnType: 1,
      params: [
        { name: "x", type: ids.cst },
        { name: "", type: 0 },
      ],
    });
    expect(btf.typeById(ids.func)).toEqual({ kind: "FUNC", id: 15, name: "fn", type: ids.proto, linkage: 1 });
    expect(btf.typeById(ids.var)).toEqual({ kind: "VAR", id: 16, name: "v", type: ids.td, linkage: 1 });
    expect(btf.typeById(ids.sec)).toEqual({
      kind: "DATASEC",
      id: 17,
      name: ".data",
      size: 24,
      vars: [{ type: ids.var, offset: 0, size: 24 }],
    });
    expect(btf.typeById(ids.flt)).toEqual({ kind: "FLOAT", id: 18, name: "double", size: 8 });
    expect(btf.typeById(ids.dtag)).toEqual({
      kind: "DECL_TAG",
      id: 19,
      name: "tag",
      type: ids.s,
      componentIdx: -1,
    });
    expect(btf.typeById(ids.ttag)).toEqual({ kind: "TYPE_TAG", id: 20, name: "user", type: ids.int });
    expect(btf.typeById(ids.e64)).toMatchObject({
      kind: "ENUM64",
      size: 8,
      signed: false,
      values: [
        { name: "BIG", value: 1n << 32n },
        { name: "SMALL", value: 5n },
      ],
    });
    expect(btf.types).toHaveLength(26);
    expect(btf.types[ids.s]).toBe(btf.typeById(ids.s));
  });

  it("finds types by name, optionally by kind", () => {
    expect(btf.findByName("s")?.id).toBe(ids.s);
    expect(btf.findByName("s", "TYPEDEF")).toBeUndefined();
    expect(btf.findByName("s_t", "TYPEDEF")?.id).toBe(ids.td);
    expect(btf.findByName("nope")).toBeUndefined();
    expect(btf.findAllByName("int")).toEqual([ids.int]);
  });

  it("resolves modifiers and typedefs, computes sizes and alignments", () => {
    expect(btf.resolve(ids.cst)).toBe(ids.int);
    expect(btf.resolve(ids.td)).toBe(ids.s);
    expect(btf.resolve(ids.ttag)).toBe(ids.int);
    expect(btf.resolve(ids.ptrInt)).toBe(ids.ptrInt);
    expect(btf.sizeOf(ids.arr)).toBe(40);
    expect(btf.sizeOf(ids.td)).toBe(24);
    expect(btf.sizeOf(ids.fpArr)).toBe(24);
    expect(btf.sizeOf(ids.var)).toBe(24);
    expect(btf.alignOf(ids.s)).toBe(8);
    expect(btf.alignOf(ids.u)).toBe(8);
    expect(btf.alignOf(ids.arr)).toBe(4);
    // int at byte offset 1: only a packed struct lays it out so.
    expect(btf.alignOf(ids.packed)).toBe(1);
    expect(() => btf.sizeOf(0)).toThrow(BtfError);
    expect(() => btf.sizeOf(ids.fwd)).toThrow(BtfError);
    expect(() => btf.alignOf(ids.proto)).toThrow(BtfError);
    expect(() => btf.sizeOf(99)).toThrow(BtfError);
    expect(btf.pointerSize).toBe(8);
  });

  it("spells types in C", () => {
    expect(btf.typeString(0)).toBe("void");
    expect(btf.typeString(ids.ptrInt)).toBe("int *");
    expect(btf.typeString(ids.arr)).toBe("int[10]");
    expect(btf.typeString(ids.cst)).toBe("volatile const int");
    expect(btf.typeString(ids.rst)).toBe("int * restrict");
    expect(btf.typeString(ids.fp)).toBe("int (*)(volatile const int x, ...)");
    expect(btf.typeString(ids.fpArr)).toBe("int (*[3])(volatile const int x, ...)");
    // libbpf puts no space before an abstract array declarator.
    expect(btf.typeString(ids.ptrArr)).toBe("int(*)[10]");
    expect(btf.typeString(ids.td)).toBe("s_t");
    expect(btf.typeString(ids.s)).toBe("struct s");
    expect(btf.typeString(ids.fwd)).toBe("union f");
    expect(btf.typeString(ids.ttag)).toBe('int __attribute__((btf_type_tag("user")))');
  });

  it("gives the same types and dumps from the big-endian encoding", () => {
    const be = parseBtf(b.bytes({ littleEndian: false }));
    expect(be.byteOrder).toBe("be");
    expect(btf.byteOrder).toBe("le");
    expect(be.types).toEqual(btf.types);
    expect(dumpBtfRaw(be)).toBe(dumpBtfRaw(btf));
    expect(dumpBtfC(be)).toBe(dumpBtfC(btf));
  });

  it("reads bytes at any alignment (a view into a larger buffer)", () => {
    const bytes = b.bytes();
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 1);
    expect(parseBtf(padded.subarray(1, 1 + bytes.length)).types).toEqual(btf.types);
  });

  it("gives string table access by offset", () => {
    expect(btf.stringAt(0)).toBe("");
    expect(btf.stringAt(b.str("s_t"))).toBe("s_t");
    expect(btf.stringAt(b.str("s_t") + 2)).toBe("t");
    expect(() => btf.stringAt(btf.stringsLength)).toThrow(BtfError);
  });

  it("honours a longer header and a gap before the strings", () => {
    const wide = parseBtf(b.bytes({ hdrLen: 32, gap: 12 }));
    expect(wide.types).toEqual(btf.types);
  });
});

describe("parseBtf: malformed input", () => {
  const good = (): Uint8Array => everyKind().b.bytes();
  const set32 = (bytes: Uint8Array, at: number, v: number): Uint8Array => {
    const c = bytes.slice();
    new DataView(c.buffer).setUint32(at, v, true);
    return c;
  };
  const expectBtfError = (bytes: Uint8Array, code: string, typeId?: number): BtfError => {
    let err: unknown;
    try {
      parseBtf(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BtfError);
    const be = err as BtfError;
    expect(be.code).toBe(code);
    expect(be.typeId).toBe(typeId);
    return be;
  };

  it("bad magic", () => {
    const c = good();
    c[0] = 0x12;
    expect(expectBtfError(c, "BTF_BAD_MAGIC").message).toMatch(/magic/);
  });

  it("truncated header", () => {
    expectBtfError(good().subarray(0, 20), "BTF_TRUNCATED_HEADER");
    expectBtfError(new Uint8Array(0), "BTF_TRUNCATED_HEADER");
  });

  it("header fields pointing outside the data", () => {
    expectBtfError(set32(good(), 4, 1 << 20), "BTF_BAD_HEADER"); // hdr_len
    expectBtfError(set32(good(), 4, 8), "BTF_BAD_HEADER"); // hdr_len < 24
    expectBtfError(set32(good(), 20, 1 << 20), "BTF_BAD_HEADER"); // str_len
    expectBtfError(set32(good(), 12, 1 << 20), "BTF_BAD_HEADER"); // type_len past str_off
    expectBtfError(set32(good(), 8, 2), "BTF_BAD_HEADER"); // misaligned type_off
  });

  it("string table not NUL-terminated", () => {
    const c = good();
    c[c.length - 1] = 0x41;
    expectBtfError(c, "BTF_BAD_STRINGS");
  });

  it("string offset out of range names the type", () => {
    const b = new BtfBuilder();
    b.int("int", 4);
    b.raw(9999, info(KIND.TYPEDEF), 1);
    expect(expectBtfError(b.bytes(), "BTF_BAD_STRING_OFFSET", 2).message).toMatch(/^type \[2\]: .*9999/);
  });

  it("type reference out of range names the type", () => {
    const b = new BtfBuilder();
    b.int("int", 4);
    b.struct("s", 4, [{ name: "x", type: 7, bitOffset: 0 }]);
    expect(expectBtfError(b.bytes(), "BTF_BAD_TYPE_REF", 2).message).toMatch(/member 0 type id 7/);
  });

  it("vlen running past the type section", () => {
    const b = new BtfBuilder();
    b.int("int", 4);
    b.raw(b.str("s"), info(KIND.STRUCT, 1000), 4, 0, 1, 0);
    expectBtfError(b.bytes(), "BTF_TRUNCATED_TYPE", 2);
  });

  it("unknown kind", () => {
    const b = new BtfBuilder();
    b.int("int", 4);
    b.raw(0, info(25), 0);
    expectBtfError(b.bytes(), "BTF_UNKNOWN_KIND", 2);
  });

  it("trailing bytes in the type section", () => {
    const b = new BtfBuilder();
    b.int("int", 4);
    b.raw(0); // 4 stray bytes
    expectBtfError(b.bytes(), "BTF_TRAILING_DATA");
  });
});

describe("cycles in the type graph end in BtfError", () => {
  // [1] typedef t -> [2] const -> [3] ptr -> [1]: legal BTF shape, illegal C.
  const b = new BtfBuilder();
  b.ref(KIND.TYPEDEF, 2, "t");
  b.ref(KIND.CONST, 3);
  b.ref(KIND.PTR, 1);
  // [4] typedef u -> [5] volatile -> [4]: no pointer at all.
  b.ref(KIND.TYPEDEF, 5, "u");
  b.ref(KIND.VOLATILE, 4);
  // [6] ptr -> [6]
  b.ref(KIND.PTR, 6);
  // [7] struct a { struct a x; } embedding itself
  b.struct("a", 4, [{ name: "x", type: 7, bitOffset: 0 }]);
  const btf = parseBtf(b.bytes());

  it("resolve, sizeOf, alignOf, typeString", () => {
    expect(btf.resolve(1)).toBe(3);
    expect(btf.sizeOf(1)).toBe(8);
    expect(() => btf.resolve(4)).toThrow(BtfError);
    expect(() => btf.sizeOf(4)).toThrow(BtfError);
    expect(() => btf.alignOf(4)).toThrow(BtfError);
    expect(() => btf.alignOf(7)).toThrow(BtfError);
    expect(() => btf.typeString(6)).toThrow(BtfError);
    expect(btf.typeString(1)).toBe("t");
  });

  it("dumps", () => {
    expect(dumpBtfRaw(btf)).toContain("[6] PTR '(anon)' type_id=6");
    expect(() => dumpBtfC(btf)).toThrow(BtfError);
  });
});
