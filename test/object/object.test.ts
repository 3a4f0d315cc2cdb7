// The object model beyond what libbpf 1.1.2 can load: big-endian objects read the same as their
// little-endian twins, section names libbpf 1.1 does not know follow the section table, objects
// libbpf would refuse give one typed error, and mutated inputs never throw anything untyped.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { programTypeForSection } from "../../src/abi/program-types.js";
import { parseBtf } from "../../src/elf/btf/parse.js";
import { parseBtfExt } from "../../src/elf/btf-ext.js";
import { OBJECT_ERROR, openObject, openObjectSync } from "../../src/elf/object/index.js";
import type { ObjectSpec } from "../../src/elf/object/types.js";
import { readElf } from "../../src/elf/reader.js";
import { BtfError, ElfError, TsbpfError, UsageError } from "../../src/errors.js";

const ROOT: string = fileURLToPath(new URL("../..", import.meta.url));
const OBJ = join(ROOT, "test/fixtures/obj");
const read = (name: string): Uint8Array => new Uint8Array(readFileSync(join(OBJ, name)));

/** What of an ObjectSpec does not depend on byte order, as plain data. */
function summary(o: ObjectSpec): unknown {
  return {
    license: o.license,
    programs: o.programs.map((p) => ({
      name: p.name,
      section: p.section,
      type: p.type.name,
      attach: p.expectedAttachType?.name,
      // clang's code differs between byte orders (byte swaps, bitfield and packet loads), so the
      // instructions themselves are not compared: what they reference, and the records, are.
      refs: p.insns.flatMap((i) => (i.ref ? [JSON.stringify(i.ref)] : [])).sort(),
      subprogs: p.subprogs.map((s) => s.name),
      funcInfo: p.funcInfo.map((f) => f.typeId),
      // Bitfield reads take an extra byte_sz record on big-endian: compare the fields relocated.
      coreFields: [...new Set(p.coreRelos.map((r) => `${r.function} [${r.typeId}] ${r.access}`))].sort(),
    })),
    maps: o.maps.map(({ data, ...m }) => ({ ...m, dataSize: data?.length })),
    externs: o.externs,
    variables: o.variables,
    fixups: o.datasecFixups,
  };
}

/** Rename a section by rewriting its name in the section header string table (same or shorter). */
function renameSection(bytes: Uint8Array, from: string, to: string): Uint8Array {
  if (to.length > from.length) throw new Error("new name must not be longer");
  const out = Uint8Array.from(bytes);
  const elf = readElf(bytes);
  const shstr = elf.sections[elf.header.shstrndx]!;
  const needle = new TextEncoder().encode(`${from}\0`);
  const repl = new Uint8Array(needle.length);
  repl.set(new TextEncoder().encode(to));
  let hits = 0;
  for (let i = shstr.offset; i + needle.length <= shstr.offset + shstr.size; i++) {
    if (needle.every((b, k) => out[i + k] === b)) {
      out.set(repl, i);
      hits++;
    }
  }
  if (hits === 0) throw new Error(`section name ${from} not found`);
  return out;
}

const elObjects = readdirSync(OBJ)
  .filter((f) => /\.el\.v[1-4]\.o$/.test(f))
  .sort();

describe("big-endian objects", () => {
  it.each(elObjects)("%s and its big-endian twin give the same ObjectSpec", async (el) => {
    const eb = el.replace(".el.", ".eb.");
    const a = await openObject(join(OBJ, el));
    const b = await openObject(join(OBJ, eb));
    expect(b.byteOrder).toBe("be");
    expect(summary(b)).toEqual(summary(a));
    // Initial data holds the same values in the other byte order, so only sizes are compared.
  });
});

