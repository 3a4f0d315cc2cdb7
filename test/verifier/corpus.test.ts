import { describe, expect, it } from "vitest";
import { diffFiles, figures, type Golden, sameMessage } from "../../src/verifier/diff.js";
import { corpusVerdicts } from "../fixtures/verifier-corpus/golden.js";

/**
 * The offline verifier against the kernel 6.18 goldens of the realistic corpus
 * (test/fixtures/verifier-corpus: programs written to load, and programs with one classic mistake).
 */
describe("offline verifier vs kernel 6.18 on the verifier corpus", () => {
  const rows = corpusVerdicts();
  const byKey = new Map<string, Golden>(rows.map((r) => [`${r.file}\0${r.program}`, r]));
  const files = [...new Set(rows.map((r) => r.file))];

  it("never accepts what the kernel rejects; figures", async () => {
    const diff = await diffFiles(files, (file, program) => byKey.get(`${file}\0${program}`), 15000);
    expect(diff.length).toBe(rows.length);
    const f = figures(diff);
    console.log(JSON.stringify({ corpus: f }));
    for (const r of diff) {
      if (
        r.ours.verdict === r.kernel.verdict &&
        (r.ours.verdict === "accept" || sameMessage(r.ours.message, r.kernel))
      )
        continue;
      const tag = !r.ours.modelled
        ? "not-modelled"
        : r.ours.verdict === "accept"
          ? "FALSE-ACCEPT"
          : "differs";
      console.log(
        `${tag} ${r.file}:${r.program} kernel=${r.kernel.verdict}@${r.kernel.insn} ${JSON.stringify(r.kernel.message)} ours=${r.ours.verdict}@${r.ours.insn} ${JSON.stringify(r.ours.message)}`,
      );
    }
    // a program outside the model is refused, never accepted
    expect(diff.filter((r) => !r.ours.modelled && r.ours.verdict === "accept")).toEqual([]);
    const falseAccepts = diff.filter(
      (r) => r.ours.modelled && r.ours.verdict === "accept" && r.kernel.verdict === "reject",
    );
    expect(falseAccepts.map((r) => `${r.file}:${r.program}: ${r.kernel.message}`)).toEqual([]);
    expect(f.falseAccepts).toBe(0);
    expect(f.compared + f.notModelled + f.oracleUnavailable).toBe(rows.length);
  }, 600_000);
});
