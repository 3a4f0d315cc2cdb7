/**
 * Builds the disassembler corpus: small BPF ELF objects with what clang never emits (every
 * opcode byte with random fields, zero runs, truncated slots, data symbols, odd symbols and
 * relocations, big-endian copies), then records llvm-objdump-19's output for each as a golden.
 *
 *   npx tsx test/isa/disasm-corpus/build.ts      (needs llvm-objdump-19; tests do not)
 *
 * Writes obj/<case>.o, golden/<case>/<flagset>.txt and manifest.json next to this file.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { readElf } from "../../../src/elf/reader.js";
import { type CorpusElf, type CorpusSymbol, writeCorpusElf } from "./elf-writer.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..", "..");
const TOOL = "llvm-objdump-19";

const STT = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5 } as const;
const STB = { LOCAL: 0, GLOBAL: 1, WEAK: 2 } as const;
const SHN_ABS = 0xfff1;
const SHN_COMMON = 0xfff2;

/** Seeded PRNG (mulberry32) so the corpus is reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One 8-byte slot in the given byte order. */
function slot(op: number, dst: number, src: number, off: number, imm: number, be = false): number[] {
  const o = off & 0xffff;
  const i = imm >>> 0;
  if (be)
    return [op, (dst << 4) | src, o >> 8, o & 0xff, i >>> 24, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff];
  return [op, (src << 4) | dst, o & 0xff, o >> 8, i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24];
}

const zeros = (n: number): number[] => new Array(n).fill(0);
const bytes = (...parts: number[][]): Uint8Array => Uint8Array.from(parts.flat());

/** Every opcode byte, `per` times, with fields biased toward the values decoders care about. */
function randomCode(seed: number, per: number, be: boolean): Uint8Array {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const reg = (): number => (r() < 0.75 ? int(0, 11) : int(0, 15));
  const off = (): number => {
    const c = r();
    if (c < 0.35) return 0;
    if (c < 0.55) return pick([1, -1, 8, 16, 32, 64, 0x7fff, -0x8000]);
    if (c < 0.8) return int(-40, 40);
    return int(-0x8000, 0x7fff);
  };
  const imm = (): number => {
    const c = r();
    if (c < 0.2) return 0;
    if (c < 0.5)
      return pick([
        1, -1, 16, 32, 64, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, 0x100, 0x110, 0x7fffffff,
        -0x80000000, 0x10001,
      ]);
    if (c < 0.7) return int(-300, 300);
    return int(-0x80000000, 0x7fffffff);
  };
  const out: number[] = [];
  for (let op = 0; op < 256; op++) {
    for (let k = 0; k < per; k++) {
      if (k % 3 === 2) {
        out.push(op);
        for (let j = 0; j < 7; j++) out.push(int(0, 255));
      } else {
        out.push(...slot(op, reg(), reg(), off(), imm(), be));
      }
      // An ld_imm64 eats the next slot: give it one (mostly a clean second half).
      if (op === 0x18)
        out.push(
          ...(r() < 0.6 ? slot(0, 0, 0, 0, imm(), be) : slot(int(0, 255), reg(), reg(), off(), imm(), be)),
        );
    }
  }
  return Uint8Array.from(out);
}

const fn = (name: string, value: number, shndx = 1, extra: Partial<CorpusSymbol> = {}): CorpusSymbol => ({
  name,
  value: BigInt(value),
  type: STT.FUNC,
  shndx,
  ...extra,
});

/** Each case: an object (described, or given as bytes) and the llvm-objdump flag sets for it. */
interface Case {
  readonly name: string;
  readonly elf?: CorpusElf;
  readonly bytes?: Uint8Array;
  readonly flagsets: readonly string[];
}