describe("section names", () => {
  const golden = JSON.parse(
    readFileSync(join(ROOT, "test/fixtures/golden/libbpf-sections.json"), "utf8"),
  ) as {
    names: Record<string, { progType: string; attachType: string; attachTypeId: number } | null>;
  };
  const base = read("tracepoint_hash.el.v3.o");
  const from = "tracepoint/raw_syscalls/sys_enter";
  // `.text` is the subprogram section (see "an object whose only function is in .text").
  const names = Object.keys(golden.names).filter((n) => n.length <= from.length && n !== ".text");

  it.each(names)(
    "SEC(%j) gets the program type libbpf 1.1 gives it, or the table's for newer names",
    (name) => {
      const bytes = renameSection(base, from, name);
      const g = golden.names[name];
      const table = programTypeForSection(name);
      if (!table) {
        expect(g, "libbpf knows a name the table does not").toBeNull();
        expect(() => openObjectSync(bytes)).toThrow(ElfError);
        try {
          openObjectSync(bytes);
        } catch (e) {
          expect((e as ElfError).code).toBe(OBJECT_ERROR.UNKNOWN_SECTION);
          expect((e as ElfError).message).toContain(`unknown section '${name}'`);
        }
        return;
      }
      const p = openObjectSync(bytes).programs[0]!;
      expect(p.section).toBe(name);
      if (g) {
        expect(p.type.name).toBe(g.progType);
        if (g.attachTypeId !== 0) expect(p.expectedAttachType?.name).toBe(g.attachType);
      } else {
        // Newer than libbpf 1.1: the section table is the reference.
        expect(p.type).toBe(table.progType);
        expect(p.expectedAttachType).toBe(table.expectedAttachType);
      }
    },
  );

  it("a '?' prefix turns autoload off", () => {
    const p = openObjectSync(renameSection(base, from, "?tracepoint/raw_syscalls/x")).programs[0]!;
    expect(p.autoload).toBe(false);
    expect(p.type.name).toBe("tracepoint");
    expect(p.attachTarget).toBe("raw_syscalls/x");
  });

  it("a misspelt section names the closest known prefix", () => {
    const bytes = renameSection(base, from, "tracepont/raw_syscalls/sys_enter");
    expect(() => openObjectSync(bytes, { file: "x.o" })).toThrow(
      "x.o: section tracepont/raw_syscalls/sys_enter: unknown section 'tracepont/raw_syscalls/sys_enter': did you mean 'tracepoint/'?",
    );
  });
});

