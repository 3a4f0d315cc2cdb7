/**
 * Output shapes of `tsbpf verify` (shared with a later `verify --kernel`): JSON per object,
 * SARIF 2.1.0 for all objects, and human text with the source line, a caret, the why-trace and
 * a hint.
 */
import type { VerifyResult } from "./verify.js";

export interface ProgramReport {
  readonly name: string;
  readonly section: string;
  readonly type: string;
  readonly verdict: "accept" | "reject";
  readonly error?: {
    readonly insn: number;
    readonly message: string;
    readonly source?: {
      readonly file: string;
      readonly line: number;
      readonly column: number;
      readonly text: string;
    };
  };
  readonly processedInsns: number;
  readonly log?: string;
  readonly trace?: readonly string[];
}

export interface FileReport {
  readonly file: string;
  readonly programs: readonly ProgramReport[];
}

export function programReport(r: VerifyResult, withLog: boolean): ProgramReport {
  return {
    name: r.program,
    section: r.section,
    type: r.type,
    verdict: r.verdict,
    ...(r.error
      ? {
          error: {
            insn: r.error.insn,
            message: r.error.message,
            ...(r.error.source ? { source: r.error.source } : {}),
          },
        }
      : {}),
    processedInsns: r.processedInsns,
    ...(withLog && r.log ? { log: r.log } : {}),
    ...(r.trace?.length ? { trace: r.trace } : {}),
  };
}

/** One object per file, an array when several files were given. */
export function toJson(files: readonly FileReport[]): string {
  return JSON.stringify(files.length === 1 ? files[0] : files, null, 2);
}

export function toSarif(files: readonly FileReport[], version: string): string {
  const results = files.flatMap((f) =>
    f.programs
      .filter((p) => p.verdict === "reject" && p.error)
      .map((p) => ({
        ruleId: "bpf-verifier-reject",
        level: "error",
        message: { text: `${p.name}: ${p.error!.message.split("\n").join(" / ")} (insn ${p.error!.insn})` },
        locations: [
          {
            physicalLocation: p.error!.source
              ? {
                  artifactLocation: { uri: p.error!.source.file },
                  region: {
                    startLine: p.error!.source.line,
                    ...(p.error!.source.column > 0 ? { startColumn: p.error!.source.column } : {}),
                  },
                }
              : { artifactLocation: { uri: f.file } },
          },
        ],
      })),
  );
  return JSON.stringify(
    {
      $schema: "https://json.schemastore.org/sarif-2.1.0.json",
      version: "2.1.0",
      runs: [
        {
          tool: {
            driver: {
              name: "tsbpf verify",
              version,
              rules: [
                {
                  id: "bpf-verifier-reject",
                  shortDescription: { text: "The BPF verifier rejects this program" },
                },
              ],
            },
          },
          results,
        },
      ],
    },
    null,
    2,
  );
}

/** Human text: verdict per program; for rejects the message, the source line with a caret, the trace and a hint. */
export function toText(files: readonly FileReport[], hints: ReadonlyMap<string, string>): string {
  const out: string[] = [];
  for (const f of files) {
    for (const p of f.programs) {
      out.push(
        `${f.file}: ${p.name} (${p.type}): ${p.verdict === "accept" ? "accepted" : "REJECTED"}, ${p.processedInsns} insns processed`,
      );
      if (!p.error) continue;
      out.push(`  insn ${p.error.insn}: ${p.error.message.split("\n").join("\n  ")}`);
      const s = p.error.source;
      if (s) {
        out.push(`  --> ${s.file}:${s.line}:${s.column}`);
        out.push(`   | ${s.text}`);
        if (s.column > 0) out.push(`   | ${" ".repeat(s.column - 1)}^`);
      }
      if (p.trace?.length) {
        out.push("  path:");
        for (const t of p.trace.slice(-12)) out.push(`    ${t}`);
      }
      const hint = hints.get(`${f.file}\0${p.name}`);
      if (hint) out.push(`  hint: ${hint}`);
    }
  }
  return `${out.join("\n")}\n`;
}
