import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { openObjectSync } from "../../src/elf/object/open.js";
import { verifyProgram } from "../../src/verifier/verify.js";
import { readUnprivGoldens, type UnprivVerdict } from "../fixtures/verifier-unpriv/golden.js";

/**
 * The offline verifier's unprivileged rules (VerifyOptions.unprivileged) against the kernel 6.18
 * goldens of test/fixtures/verifier-unpriv, captured as root and as an unprivileged user.
 */

const lastLine = (m: string): string => m.trimEnd().split("\n").pop() ?? "";

interface Row {
  readonly id: string;
  readonly kernel: UnprivVerdict;
  readonly ours: ReturnType<typeof verifyProgram>;
}

function run(unprivileged: boolean): Row[] {
  const rows: Row[] = [];
  for (const g of readUnprivGoldens()) {
    const obj = openObjectSync(new Uint8Array(readFileSync(g.object)), { file: g.object });
    for (const p of g.programs) {
      const ours = verifyProgram(obj, obj.program(p.name), { logLevel: 0, unprivileged });
      rows.push({ id: `${g.name}/${p.name}`, kernel: unprivileged ? p.unprivileged : p.root, ours });
    }
  }
  return rows;
}

function figures(rows: readonly Row[]): Record<string, number> {
  const f = {
    programs: rows.length,
    agree: 0,
    falseAccepts: 0,
    falseRejects: 0,
    notModelled: 0,
    rejectsBoth: 0,
  };
  const g = { sameMessage: 0, sameInsn: 0, processedExact: 0 };
  for (const r of rows) {
    if (r.ours.error && !r.ours.error.modelled) f.notModelled++;
    if (r.ours.verdict === r.kernel.verdict) f.agree++;
    else if (r.ours.verdict === "accept") f.falseAccepts++;
    else f.falseRejects++;
    if (r.ours.verdict === "reject" && r.kernel.verdict === "reject") {
      f.rejectsBoth++;
      if (lastLine(r.ours.error!.message) === r.kernel.error!.message) g.sameMessage++;
      if (r.kernel.error!.insn === null || r.kernel.error!.insn === r.ours.error!.insn) g.sameInsn++;
    }
    if (r.kernel.processedInsns !== null && r.kernel.processedInsns === r.ours.processedInsns)
      g.processedExact++;
  }
  return { ...f, ...g };
}

describe("unprivileged verifier vs kernel 6.18 goldens (test/fixtures/verifier-unpriv)", () => {
  it("has fixtures covering accepts and rejects", () => {
    const gs = readUnprivGoldens();
    expect(gs.length).toBeGreaterThanOrEqual(12);
    const progs = gs.flatMap((g) => g.programs);
    expect(progs.some((p) => p.unprivileged.verdict === "accept")).toBe(true);
    expect(progs.filter((p) => p.unprivileged.verdict === "reject").length).toBeGreaterThanOrEqual(12);
    // every fixture loads as root
    expect(progs.filter((p) => p.root.verdict !== "accept").map((p) => p.name)).toEqual([]);
  });

  it("agrees with the unprivileged kernel: verdict, message, instruction", () => {
    const rows = run(true);
    console.log(JSON.stringify({ unprivileged: figures(rows) }));
    const wrong: string[] = [];
    const processed: string[] = [];
    for (const r of rows) {
      const k = r.kernel;
      const o = r.ours;
      const msg = o.error ? lastLine(o.error.message) : undefined;
      const same =
        o.verdict === k.verdict &&
        (k.verdict === "accept" ||
          (msg === k.error!.message && (k.error!.insn === null || k.error!.insn === o.error!.insn)));
      if (!same)
        wrong.push(
          `${r.id}: kernel ${k.verdict}@${k.error?.insn} ${k.error?.message ?? ""} | ours ${o.verdict}@${o.error?.insn} ${msg ?? ""}`,
        );
      // speculative paths (Spectre v1) and stricter pruning count in `processed`
      if (o.processedInsns !== k.processedInsns && k.processedInsns !== null)
        processed.push(`${r.id}: kernel ${k.processedInsns} ours ${o.processedInsns}`);
    }
    expect(wrong).toEqual([]);
    expect(processed).toEqual([]);
  });

  it("the same fixtures judged as root are all accepted (the privileged rules are unchanged)", () => {
    const rows = run(false);
    console.log(JSON.stringify({ root: figures(rows) }));
    expect(
      rows.filter((r) => r.ours.verdict !== "accept").map((r) => `${r.id}: ${r.ours.error?.message}`),
    ).toEqual([]);
  });
});
