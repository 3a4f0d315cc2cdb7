/**
 * Our CO-RE decisions against libbpf 1.1.2's on target BTFs chosen for the purpose (fields moved
 * into anonymous unions, widened, gone; arrays resized; bitfields moved; enum grown to enum64;
 * typedef retyped; a target with none of the types; two flavors that agree on one field and
 * disagree on another). test/fixtures/golden/core/custom/capture.sh ran libbpf on each (program,
 * target) pair with btf_custom_path and kept its log; no kernel is involved here.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadTargetBtf, relocate } from "../../src/elf/core/index.js";
import { openObject } from "../../src/elf/object/open.js";
import { compareRelo, parseGoldenLog } from "./golden-log.js";

const DIR = join(import.meta.dirname, "..", "fixtures", "golden", "core", "custom");
const logs = readdirSync(DIR)
  .filter((f) => f.endsWith(".log"))
  .sort();

describe("CO-RE decisions equal libbpf 1.1.2's on chosen target BTFs", () => {
  let compared = 0;
  let equal = 0;
  const kindsEqual = new Set<string>();

  it("has a log for every program and target", () => {
    const progs = readdirSync(DIR).filter((f) => /^prog.*\.o$/.test(f));
    const targets = readdirSync(join(DIR, "targets")).filter((f) => f.endsWith(".o"));
    expect(logs.length).toBe(progs.length * targets.length);
    expect(logs.length).toBeGreaterThanOrEqual(8);
  });

  for (const log of logs) {
    const [prog, target] = log.replace(/\.log$/, "").split(".");
    it(`${prog} on ${target}`, async () => {
      const golden = parseGoldenLog(join(DIR, log));
      const spec = await openObject(join(DIR, `${prog}.o`));
      const tgt = await loadTargetBtf(join(DIR, "targets", `${target}.o`));
      const { results } = relocate(spec, tgt.btf);
      const diffs: string[] = [];
      for (const g of golden.relos) {
        const d = compareRelo(
          g,
          results.filter((r) => r.function === g.prog && r.reloIndex === g.relo),
        );
        compared++;
        if (d.length === 0) {
          equal++;
          kindsEqual.add(/^<([a-z0-9_]+)>/.exec(g.spec)?.[1] ?? "?");
        }
        diffs.push(...d);
      }
      // libbpf stops at a failed record; up to there, the same records.
      const failedAt = golden.relos.find((g) => g.failure !== undefined)?.relo;
      const ours = results.filter((r) => failedAt === undefined || (r.reloIndex ?? 0) <= failedAt);
      expect(ours.length).toBe(golden.relos.length);
      expect(diffs).toEqual([]);
    });
  }

  it("agreement summary", () => {
    console.log(`CO-RE vs libbpf 1.1.2 on chosen targets: ${equal} of ${compared} relocation records equal`);
    expect(compared).toBeGreaterThan(0);
    expect(equal).toBe(compared);
    // Every relocation kind was among them.
    expect([...kindsEqual].sort()).toEqual(
      [
        "byte_off",
        "byte_sz",
        "enumval_exists",
        "enumval_value",
        "field_exists",
        "local_type_id",
        "lshift_u64",
        "rshift_u64",
        "signed",
        "target_type_id",
        "type_exists",
        "type_matches",
        "type_size",
      ].sort(),
    );
  });
});
