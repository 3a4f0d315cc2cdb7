/**
 * The bpf_conformance suite run in process: every test program (assembled from `-- asm`, or
 * decoded from `-- raw`) must give the expected r0, all 64 bits compared; every
 * negative/unused-* program must be refused by the strict check.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assemble, parseConformanceData } from "../../src/isa/asm/index.js";
import { decode } from "../../src/isa/codec.js";
import { type Instruction, insn } from "../../src/isa/instruction.js";
import { runConformance } from "../../src/vm/conformance.js";
import { VmFault } from "../../src/vm/errors.js";

const SUITE = "/work/shared/bpf_conformance";
const testFiles = readdirSync(join(SUITE, "tests"))
  .filter((f) => f.endsWith(".data"))
  .sort();

function programOf(file: string): { insns: Instruction[]; mem?: Uint8Array; result?: bigint } {
  const text = readFileSync(file, "utf8");
  const data = parseConformanceData(text, { file });
  const insns =
    data.asm !== undefined
      ? assemble(data.asm, { syntax: "conformance", file })
      : decode(data.raw ?? new Uint8Array());
  return { insns, mem: data.mem, result: data.result };
}

describe("bpf_conformance tests/", () => {
  it("has the 313 files of the suite", () => {
    expect(testFiles.length).toBe(313);
  });

  it.each(testFiles)("%s", (f) => {
    const { insns, mem, result } = programOf(join(SUITE, "tests", f));
    expect(result).toBeDefined();
    const r = runConformance(insns, mem);
    expect(`0x${r.r0.toString(16)}`).toBe(`0x${(result ?? 0n).toString(16)}`);
  });
});

describe("bpf_conformance negative/unused-*", () => {
  const files = readdirSync(join(SUITE, "negative")).filter((f) => f.startsWith("unused-"));
  it.each(files)("%s is refused", (f) => {
    const data = parseConformanceData(readFileSync(join(SUITE, "negative", f), "utf8"));
    let fault: unknown;
    try {
      runConformance(decode(data.raw ?? new Uint8Array()));
    } catch (e) {
      fault = e;
    }
    expect(fault).toBeInstanceOf(VmFault);
    expect((fault as VmFault).kind).toBe("invalid-insn");
  });
});

describe("bpf_conformance tests/ in the runner's XDP mode", () => {
  // The runner's --xdp_prolog: before a program with memory, r1 = xdp_md.data, r2 =
  // xdp_md.data_end, a bounds check of the memory's size (else return -1), then r2 = size.
  const prolog = (size: number): Instruction[] => [
    insn(0xb7, 0, 0, 0, -1),
    insn(0xbf, 6, 1),
    insn(0x61, 1, 6, 0),
    insn(0x61, 2, 6, 4),
    insn(0xbf, 3, 1),
    insn(0x07, 3, 0, 0, size),
    insn(0xbd, 3, 2, 1),
    insn(0x95),
    insn(0xb7, 2, 0, 0, size),
  ];
  it("every test gives its result with the packet as memory", () => {
    const failed: string[] = [];
    for (const f of testFiles) {
      const { insns, mem, result } = programOf(join(SUITE, "tests", f));
      const size = mem?.byteLength ?? 0;
      const prog = size > 0 ? [...prolog(size), ...insns] : insns;
      const r = runConformance(prog, mem, { xdp: true });
      if (r.r0 !== result) failed.push(`${f}: 0x${r.r0.toString(16)}`);
    }
    expect(failed).toEqual([]);
  });
});
