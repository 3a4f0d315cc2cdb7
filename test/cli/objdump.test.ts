/**
 * `tsbpf objdump`: flags map to llvm-objdump-19's (checked against its committed goldens), files
 * are printed one after another, bad input is one error line and exit code 2.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";

const ROOT = join(import.meta.dirname, "..", "..");
const CORPUS = "test/isa/disasm-corpus";

interface Entry {
  readonly object: string;
  readonly flags: readonly string[];
  readonly golden: string;
}
const MANIFEST: readonly Entry[] = (
  JSON.parse(readFileSync(join(ROOT, CORPUS, "manifest.json"), "utf8")) as { entries: Entry[] }
).entries;

function golden(object: string, flags: readonly string[]): string {
  const e = MANIFEST.find((m) => m.object === object && m.flags.join(" ") === flags.join(" "));
  if (e === undefined) throw new Error(`no golden for ${object} ${flags.join(" ")}`);
  return readFileSync(join(ROOT, e.golden), "utf8");
}

/** Run the CLI from the repository root (paths in the output are the relative ones). */
async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo();
  const cwd = process.cwd();
  process.chdir(ROOT);
  try {
    const code = await main(["node", "tsbpf", "objdump", ...args], io);
    return { code, out: io.out, err: io.err };
  } finally {
    process.chdir(cwd);
  }
}

const RELOCS = `${CORPUS}/obj/relocs.el.o`;
const ZEROS_BE = `${CORPUS}/obj/zeros.eb.o`;
const RANDOM = `${CORPUS}/obj/random.el.o`;

describe("tsbpf objdump", () => {
  it.each([
    [RELOCS, ["-d"]],
    [RELOCS, ["-d", "-r"]],
    [RELOCS, ["-d", "--no-show-raw-insn"]],
    [RELOCS, ["-d", "-r", "--no-show-raw-insn"]],
    [RELOCS, ["-r"]],
    [RELOCS, ["-d", "-r", "--no-print-imm-hex"]],
    [ZEROS_BE, ["-d", "-r"]],
    [RANDOM, ["-d", "--mcpu=v3"]],
    [RANDOM, ["-d", "--mcpu=v1"]],
    [RANDOM, ["-d", "--no-print-imm-hex"]],
    [`${CORPUS}/obj/core_kinds.el.o`, ["-d", "-l"]],
    [`${CORPUS}/obj/symbols.eb.o`, ["-d", "-l"]],
  ] as const)("%s %s matches llvm-objdump-19", async (obj, flags) => {
    const r = await run(...flags, obj);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(golden(obj, flags));
  });

  it("accepts combined short flags (-dr) and --mcpu as a separate word", async () => {
    expect((await run("-dr", RELOCS)).out).toBe(golden(RELOCS, ["-d", "-r"]));
    expect((await run("-d", "--mcpu", "v3", RANDOM)).out).toBe(golden(RANDOM, ["-d", "--mcpu=v3"]));
  });

  it("prints several files one after another, byte orders mixed", async () => {
    const r = await run("-d", "-r", RELOCS, ZEROS_BE, RELOCS);
    expect(r.code).toBe(0);
    const one = golden(RELOCS, ["-d", "-r"]);
    expect(r.out).toBe(one + golden(ZEROS_BE, ["-d", "-r"]) + one);
  });

  it("stops at a missing file with one error line and exit code 2, after printing the files before", async () => {
    const r = await run("-d", RELOCS, "no/such/file.o", ZEROS_BE);
    expect(r.code).toBe(2);
    expect(r.out).toBe(golden(RELOCS, ["-d"]));
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    expect(r.err).toContain("no/such/file.o");
  });

  it("refuses a file that is not ELF with one error line and exit code 2", async () => {
    const r = await run("-d", "package.json");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
    expect(r.err).toMatch(/package\.json.*not an ELF file/);
  });

  it("refuses a non-BPF ELF file", async () => {
    const r = await run("-d", "/bin/true");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not a BPF object/);
  });

  it.each([
    [["-d", "--bogus", RELOCS], /unknown option/],
    [["-d", "--mcpu=v9", RELOCS], /--mcpu/],
    [[RELOCS], /nothing to do/],
    [["-d"], /missing required argument|no input files/],
  ] as const)("usage error %s -> exit 2", async (args, message) => {
    const r = await run(...args);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(message);
  });
});