describe("objects libbpf refuses", () => {
  it("an ELF that is not a relocatable BPF object (an x86-64 executable)", () => {
    const f = "test/fixtures/elf-edge/nosections_nopie";
    expect(readElf(new Uint8Array(readFileSync(f))).header.machine).toBe(62);
    let err: unknown;
    try {
      openObjectSync(new Uint8Array(readFileSync(f)), { file: f });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ElfError);
    expect((err as ElfError).code).toBe(OBJECT_ERROR.NOT_BPF);
    expect((err as ElfError).message).toMatch(
      /^test\/fixtures\/elf-edge\/nosections_nopie: not a BPF object file/,
    );
  });

  it("a .maps section without BTF names the map and says to compile with -g", () => {
    const bytes = renameSection(read("maps_btf.el.v3.o"), ".BTF", ".XTF");
    let err: unknown;
    try {
      openObjectSync(bytes, { file: "maps.o" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ElfError);
    expect((err as ElfError).code).toBe(OBJECT_ERROR.NO_BTF);
    expect((err as ElfError).message).toMatch(/^maps\.o: section \.maps: map '\w+': .*compile with -g$/);
  });

  it("the legacy maps section is read as struct bpf_map_def records", () => {
    // libbpf >= 1.0 refuses these; the definitions are checked against the C source's initialisers.
    const o = openObjectSync(read("legacy_maps.el.v3.o"));
    expect(o.maps.map((m) => [m.name, m.origin, m.typeName, m.keySize, m.valueSize, m.maxEntries])).toEqual([
      ["legacy_counts", "legacy", "hash", 4, 8, 256],
      ["legacy_array", "legacy", "array", 4, 4, 4],
    ]);
    const refs = o.programs[0]!.insns.flatMap((i) => (i.ref ? [i.ref] : []));
    expect(refs).toContainEqual({ kind: "map", map: "legacy_counts" });
  });

  it("unknown program and map names are usage errors listing the known ones", async () => {
    const o = await openObject(join(OBJ, "subprogs.el.v3.o"));
    expect(() => o.program("nope")).toThrow(UsageError);
    expect(() => o.program("nope")).toThrow("known: histogram, xdp_len_hist");
    expect(() => o.map("nope")).toThrow("known: buckets");
  });

  it("a missing file is one UsageError line", async () => {
    await expect(openObject("/nonexistent/x.o")).rejects.toThrow(UsageError);
  });
});

describe("BTF.ext", () => {
  const elf = readElf(read("core.el.v3.o"));
  const btf = parseBtf(elf.section(".BTF")!.data);
  const ext = elf.section(".BTF.ext")!.data;
  const parse = (b: Uint8Array) => parseBtfExt(b, btf);

  it("honours a longer header (fields it does not know are skipped)", () => {
    const v = new DataView(ext.buffer, ext.byteOffset, ext.byteLength);
    const hdrLen = v.getUint32(4, true);
    const grown = new Uint8Array(ext.length + 8);
    grown.set(ext.subarray(0, hdrLen));
    grown.set(ext.subarray(hdrLen), hdrLen + 8);
    new DataView(grown.buffer).setUint32(4, hdrLen + 8, true);
    const a = parse(ext);
    const b = parse(grown);
    expect(b.hdrLen).toBe(hdrLen + 8);
    expect([b.funcInfo, b.lineInfo, b.coreRelos]).toEqual([a.funcInfo, a.lineInfo, a.coreRelos]);
  });

  it("a 24-byte header has no CO-RE records", () => {
    const v = new DataView(ext.buffer, ext.byteOffset, ext.byteLength);
    const hdrLen = v.getUint32(4, true);
    const short = new Uint8Array(ext.length - (hdrLen - 24));
    short.set(ext.subarray(0, 24));
    short.set(ext.subarray(hdrLen), 24);
    new DataView(short.buffer).setUint32(4, 24, true);
    const s = parse(short);
    expect(s.coreRelos).toEqual([]);
    expect(s.lineInfo).toEqual(parse(ext).lineInfo);
  });

  it("a record size below the minimum names the block", () => {
    const bad = Uint8Array.from(ext);
    const v = new DataView(bad.buffer);
    const fiOff = v.getUint32(4, true) + v.getUint32(8, true);
    v.setUint32(fiOff, 4, true);
    expect(() => parse(bad)).toThrow(BtfError);
    expect(() => parse(bad)).toThrow(/func_info record size 4/);
  });

  it("a CO-RE record of an unknown kind names the section and record", () => {
    const bad = Uint8Array.from(ext);
    const v = new DataView(bad.buffer);
    const at = v.getUint32(4, true) + v.getUint32(24, true);
    // rec_size, then the first section header (name, count), then the first record's kind.
    v.setUint32(at + 4 + 8 + 12, 99, true);
    expect(() => parse(bad)).toThrow(/core_relo 'tp_btf\/sched_switch' record 0: unknown relocation kind 99/);
  });

  it("mutated BTF.ext sections throw nothing but BtfError", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(ext.length - 1), value: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.option(fc.nat(ext.length), { nil: undefined }),
        (edits, cut) => {
          const b = Uint8Array.from(ext.subarray(0, cut ?? ext.length));
          for (const e of edits) if (e.at < b.length) b[e.at] = e.value;
          try {
            parse(b);
          } catch (e) {
            if (!(e instanceof BtfError)) throw e;
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it("a .bss whose size cannot be a map value is an ElfError naming it (fast-check counterexample)", () => {
    const b = Uint8Array.from(read("kconfig.el.v2.o"));
    b[52564 % b.length] = 1; // the high byte of .bss's sh_size: 2^32 + 20 bytes
    b[6] = 0;
    expect(() => openObjectSync(b, { file: "m.o" })).toThrow(
      /m\.o: section \.bss: global data section of 4294967316 bytes/,
    );
  });

  it("mutated objects throw nothing but typed errors from openObject", () => {
    const objs = ["subprogs.el.v3.o", "map_in_map.eb.v3.o", "kconfig.el.v2.o", "loops.el.v4.o"].map(read);
    fc.assert(
      fc.property(
        fc.nat(objs.length - 1),
        fc.array(fc.record({ at: fc.nat(1 << 16), value: fc.integer({ min: 0, max: 255 }) }), {
          minLength: 1,
          maxLength: 6,
        }),
        (which, edits) => {
          const b = Uint8Array.from(objs[which]!);
          for (const e of edits) b[e.at % b.length] = e.value;
          try {
            openObjectSync(b, { file: "m.o" });
          } catch (e) {
            if (!(e instanceof TsbpfError)) throw e;
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("references and variables", () => {
  it("every map-value reference naming a variable points inside that variable", async () => {
    let checked = 0;
    for (const f of elObjects) {
      const o = await openObject(join(OBJ, f));
      for (const p of o.programs) {
        for (const i of p.insns) {
          if (i.ref?.kind !== "mapValue" || i.ref.symbol === undefined) continue;
          const v = o.variable(i.ref.symbol);
          expect(v.map, `${f} ${p.name}`).toBe(i.ref.map);
          expect(i.ref.offset, `${f} ${p.name} ${v.name}`).toBeGreaterThanOrEqual(v.offset);
          expect(i.ref.offset, `${f} ${p.name} ${v.name}`).toBeLessThan(v.offset + Math.max(v.size, 1));
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("variables carry the BTF type of their VAR and the size of their symbol", async () => {
    const o = await openObject(join(OBJ, "global_data.el.v3.o"));
    const btf = o.btf!;
    for (const v of o.variables.filter((x) => x.global)) {
      expect(v.btfTypeId, v.name).not.toBe(0);
      expect(btf.sizeOf(v.btfTypeId), v.name).toBe(v.size);
    }
    const data = o.map(o.variable("calls").map).data!;
    // __u64 calls = 0xfeed in .data, little-endian.
    const at = o.variable("calls").offset;
    expect(new DataView(data.buffer, data.byteOffset).getBigUint64(at, true)).toBe(0xfeedn);
  });

  it("a global subprogram is marked global, static ones are not", async () => {
    const p = (await openObject(join(OBJ, "subprogs.el.v3.o"))).program("histogram");
    expect(p.subprogs.map((s) => [s.name, s.global])).toEqual([
      ["mix", false],
      ["record_value", true],
      ["log2_u64", false],
      ["bump", false],
    ]);
  });
});

describe("unknown sections on request", () => {
  it("allowUnknownSections keeps the program with type unspec", () => {
    const bytes = renameSection(
      read("tracepoint_hash.el.v3.o"),
      "tracepoint/raw_syscalls/sys_enter",
      "my_custom_section",
    );
    const p = openObjectSync(bytes, { allowUnknownSections: true }).programs[0]!;
    expect([p.section, p.type.name, p.expectedAttachType]).toEqual([
      "my_custom_section",
      "unspec",
      undefined,
    ]);
  });
});

describe("functions without st_size (hand-written assembly)", () => {
  it("run to the section end or the next function", () => {
    const bytes = read("subprogs.el.v3.o");
    const elf = readElf(bytes);
    const symtab = elf.sections.find((s) => s.name === ".symtab")!;
    const patched = Uint8Array.from(bytes);
    const v = new DataView(patched.buffer);
    for (const name of ["histogram", "log2_u64"]) {
      const sym = elf.symbols.find((s) => s.name === name)!;
      v.setBigUint64(symtab.offset + 24 * sym.index + 16, 0n, true);
    }
    const a = openObjectSync(bytes);
    const b = openObjectSync(patched);
    expect(b.programs.map((p) => [p.name, p.insns, p.subprogs])).toEqual(
      a.programs.map((p) => [p.name, p.insns, p.subprogs]),
    );
  });
});

describe("an object whose only function is in .text", () => {
  it("makes it a program of no known type, as libbpf does", () => {
    const bytes = renameSection(
      read("tracepoint_hash.el.v3.o"),
      "tracepoint/raw_syscalls/sys_enter",
      ".text",
    );
    const o = openObjectSync(bytes);
    expect(o.programs.map((p) => [p.name, p.section, p.type.name])).toEqual([
      ["count_pid_syscalls", ".text", "unspec"],
    ]);
  });
});