/** src/core_kinds.c compiled by clang-19 for one byte order. */
function compileCore(be: boolean, debug = "-g"): Uint8Array {
  const out = join(HERE, `core_kinds.tmp.${be ? "eb" : "el"}.o`);
  execFileSync("clang-19", [
    "-target",
    be ? "bpfeb" : "bpfel",
    "-I/usr/include/x86_64-linux-gnu",
    "-O2",
    debug,
    "-mcpu=v3",
    "-c",
    join(HERE, "src", "core_kinds.c"),
    "-o",
    out,
  ]);
  const bytes = readFileSync(out);
  rmSync(out);
  return new Uint8Array(bytes);
}

interface CoreRecord {
  /** File offset of the 16-byte record (insn_off, type_id, access_str_off, kind). */
  readonly at: number;
  readonly type: number;
  readonly spec: number;
  readonly kind: number;
}

/**
 * Rewrites CO-RE records of a compiled object so llvm-objdump's describer meets every kind
 * name, every type kind and each of its complaints (bad spec strings, unknown ids, indices out
 * of range). `edit` gets the records, the .BTF string table and a writer for a u32 field.
 */
function mutateCore(
  bytes: Uint8Array,
  be: boolean,
  edit: (recs: CoreRecord[], strings: Uint8Array, set: (at: number, v: number) => void) => void,
): Uint8Array {
  const out = bytes.slice();
  const elf = readElf(out);
  const le = !be;
  const view = new DataView(out.buffer);
  const ext = elf.section(".BTF.ext")!;
  const btf = elf.section(".BTF")!;
  const hdrLen = view.getUint32(ext.offset + 4, le);
  const relOff = view.getUint32(ext.offset + 24, le);
  const relLen = view.getUint32(ext.offset + 28, le);
  const start = ext.offset + hdrLen + relOff;
  const recSize = view.getUint32(start, le);
  const recs: CoreRecord[] = [];
  for (let at = start + 4; at < start + relLen; ) {
    const n = view.getUint32(at + 4, le);
    at += 8;
    for (let i = 0; i < n; i++, at += recSize) {
      recs.push({
        at,
        type: view.getUint32(at + 4, le),
        spec: view.getUint32(at + 8, le),
        kind: view.getUint32(at + 12, le),
      });
    }
  }
  const strOff = btf.offset + view.getUint32(btf.offset + 4, le) + view.getUint32(btf.offset + 16, le);
  const strLen = view.getUint32(btf.offset + 20, le);
  const strings = out.subarray(strOff, strOff + strLen);
  edit(recs, strings, (at, v) => view.setUint32(at, v >>> 0, le));
  return out;
}

/** Offset of the first match of `re` in the NUL-separated string table (plus `delta`). */
function findString(strings: Uint8Array, re: RegExp, delta = 0): number {
  const text = new TextDecoder("latin1").decode(strings);
  const m = re.exec(text);
  if (m === null) throw new Error(`no string matching ${re}`);
  return m.index + delta;
}

