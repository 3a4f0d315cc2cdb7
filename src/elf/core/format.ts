/**
 * CO-RE results for people and machines: the lines libbpf's debug log would print for the same
 * decisions (so the two can be diffed), and a JSON-safe object (u64 values as decimal strings).
 */
import type { CoreReloResult, ObjectCoreReloResult } from "./relocate.js";

function isObjectResult(r: CoreReloResult): r is ObjectCoreReloResult {
  return "program" in r;
}

const FIELD: Record<string, string> = { "ALU/ALU64": "imm", "LDX/ST/STX": "off", LDIMM64: "imm64" };

/**
 * libbpf-style log lines of one result, `index` being its relo number when the result does not
 * carry one: `prog 'p': relo #0: <byte_off> [22] struct task_struct.pid (0:3 @ offset 12)`,
 * the candidates, then `patched insn #13 (ALU/ALU64) imm 12 -> 1264`, `substituting insn #55 w/
 * invalid insn` or `failed: <reason>`.
 */
export function formatCoreResult(r: CoreReloResult, index = 0): string[] {
  const obj = isObjectResult(r) ? r : undefined;
  const fn = obj?.function ?? "";
  const insn = obj?.functionInsn ?? r.slot;
  const at = `prog '${fn}': relo #${obj?.reloIndex ?? index}: `;
  const out = [`${at}${r.localSpecText}`];
  r.candidates.forEach((c, i) => {
    out.push(`${at}${c.matched ? "matching" : "non-matching"} candidate #${i} ${c.spec}`);
  });
  if (r.outcome === "failed") {
    out.push(`${at}failed: ${r.error?.message ?? "unknown error"}`);
    return out;
  }
  if (r.candidates.every((c) => !c.matched) && r.kind !== "local_type_id") {
    out.push(`${at}no matching targets found`);
  }
  if (r.warning) out.push(`${at}${r.warning}`);
  if (r.outcome === "poisoned") {
    // libbpf 1.1.2 poisons an ld_imm64's second slot first.
    for (let k = (r.poisonedSlots ?? 1) - 1; k >= 0; k--) {
      out.push(`${at}substituting insn #${insn + k} w/ invalid insn`);
    }
    return out;
  }
  const cls = r.insnClass ?? "";
  out.push(`${at}patched insn #${insn} (${cls}) ${FIELD[cls] ?? "imm"} ${r.oldValue} -> ${r.newValue}`);
  if (r.memSize) out.push(`${at}patched insn #${insn} (${cls}) mem_sz ${r.memSize.from} -> ${r.memSize.to}`);
  return out;
}

/** The log of a whole list of results, one record after another. */
export function formatCoreLog(results: readonly CoreReloResult[]): string {
  return results.flatMap((r, i) => formatCoreResult(r, i)).join("\n");
}

/** A JSON-safe copy: bigint values become decimal strings. */
export function coreResultJson(r: CoreReloResult): Record<string, unknown> {
  return JSON.parse(JSON.stringify(r, (_k, v) => (typeof v === "bigint" ? v.toString() : v))) as Record<
    string,
    unknown
  >;
}
