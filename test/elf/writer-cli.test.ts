/** `tsbpf asm`: writes the object, reports bad input as one line with exit code 2. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { captureIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";
import { readElf } from "../../src/elf/reader.js";
import { assembleObject } from "../../src/elf/writer.js";

const tmp = mkdtempSync(join(tmpdir(), "tsbpf-asm-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const SRC = "\t.globl f\n\t.type f,@function\nf:\n\tr1 = m ll\n\tcall 1\n\texit\n";

async function run(...args: string[]) {
  const io = captureIo();
  const code = await main(["node", "tsbpf", ...args], io);
  return { code, out: io.out, err: io.err };
}

describe("tsbpf asm", () => {
  const input = join(tmp, "in.s");
  writeFileSync(input, SRC);
  for (const target of ["bpfel", "bpfeb"] as const) {
    it(`writes the object for ${target}`, async () => {
      const out = join(tmp, `out.${target}.o`);
      const r = await run("asm", input, "-o", out, "--target", target);
      expect(r.code).toBe(0);
      const bytes = new Uint8Array(readFileSync(out));
      expect([...bytes]).toEqual([...assembleObject(SRC, { byteOrder: target === "bpfel" ? "le" : "be" })]);
      expect(readElf(bytes).header.byteOrder).toBe(target === "bpfel" ? "le" : "be");
    });
  }
  it("prints the instructions without -o", async () => {
    const r = await run("asm", input);
    expect(r.code).toBe(0);
    expect(r.out.split("\n")[0]).toBe(".text:");
    expect(r.out).toContain("85 00 00 00 01 00 00 00");
  });
  it("prints the module as JSON with --format json", async () => {
    const r = await run("asm", input, "--format", "json");
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    const text = j.sections.find((s: { name: string }) => s.name === ".text");
    expect(text.instructions[0]).toMatchObject({
      offset: 0,
      opcode: 0x18,
      dst: 1,
      ref: { kind: "symbol", symbol: "m" },
    });
    expect(text.relocations).toEqual([{ offset: 0, type: 1, symbol: "m", section: false }]);
    expect((await run("asm", input, "--format", "yaml")).code).toBe(2);
  });
  it("reports an assembly error as file:line:col with exit code 2", async () => {
    const bad = join(tmp, "bad.s");
    writeFileSync(bad, "\tr0 = 1\n\tr0 = *(u8 *)(r1 + 70000)\n");
    const r = await run("asm", bad, "-o", join(tmp, "bad.o"));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^tsbpf: .*bad\.s:2:20: offset 70000 is out of range/);
  });
  it("refuses an unknown target or syntax", async () => {
    expect((await run("asm", input, "--target", "x86")).code).toBe(2);
    expect((await run("asm", input, "--syntax", "intel")).code).toBe(2);
  });
  it("reads the conformance syntax", async () => {
    const conf = join(tmp, "c.data.s");
    writeFileSync(conf, "mov32 %r0, 1\nexit\n");
    const r = await run("asm", conf);
    expect(r.out).toContain("b4 00 00 00 01 00 00 00");
  });
});
