/**
 * Loading the llvm-readobj JSON goldens written by test/fixtures/build-elf-goldens.sh, and the
 * list of ELF files the ELF tests run on.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const FIXTURES = join(ROOT, "test/fixtures");
export const GOLDEN_DIR = join(FIXTURES, "golden/readobj");

/** A JSON number as llvm-readobj printed it; integers past 2^53 arrive as decimal strings. */
export type Num = number | string;

export interface Named {
  readonly Name: string;
  readonly Value: Num;
}

export interface ReadobjSection {
  readonly Index: number;
  readonly Name: Named;
  readonly Type: Named;
  readonly Flags: { readonly Value: Num };
  readonly Address: Num;
  readonly Offset: Num;
  readonly Size: Num;
  readonly Link: number;
  readonly Info: number;
  readonly AddressAlignment: Num;
  readonly EntrySize: Num;
}

export interface ReadobjSymbol {
  readonly Name: Named;
  readonly Value: Num;
  readonly Size: Num;
  readonly Binding: Named;
  readonly Type: Named;
  readonly Other: { readonly Value: number };
  readonly Section: Named;
}

export interface ReadobjRelocation {
  readonly Offset: Num;
  readonly Type: Named;
  readonly Symbol: Named;
  readonly Addend?: Num;
}

export interface ReadobjProgramHeader {
  readonly Type: Named;
  readonly Offset: Num;
  readonly VirtualAddress: Num;
  readonly PhysicalAddress: Num;
  readonly FileSize: Num;
  readonly MemSize: Num;
  readonly Flags: { readonly Value: number };
  readonly Alignment: Num;
}

export interface ReadobjFile {
  readonly FileSummary: { readonly File: string };
  readonly ElfHeader: {
    readonly Ident: {
      readonly Class: Named;
      readonly DataEncoding: Named;
      readonly "OS/ABI": Named;
      readonly ABIVersion: number;
    };
    readonly Type: string;
    readonly Machine: Named;
    readonly Version: number;
    readonly Entry: Num;
    readonly ProgramHeaderOffset: Num;
    readonly SectionHeaderOffset: Num;
    readonly Flags: { readonly Value: number };
    readonly ProgramHeaderCount: number | string;
    readonly SectionHeaderCount: number | string;
    readonly StringTableSectionIndex: number | string;
  };
  readonly Sections: readonly { readonly Section: ReadobjSection }[];
  readonly ProgramHeaders: readonly { readonly ProgramHeader: ReadobjProgramHeader }[];
  readonly Relocations: readonly {
    readonly SectionIndex: number;
    readonly Relocs: readonly { readonly Relocation: ReadobjRelocation }[];
  }[];
  readonly Symbols?: readonly { readonly Symbol: ReadobjSymbol }[];
  readonly DynamicSymbols?: readonly { readonly Symbol: ReadobjSymbol }[];
}

export function big(n: Num): bigint {
  return BigInt(n);
}

/**
 * JSON.parse loses integers above 2^53 (llvm-readobj prints u64 fields such as negative RELA
 * addends as unsigned decimals), so long integer literals become strings before parsing.
 */
export function parseReadobjJson(text: string): ReadobjFile {
  const safe = text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g, '$1"$2"');
  const parsed = JSON.parse(safe) as ReadobjFile[];
  if (parsed.length !== 1) throw new Error(`expected one file in the golden, got ${parsed.length}`);
  return parsed[0];
}

function walk(dir: string, keep: (path: string) => boolean): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p, keep));
    else if (keep(p)) out.push(p);
  }
  return out;
}

export interface GoldenCase {
  /** Path of the golden, relative to the repository root. */
  readonly golden: string;
  /** Path of the described ELF file, relative to the repository root. */
  readonly file: string;
  readonly readobj: ReadobjFile;
}

export function goldenCases(): GoldenCase[] {
  return walk(GOLDEN_DIR, (p) => p.endsWith(".json")).map((p) => {
    const readobj = parseReadobjJson(readFileSync(p, "utf8"));
    return { golden: relative(ROOT, p), file: readobj.FileSummary.File, readobj };
  });
}

/** Every committed compiled BPF object (test/fixtures/obj/**.o). */
export function fixtureObjects(): string[] {
  return walk(join(FIXTURES, "obj"), (p) => p.endsWith(".o")).map((p) => relative(ROOT, p));
}

export const NATIVE_FILES = ["native_pie", "native_nopie", "libnative.so", "native_rela.o"].map(
  (n) => `test/fixtures/native/${n}`,
);

export function readFixture(path: string): Uint8Array {
  return readFileSync(join(ROOT, path));
}

/** A representative set of real ELF files for mutation tests: both byte orders, BPF and x86-64. */
export function sampleFiles(): string[] {
  const objs = fixtureObjects();
  const pick = (re: RegExp) => objs.filter((o) => re.test(o)).slice(0, 2);
  return [
    ...pick(/\.el\.v3\.o$/),
    ...pick(/\.eb\.v3\.o$/),
    ...NATIVE_FILES,
    "test/fixtures/elf-edge/xindex.el.o",
    "test/fixtures/elf-edge/xindex.eb.o",
  ];
}