function coreCases(be: boolean): Case[] {
  const sfx = be ? ".eb" : ".el";
  const base = compileCore(be);
  const zeroSpec = (recs: CoreRecord[]): number => recs.find((r) => r.kind === 6)!.spec;
  return [
    { name: `core_kinds${sfx}`, bytes: base, flagsets: ["d", "dr", "dl"] },
    // DWARF 4 line tables and ranges for -l.
    { name: `core_kinds_dwarf4${sfx}`, bytes: compileCore(be, "-gdwarf-4"), flagsets: ["dl"] },
    {
      // Every record a type_size relocation of type i: each BTF kind's spelling, void included.
      name: `core_types${sfx}`,
      bytes: mutateCore(base, be, (recs, _s, set) => {
        const zero = zeroSpec(recs);
        recs.forEach((r, i) => {
          set(r.at + 4, i);
          set(r.at + 8, zero);
          set(r.at + 12, 9);
        });
      }),
      flagsets: ["dr"],
    },
    {
      // Every relocation kind number 0..n on struct outer with a field spec, unknown ones too.
      name: `core_reloc_kinds${sfx}`,
      bytes: mutateCore(base, be, (recs, _s, set) => {
        recs.forEach((r, i) => {
          set(r.at + 4, 5);
          set(r.at + 12, i);
        });
      }),
      flagsets: ["dr"],
    },
    {
      // The describer's complaints.
      name: `core_errors${sfx}`,
      bytes: mutateCore(base, be, (recs, strings, set) => {
        const field = recs.filter((r) => r.kind <= 5);
        const byKind = (k: number) => recs.find((r) => r.kind === k)!;
        set(field[0].at + 4, 99999); // unknown type id
        set(field[1].at + 8, 0); // empty spec: field spec too short
        set(field[2].at + 8, findString(strings, /:\d+:/)); // starts with ':': not a number
        set(field[3].at + 8, findString(strings, /\d[^\d:\0]/)); // digit then junk: bad delimiter
        set(field[4].at + 8, findString(strings, /0:4:2:0/)); // fine, then...
        set(field[4].at + 4, 1); // ...on a non-struct type: unexpected type kind
        set(field[5].at + 8, findString(strings, /0:6:0/)); // on struct inner: member out of range
        set(field[5].at + 4, recs.find((r) => r.kind === 9)!.type);
        set(byKind(6).at + 8, findString(strings, /0:2/)); // type-based spec must be "0"
        set(byKind(10).at + 8, findString(strings, /0:2/, 2)); // "2": bad enum value index
        set(byKind(11).at + 8, findString(strings, /0:2/)); // enum spec of two numbers
        set(recs.filter((r) => r.kind === 11)[1].at + 4, 5); // enum reloc on a struct
        set(field[6].at + 8, findString(strings, /0:4:3:1:1/, 0)); // array index path...
        set(field[6].at + 4, 13); // ...from a typedef'd modifier chain
      }),
      flagsets: ["dr"],
    },
  ];
}

const FLAGSETS: Readonly<Record<string, readonly string[]>> = {
  d: ["-d"],
  dr: ["-d", "-r"],
  "d-noraw": ["-d", "--no-show-raw-insn"],
  "dr-noraw": ["-d", "-r", "--no-show-raw-insn"],
  "d-mcpu-v1": ["-d", "--mcpu=v1"],
  "d-mcpu-v2": ["-d", "--mcpu=v2"],
  "d-mcpu-v3": ["-d", "--mcpu=v3"],
  "d-mcpu-v4": ["-d", "--mcpu=v4"],
  "dr-mcpu-v3": ["-d", "-r", "--mcpu=v3"],
  r: ["-r"],
  "d-decimal": ["-d", "--no-print-imm-hex"],
  "dr-decimal": ["-d", "-r", "--no-print-imm-hex"],
  dl: ["-d", "-l"],
};
const ALL = ["d", "dr", "d-noraw", "dr-noraw", "r", "dr-decimal", "dl"];

