import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openObject } from "../../src/elf/object/index.js";
import { diffFiles, figures, type Golden, goldenOf } from "../../src/verifier/diff.js";
import { kernelVerifyAsLoaded } from "../../src/verifier/kernel.js";

const GOLDENS = "test/fixtures/verifier/goldens.json";
const list = (dir: string, re: RegExp): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => re.test(f))
        .sort()
        .map((f) => join(dir, f))
    : [];
const files = [
  ...list("test/fixtures/obj", /\.el\.v3\.o$/),
  ...list("test/fixtures/obj/reject", /\.el\.v3\.o$/),
  ...list("test/fixtures/verifier/obj", /\.o$/),
];
const goldens: Golden[] = existsSync(GOLDENS) ? JSON.parse(readFileSync(GOLDENS, "utf8")) : [];
const byKey = new Map(goldens.map((g) => [`${g.file}\0${g.program}`, g]));

/** Whether this process can load programs (root with bpf()); probed once. */
async function kernelAvailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "not root";
  try {
    const obj = await openObject("test/fixtures/obj/reject/null_check.el.v3.o");
    const k = await kernelVerifyAsLoaded(obj, obj.programs[0]!);
    return k.loadError ? `kernel load failed: ${k.loadError}` : undefined;
  } catch (e) {
    return String(e);
  }
}

describe("offline verifier vs the kernel on every fixture", async () => {
  const why = await kernelAvailable();
  if (why) console.warn(`verifier diff: kernel unavailable (${why}); using committed goldens`);
  it("never accepts what the kernel rejects; figures", async () => {
    const rows = await diffFiles(
      files,
      async (file, program, live) =>
        why ? byKey.get(`${file}\0${program}`) : goldenOf(file, program, await live()),
      30000,
    );
    const f = figures(rows);
    console.log(JSON.stringify({ source: why ? "goldens" : "live kernel", ...f }));
    const falseAccepts = rows.filter(
      (r) =>
        !r.kernel.unavailable &&
        r.ours.modelled &&
        r.ours.verdict === "accept" &&
        r.kernel.verdict === "reject",
    );
    expect(falseAccepts.map((r) => `${r.file}:${r.program}: ${r.kernel.message}`)).toEqual([]);
    expect(f.compared).toBeGreaterThanOrEqual(60);
  }, 600_000);
  it("the committed goldens still match the running kernel", async () => {
    if (why) return;
    for (const g of goldens.slice(0, 40)) {
      const obj = await openObject(g.file);
      const k = goldenOf(g.file, g.program, await kernelVerifyAsLoaded(obj, obj.program(g.program)));
      expect({ v: k.verdict, m: k.message }).toEqual({ v: g.verdict, m: g.message });
    }
  }, 120_000);
});
