/**
 * The offline verifier's agreement with the kernel, from the committed kernel 6.18 goldens (no
 * kernel needed): the small fixtures (test/fixtures/verifier/goldens.json, recorded by
 * `npm run verify:diff -- --write-goldens`) and the realistic corpus (test/fixtures/verifier-
 * corpus). The same figures the tests check; here they go into BENCHMARKS.md beside the speed.
 */
import { readFileSync } from "node:fs";
import { openObjectSync } from "../src/elf/object/index.js";
import { type DiffRow, diffRow, figures, type Golden } from "../src/verifier/diff.js";
import { corpusVerdicts } from "../test/fixtures/verifier-corpus/golden.js";
import type { Row, Section } from "./lib.js";

function rowsFor(goldens: readonly Golden[]): DiffRow[] {
  const out: DiffRow[] = [];
  const byFile = new Map<string, Golden[]>();
  for (const g of goldens) byFile.set(g.file, [...(byFile.get(g.file) ?? []), g]);
  for (const [file, gs] of byFile) {
    const obj = openObjectSync(new Uint8Array(readFileSync(file)), { file });
    for (const g of gs) out.push(diffRow(obj, obj.program(g.program), g, 120_000));
  }
  return out;
}

export function benchVerifierAgreement(): Section {
  const sets: Array<[string, Golden[]]> = [
    ["fixtures", JSON.parse(readFileSync("test/fixtures/verifier/goldens.json", "utf8")) as Golden[]],
    ["realistic corpus", corpusVerdicts()],
  ];
  const rows: Row[] = [];
  for (const [name, goldens] of sets) {
    const f = figures(rowsFor(goldens));
    const row = (what: string, n: number, of: number, goal: string): Row => ({
      what: `${name}: ${what}`,
      ours: String(n),
      reference: String(of),
      ratio: of ? n / of : 1,
      goal,
    });
    rows.push(
      row("programs compared (modelled, judged by the kernel)", f.compared, f.programs, "all"),
      row("verdicts agree", f.agree, f.compared, "all"),
      row("false accepts (we accept, the kernel rejects)", f.falseAccepts, f.compared, "0"),
      row("false rejects", f.falseRejects, f.compared, "0"),
      row("same error message, of rejects", f.sameMessage, f.rejectsBoth, "all"),
      row("same error instruction, of rejects", f.sameInsn, f.rejectsBoth, "all"),
      row("processed-instruction count exact", f.processedExact, f.compared, "close"),
      row("processed-instruction count within 10%", f.processedWithin10pct, f.compared, "close"),
    );
  }
  return {
    title: "Verifier agreement",
    notes: [
      "Offline verdicts against the kernel 6.18 goldens committed with the fixtures (counts, not times: the ratio",
      "column is ours / the reference count). Generated programs are compared live in the tests.",
    ],
    rows,
  };
}