function edgeCases(be: boolean): Case[] {
  const s = (op: number, dst: number, src: number, off: number, imm: number) =>
    slot(op, dst, src, off, imm, be);
  const sfx = be ? ".eb" : ".el";
  const exit = s(0x95, 0, 0, 0, 0);
  const cases: Case[] = [];

  // Zero runs: exactly 8, 12 (misaligns what follows), 16, a run into the chunk end, an
  // instruction whose tail bytes are zero followed by zeros, and a relocation inside a run.
  cases.push({
    name: `zeros${sfx}`,
    elf: {
      bigEndian: be,
      sections: [
        {
          name: "xdp",
          data: bytes(
            s(0xb7, 1, 0, 0, 1),
            zeros(8),
            s(0xb7, 2, 0, 0, 2),
            zeros(12),
            s(0xb7, 3, 0, 0, 3),
            zeros(16),
            s(0x18, 1, 0, 0, 0),
            s(0, 0, 0, 0, 0),
            zeros(24),
            s(0x05, 0, 0, -3, 0),
            zeros(4),
            s(0x00, 0, 0, 0, 7),
            exit,
            zeros(20),
          ),
        },
      ],
      symbols: [fn("prog", 0), fn("tail", 160)],
      relocs: [
        {
          target: 1,
          entries: [
            { offset: 56n, type: 1, symbol: 2 },
            { offset: 100n, type: 10, symbol: 1 },
          ],
        },
      ],
    },
    flagsets: ALL,
  });

  // Truncation: an odd-sized section, an ld_imm64 in the last full slot, a bad-register
  // ld_imm64, and an ld_imm64 cut by the next symbol (decoding reads past the chunk).
  cases.push({
    name: `trunc${sfx}`,
    elf: {
      bigEndian: be,
      sections: [
        {
          name: "tc",
          data: bytes(
            s(0xb7, 0, 0, 0, 0),
            s(0x18, 2, 0, 0, 0x12345678),
            s(0x00, 0, 0, 0, 0x9abcdef0),
            s(0x18, 12, 0, 0, 1),
            s(0x18, 1, 0, 1, 1),
            s(0x18, 3, 1, 0, 5),
            s(0x00, 0, 0, 0, 0),
            s(0x95, 0, 0, 0, 0),
            s(0x18, 4, 0, 0, -1),
          ),
        },
        { name: "tc/odd", data: bytes(s(0xb7, 0, 0, 0, 0), s(0x18, 5, 2, 0, 1), [0x95, 0, 0, 0, 0]) },
        { name: "tc/short", data: Uint8Array.from([0x95, 0, 0]) },
      ],
      symbols: [fn("a", 0), fn("mid", 48), fn("b", 0, 2), fn("c", 0, 3)],
    },
    flagsets: ALL,
  });

  // Data in code: an OBJECT symbol chunk (hex + ASCII dump), an OBJECT and a FUNC at one address
  // (code wins), a COMMON-typed symbol, a 13-byte data chunk, zero bytes inside data.
  const text = new TextEncoder().encode("Hello, BPF!\0\x01\x7f~ ");
  cases.push({
    name: `data${sfx}`,
    elf: {
      bigEndian: be,
      sections: [
        {
          name: ".text",
          data: bytes(
            s(0xb7, 0, 0, 0, 1),
            exit,
            Array.from(text),
            zeros(32 - text.length),
            s(0xb7, 0, 0, 0, 2),
            exit,
            zeros(8),
            Array.from(text.subarray(0, 13)),
            zeros(3),
            s(0x05, 0, 0, -7, 0),
            exit,
          ),
        },
      ],
      symbols: [
        fn("f", 0),
        { name: "table", value: 16n, type: STT.OBJECT, shndx: 1, bind: STB.LOCAL },
        { name: "g_obj", value: 48n, type: STT.OBJECT, shndx: 1 },
        fn("g", 48),
        { name: "zeros_obj", value: 64n, type: STT.COMMON, shndx: 1 },
        { name: "str13", value: 72n, type: STT.OBJECT, shndx: 1 },
        fn("h", 88),
      ],
    },
    flagsets: ALL,
  });

  // Symbols: several at one address (sorted by name then type, the last code one printed),
  // labels used as branch targets, a symbol past the end, one inside an ld_imm64, empty names,
  // STT_SECTION/STT_FILE (ignored), absolute/common/undefined (not in a section), a section
  // whose first symbol is not at its start (dummy), branches before the section and past it.
  cases.push({
    name: `symbols${sfx}`,
    elf: {
      bigEndian: be,
      sections: [
        {
          name: "kprobe/sys_open",
          data: bytes(
            s(0xbf, 6, 1, 0, 0),
            s(0x15, 6, 0, 2, 0),
            s(0x05, 0, 0, 3, 0),
            s(0x18, 1, 0, 0, 7),
            s(0, 0, 0, 0, 0),
            s(0x55, 1, 0, -4, 0),
            s(0x05, 0, 0, -20, 0),
            s(0x06, 0, 0, 0, 100),
            s(0xa5, 2, 0, 0x7fff, 9),
            s(0xe5, 0, 0, -1, 0),
            exit,
          ),
        },
        {
          name: "uprobe",
          data: bytes(s(0xb7, 0, 0, 0, 0), s(0x05, 0, 0, -2, 0), s(0x05, 0, 0, 0, 0), exit),
        },
      ],
      symbols: [
        { name: "file.c", value: 0n, type: STT.FILE, shndx: SHN_ABS, bind: STB.LOCAL },
        { name: "", value: 0n, type: STT.SECTION, shndx: 1, bind: STB.LOCAL },
        { name: "LBB0_2", value: 16n, type: STT.NOTYPE, shndx: 1, bind: STB.LOCAL },
        { name: "LBB0_4", value: 40n, type: STT.NOTYPE, shndx: 1, bind: STB.LOCAL },
        { name: "", value: 48n, type: STT.NOTYPE, shndx: 1, bind: STB.LOCAL },
        { name: "zeta", value: 0n, type: STT.NOTYPE, shndx: 1 },
        fn("alpha", 0),
        { name: "alpha", value: 0n, type: STT.OBJECT, shndx: 1 },
        fn("beta", 0, 1, { bind: STB.WEAK }),
        { name: "inside_ldimm", value: 32n, type: STT.NOTYPE, shndx: 1 },
        { name: "past_end", value: 400n, type: STT.FUNC, shndx: 1 },
        { name: "abs_sym", value: 8n, type: STT.NOTYPE, shndx: SHN_ABS },
        { name: "common_sym", value: 8n, type: STT.OBJECT, shndx: SHN_COMMON },
        { name: "undef_sym", value: 0n, type: STT.NOTYPE, shndx: 0 },
        { name: "later", value: 8n, type: STT.FUNC, shndx: 2 },
        { name: "sec_sym2", value: 0n, type: STT.SECTION, shndx: 2, bind: STB.LOCAL },
      ],
    },
    flagsets: ALL,
  });

  // Relocations: REL and RELA (addends of both signs) on one section, symbol 0, a section
  // symbol, an unknown type, offsets inside an instruction and past the end, unsorted entries,
  // relocations on a chunk that is dumped as data, relocations for a non-code section.
  cases.push({
    name: `relocs${sfx}`,
    elf: {
      bigEndian: be,
      sections: [
        {
          name: "socket",
          data: bytes(
            s(0x18, 1, 0, 0, 0),
            s(0, 0, 0, 0, 0),
            s(0x85, 0, 1, 0, -1),
            s(0x85, 0, 2, 0, -1),
            s(0x18, 2, 2, 0, 0),
            s(0, 0, 0, 0, 0),
            s(0x61, 1, 2, 4, 0),
            exit,
            zeros(16),
          ),
        },
        { name: ".data", flags: 3, data: Uint8Array.from(zeros(16)) },
        { name: "license", flags: 6, data: bytes(Array.from(new TextEncoder().encode("GPL\0")), zeros(4)) },
      ],
      symbols: [
        { name: "", value: 0n, type: STT.SECTION, shndx: 2, bind: STB.LOCAL },
        { name: "map", value: 8n, type: STT.OBJECT, shndx: 2 },
        { name: "helper_fn", value: 0n, type: STT.FUNC, shndx: 0 },
        fn("prog", 0),
        { name: "LICENSE", value: 0n, type: STT.OBJECT, shndx: 3 },
      ],
      relocs: [
        {
          target: 1,
          entries: [
            { offset: 24n, type: 10, symbol: 3 },
            { offset: 0n, type: 1, symbol: 2 },
            { offset: 32n, type: 1, symbol: 1 },
            { offset: 36n, type: 77, symbol: 0 },
            { offset: 48n, type: 3, symbol: 2 },
            { offset: 64n, type: 2, symbol: 4 },
            { offset: 200n, type: 4, symbol: 2 },
          ],
        },
        {
          target: 1,
          rela: true,
          name: ".rela.socket",
          entries: [
            { offset: 16n, type: 10, symbol: 4, addend: 8n },
            { offset: 0n, type: 1, symbol: 2, addend: -16n },
            { offset: 32n, type: 0, symbol: 0, addend: 0n },
          ],
        },
        { target: 3, entries: [{ offset: 0n, type: 2, symbol: 1 }] },
        { target: 2, entries: [{ offset: 8n, type: 2, symbol: 2 }] },
      ],
    },
    flagsets: ALL,
  });

  // Sections: empty code section, NOBITS code, code in a non-exec section (skipped), exec without
  // ALLOC (listed), a non-zero sh_addr, no symbols at all in a section.
  cases.push({
    name: `sections${sfx}`,
    elf: {
      bigEndian: be,
      sections: [
        { name: "empty", data: new Uint8Array(0) },
        { name: "bss_code", type: 8, data: new Uint8Array(0), nobitsSize: 64 },
        { name: ".rodata", flags: 2, data: bytes(s(0xb7, 0, 0, 0, 0), exit) },
        { name: "noalloc", flags: 4, data: bytes(s(0xb7, 0, 0, 0, 1), exit) },
        {
          name: "addr",
          addr: 0x1000n,
          data: bytes(s(0x05, 0, 0, 1, 0), s(0xb7, 0, 0, 0, 2), s(0x05, 0, 0, -3, 0), exit),
        },
        { name: "nosym", data: bytes(s(0x05, 0, 0, -1, 0), exit) },
      ],
      symbols: [fn("in_addr", 0x1008, 5)],
    },
    flagsets: ALL,
  });

  // No symbol table at all.
  cases.push({
    name: `nosymtab${sfx}`,
    elf: {
      bigEndian: be,
      noSymtab: true,
      sections: [{ name: "xdp", data: bytes(s(0x15, 1, 0, 1, 0), s(0xb7, 0, 0, 0, 1), exit) }],
    },
    flagsets: ["d", "d-noraw"],
  });
  return cases;
}

