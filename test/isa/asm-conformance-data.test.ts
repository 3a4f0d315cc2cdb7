import { existsSync, readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { AsmError } from "../../src/errors.js";
import { parseConformanceData } from "../../src/isa/asm/conformance-data.js";

// CI lays shared/ beside the clone; a developer's tree has it at /work/shared.
const ROOT =
  [resolve(process.cwd(), "../shared/bpf_conformance"), "/work/shared/bpf_conformance"].find((p) =>
    existsSync(p),
  ) ?? "/work/shared/bpf_conformance";
const haveSuite = (() => {
  try {
    return readdirSync(`${ROOT}/tests`).length > 0;
  } catch {
    return false;
  }
})();

describe("parseConformanceData", () => {
  it("reads asm, mem, result, error and both raw spellings", () => {
    const text = [
      "# comment",
      "-- asm",
      "mov %r0, 1 # trailing",
      "exit",
      "",
      "-- raw",
      "0x5566778800000018",
      "b7 00 00 00 01 00 00 00",
      "-- mem",
      "aa bb",
      "cc",
      "-- result",
      "0xFFFFFFFFFFFFFFF6",
      "-- error",
      "Invalid thing",
      "-- c",
      "int x;",
    ].join("\n");
    const d = parseConformanceData(text);
    expect(d.asm).toBe("mov %r0, 1 # trailing\nexit");
    expect(d.asmLine).toBe(3);
    const w = new DataView(new ArrayBuffer(8));
    w.setBigUint64(0, 0x5566778800000018n, true);
    expect([...(d.raw ?? [])]).toEqual([...new Uint8Array(w.buffer), 0xb7, 0, 0, 0, 1, 0, 0, 0]);
    expect([...(d.mem ?? [])]).toEqual([0xaa, 0xbb, 0xcc]);
    expect(d.result).toBe(2n ** 64n - 10n);
    expect(d.error).toBe("Invalid thing");
  });

  it("refuses unknown sections, bad bytes and partial instructions with the line", () => {
    expect(() => parseConformanceData("-- asm\nexit\n-- bogus\n")).toThrow(/:3: unknown section/);
    expect(() => parseConformanceData("-- mem\nzz\n")).toThrow(AsmError);
    expect(() => parseConformanceData("-- raw\n95 00 00\n")).toThrow(/not a whole number/);
    // A 0x token is a whole instruction even when short (the suite's runner reads it so).
    expect([...(parseConformanceData("-- raw\n0x95\n").raw ?? [])]).toEqual([0x95, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => parseConformanceData("-- result\nabc\n")).toThrow(/not a number/);
  });

  it.skipIf(!haveSuite)("parses every file of the suite except the unknown-directive negative", () => {
    let parsed = 0;
    for (const dir of ["tests", "negative"]) {
      for (const f of readdirSync(`${ROOT}/${dir}`)) {
        const text = readFileSync(`${ROOT}/${dir}/${f}`, "utf8");
        if (f === "invalid_unknown_directive.data") {
          expect(() => parseConformanceData(text)).toThrow(/unknown section directive/);
          continue;
        }
        const d = parseConformanceData(text, { file: f });
        if (dir === "tests") {
          expect(d.asm ?? d.raw, f).toBeDefined();
          expect(d.result, f).toBeDefined();
        }
        parsed++;
      }
    }
    expect(parsed).toBeGreaterThan(300);
  });
});
