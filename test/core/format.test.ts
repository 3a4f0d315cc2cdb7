/**
 * formatCoreLog prints what libbpf's debug log prints for the same decisions: checked line for
 * line (per record, in any order: libbpf builds differ in the order they poison an ld_imm64's two
 * slots) against the libbpf logs of the chosen-target goldens, which need no kernel.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { coreResultJson, formatCoreResult, loadTargetBtf, relocate } from "../../src/elf/core/index.js";
import { openObject } from "../../src/elf/object/open.js";
import { parseGoldenLog } from "./golden-log.js";

const DIR = join(import.meta.dirname, "..", "fixtures", "golden", "core", "custom");

describe("libbpf-style log lines", () => {
  for (const log of readdirSync(DIR).filter((f) => f.endsWith(".log"))) {
    const [prog, target] = log.replace(/\.log$/, "").split(".");
    it(`${prog} on ${target}`, async () => {
      const golden = parseGoldenLog(join(DIR, log));
      const lines = readFileSync(join(DIR, log), "utf8")
        .split("\n")
        .filter((l) => / relo #\d+: /.test(l))
        .map((l) => l.replace(/^libbpf: /, ""));
      const spec = await openObject(join(DIR, `${prog}.o`));
      const { results } = relocate(spec, (await loadTargetBtf(join(DIR, "targets", `${target}.o`))).btf);
      for (const g of golden.relos) {
        if (g.failure !== undefined) continue;
        const r = results.find((x) => x.function === g.prog && x.reloIndex === g.relo)!;
        const want = lines.filter((l) => l.startsWith(`prog '${g.prog}': relo #${g.relo}: `)).sort();
        expect(formatCoreResult(r).sort()).toEqual(want);
      }
    });
  }

  it("JSON copies carry u64 values as decimal strings", async () => {
    const spec = await openObject(join(DIR, "prog.o"));
    const { results } = relocate(spec, (await loadTargetBtf(join(DIR, "targets", "t_moved.o"))).btf);
    const enum64 = results.find(
      (r) => r.localSpecText.includes("TS_DEAD = 2") && r.kind === "enumval_value",
    )!;
    const j = coreResultJson(enum64);
    expect(j.newValue).toBe("4294967296");
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
  });
});