function allCases(): Case[] {
  const cases: Case[] = [];
  for (const be of [false, true]) {
    const sfx = be ? ".eb" : ".el";
    cases.push({
      name: `random${sfx}`,
      elf: {
        bigEndian: be,
        sections: [{ name: "xdp", data: randomCode(be ? 0xbeef : 0x1234, 12, be) }],
        symbols: [fn("prog", 0)],
      },
      flagsets: ["d", "d-mcpu-v1", "d-mcpu-v3", "d-noraw", "d-decimal"],
    });
    cases.push(...edgeCases(be));
    cases.push(...coreCases(be));
  }
  return cases;
}

interface ManifestEntry {
  readonly object: string;
  readonly flagset: string;
  readonly flags: readonly string[];
  readonly argv: readonly string[];
  readonly golden: string;
}

function main(): void {
  const objDir = join(HERE, "obj");
  const goldenDir = join(HERE, "golden");
  rmSync(objDir, { recursive: true, force: true });
  rmSync(goldenDir, { recursive: true, force: true });
  mkdirSync(objDir, { recursive: true });
  const entries: ManifestEntry[] = [];
  const cases = allCases();
  for (const c of cases) {
    const objPath = join(objDir, `${c.name}.o`);
    writeFileSync(objPath, c.bytes ?? writeCorpusElf(c.elf!));
    const rel = relative(ROOT, objPath);
    mkdirSync(join(goldenDir, c.name), { recursive: true });
    for (const fs of c.flagsets) {
      const flags = FLAGSETS[fs];
      const argv = [...flags, rel];
      // Run from the repository root so the path printed in the header is the relative one.
      const out = execFileSync(TOOL, argv, { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 28 });
      const golden = join(goldenDir, c.name, `${fs}.txt`);
      writeFileSync(golden, out);
      entries.push({ object: rel, flagset: fs, flags, argv, golden: relative(ROOT, golden) });
    }
  }
  const manifest = {
    tool: TOOL,
    version: execFileSync(TOOL, ["--version"], { encoding: "utf8" })
      .split("\n")
      .find((l) => l.includes("LLVM version"))
      ?.trim(),
    cwd: "repository root",
    entries,
  };
  writeFileSync(join(HERE, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  console.log(`${entries.length} goldens for ${cases.length} objects`);
}

main();
