/**
 * The tsbpf-conformance-plugin executable, spawned as the bpf_conformance runner does: memory
 * hex as the first argument, program hex on stdin, r0 in hex on stdout. The TypeScript entry is
 * run through tsx so the test does not depend on a build.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseHexBytes, runPlugin } from "../../src/cli/conformance-plugin.js";
import { captureIo } from "../../src/cli/io.js";
import { parseConformanceData } from "../../src/isa/asm/conformance-data.js";
import { encode } from "../../src/isa/codec.js";
import { insn } from "../../src/isa/instruction.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const SUITE = "/work/shared/bpf_conformance";
const ENTRY = `import { pluginMain } from ${JSON.stringify(join(root, "src/cli/conformance-plugin.ts"))};
process.exitCode = await pluginMain(["node", "plugin", ...process.argv.slice(1)]);`;

const hex = (b: Uint8Array): string => Array.from(b, (x) => `${x.toString(16).padStart(2, "0")}  `).join("");

function spawnPlugin(args: string[], stdin: string) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", ENTRY, ...args], {
    input: stdin,
    encoding: "utf8",
    cwd: root,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe("tsbpf-conformance-plugin (spawned)", () => {
  it("runs a raw program from a suite file and prints r0 in hex", () => {
    const data = parseConformanceData(readFileSync(join(SUITE, "tests/lddw.data"), "utf8"));
    const r = spawnPlugin([""], hex(data.raw ?? new Uint8Array()));
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(BigInt(`0x${r.out.trim()}`)).toBe(data.result);
  });

  it("passes memory as r1/r2 (mem-len: r0 = r2); an empty options argument is fine", () => {
    const data = parseConformanceData(readFileSync(join(SUITE, "tests/mem-len.data"), "utf8"));
    const prog = encode([insn(0xbf, 0, 2), insn(0x95)]);
    const r = spawnPlugin([hex(data.mem ?? new Uint8Array()), ""], hex(prog));
    expect(r.code).toBe(0);
    expect(BigInt(`0x${r.out.trim()}`)).toBe(data.result);
  });

  it("--elf runs function main of .text, with local and relocated global calls", () => {
    const elf = readFileSync(join(here, "fixtures/plugin-main.o"));
    const r = spawnPlugin([hex(Uint8Array.from([9, 2, 3])), "--elf --other"], hex(elf));
    expect(r.err).toBe("");
    // main = sub(40) + helper_first(mem[2]) + mem[1], with sub(x) = x + 1, helper_first(x) = 100 x
    expect(r.out.trim()).toBe((40 + 1 + 100 * 3 + 2).toString(16));
  });

  it("--elf with main in section xdp runs with an xdp_md context over the memory", () => {
    const elf = readFileSync(join(here, "fixtures/plugin-xdp.o"));
    const ok = spawnPlugin([hex(Uint8Array.from([9, 2, 3])), "--elf"], hex(elf));
    expect(ok.out.trim()).toBe((2 + 3).toString(16));
    // memory shorter than the prolog's bounds check: the prolog returns -1
    const short = spawnPlugin([hex(Uint8Array.from([9, 2])), "--elf"], hex(elf));
    expect(short.out.trim()).toBe("ffffffffffffffff");
  });

  it("a refused program exits non-zero with a message", () => {
    const data = parseConformanceData(
      readFileSync(join(SUITE, "negative/unused-add64_imm-offset.data"), "utf8"),
    );
    const r = spawnPlugin([""], hex(data.raw ?? new Uint8Array()));
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/reserved fields/);
  });
});

describe("plugin input handling (in-process)", () => {
  it("parses hex in the runner's spacing and refuses non-hex", () => {
    expect(Array.from(parseHexBytes("aa  bb  11  ", "m"))).toEqual([0xaa, 0xbb, 0x11]);
    expect(Array.from(parseHexBytes("", "m"))).toEqual([]);
    expect(() => parseHexBytes("zz", "m")).toThrow(/not hex/);
  });

  it("bad input: partial instruction, empty program, runtime fault", () => {
    const io1 = captureIo();
    expect(runPlugin([""], "95 00 00", io1)).toBe(2);
    expect(io1.out).toMatch(/whole number of instructions/);
    const io2 = captureIo();
    expect(runPlugin([""], "", io2)).toBe(2);
    const io3 = captureIo();
    // r0 = *(u64 *)(r1 + 0) without memory: r1 = 0 is no pointer
    expect(runPlugin([""], hex(encode([insn(0x79, 0, 1), insn(0x95)])), io3)).toBe(1);
    expect(io3.out).toMatch(/out-of-bounds|invalid address/);
  });

  it("--xdp: a raw program with the runner's XDP prolog", () => {
    // the runner's prolog for a 4-byte memory, then r0 = *(u16 *)(r1 + 2) + r2
    const prolog = [
      insn(0xb7, 0, 0, 0, -1),
      insn(0xbf, 6, 1),
      insn(0x61, 1, 6, 0),
      insn(0x61, 2, 6, 4),
      insn(0xbf, 3, 1),
      insn(0x07, 3, 0, 0, 4),
      insn(0xbd, 3, 2, 1),
      insn(0x95),
      insn(0xb7, 2, 0, 0, 4),
    ];
    const prog = encode([...prolog, insn(0x69, 0, 1, 2), insn(0x0f, 0, 2), insn(0x95)]);
    const io = captureIo();
    expect(runPlugin([hex(Uint8Array.from([1, 2, 0x34, 0x12])), "--xdp"], hex(prog), io)).toBe(0);
    expect(io.out.trim()).toBe((0x1234 + 4).toString(16));
  });

  it("--elf without a function main is bad input", () => {
    const elf = readFileSync(join(here, "fixtures/plugin-main.o"));
    const patched = Buffer.from(elf.toString("latin1").replace("main", "mane"), "latin1");
    const io = captureIo();
    expect(runPlugin(["", "--elf"], hex(patched), io)).toBe(2);
    expect(io.out).toMatch(/no function main/);
  });

  it("refuses every negative/unused-* program (strict check)", () => {
    const files = readdirSync(join(SUITE, "negative")).filter((f) => f.startsWith("unused-"));
    expect(files.length).toBe(45);
    for (const f of files) {
      const data = parseConformanceData(readFileSync(join(SUITE, "negative", f), "utf8"));
      const io = captureIo();
      expect(runPlugin([""], hex(data.raw ?? new Uint8Array()), io), f).not.toBe(0);
      expect(io.out, f).toMatch(/reserved|invalid|unknown/);
    }
  });
});
