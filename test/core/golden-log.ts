/**
 * Reading the libbpf CO-RE logs that test/fixtures/golden/core/capture.sh keeps: one entry per
 * (program, relo #) with libbpf's spec, candidates and what it did to the instruction, plus the
 * candidate lists of each local type.
 */
import { readFileSync } from "node:fs";
import type { ObjectCoreReloResult } from "../../src/elf/core/index.js";

export interface GoldenPatch {
  readonly insn: number;
  readonly insnClass: string;
  /** "imm", "off", "imm64" or "mem_sz". */
  readonly field: string;
  readonly from: bigint;
  readonly to: bigint;
}

export interface GoldenRelo {
  readonly prog: string;
  readonly relo: number;
  spec: string;
  readonly candidates: { matched: boolean; spec: string }[];
  noMatch: boolean;
  readonly patches: GoldenPatch[];
  /** Instruction numbers replaced by `call 0xbad2310`. */
  readonly substituted: number[];
  warning: boolean;
  /** libbpf gave up on this record (and so on the object): the reason it printed. */
  failure: string | undefined;
}

export interface GoldenLog {
  readonly relos: readonly GoldenRelo[];
  /** Local type id -> target candidate ids libbpf found. */
  readonly candidates: ReadonlyMap<number, readonly number[]>;
  /** Section -> number of CO-RE records libbpf reported. */
  readonly sections: ReadonlyMap<string, number>;
}

const RELO = /^libbpf: prog '([^']*)': relo #(\d+): (.*)$/;
const CAND = /^libbpf: CO-RE relocating \[(\d+)\] .*: found target candidate \[(\d+)\] .* in \[vmlinux\]$/;
const SEC = /^libbpf: sec '([^']*)': found (\d+) CO-RE relocations$/;
const PATCH = /^patched insn #(\d+) \(([A-Z0-9/]+)\) (imm64|imm|off|mem_sz) (\d+) -> (\d+)$/;
const MATCH = /^(matching|non-matching) candidate #\d+ (.*)$/;
const SUBST = /^substituting insn #(\d+) w\/ invalid insn$/;

export function parseGoldenLog(path: string): GoldenLog {
  const relos: GoldenRelo[] = [];
  const byKey = new Map<string, GoldenRelo>();
  const candidates = new Map<number, number[]>();
  const sections = new Map<string, number>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line === "") continue;
    let m = SEC.exec(line);
    if (m) {
      sections.set(m[1], Number(m[2]));
      continue;
    }
    m = CAND.exec(line);
    if (m) {
      const list = candidates.get(Number(m[1])) ?? [];
      list.push(Number(m[2]));
      candidates.set(Number(m[1]), list);
      continue;
    }
    m = RELO.exec(line);
    if (!m) throw new Error(`${path}: unexpected line: ${line}`);
    const key = `${m[1]}#${m[2]}`;
    let r = byKey.get(key);
    if (!r) {
      r = {
        prog: m[1],
        relo: Number(m[2]),
        spec: "",
        candidates: [],
        noMatch: false,
        patches: [],
        substituted: [],
        warning: false,
        failure: undefined,
      };
      byKey.set(key, r);
      relos.push(r);
    }
    const rest = m[3];
    const cand = MATCH.exec(rest);
    const patch = PATCH.exec(rest);
    const subst = SUBST.exec(rest);
    if (rest.startsWith("<")) r.spec = rest;
    else if (cand) r.candidates.push({ matched: cand[1] === "matching", spec: cand[2] });
    else if (rest === "no matching targets found") r.noMatch = true;
    else if (patch) {
      r.patches.push({
        insn: Number(patch[1]),
        insnClass: patch[2],
        field: patch[3],
        from: BigInt(patch[4]),
        to: BigInt(patch[5]),
      });
    } else if (subst) r.substituted.push(Number(subst[1]));
    else if (rest.includes("accesses field incorrectly")) r.warning = true;
    else if (/ambiguity|failed to relocate|unexpected insn|failed to patch/.test(rest)) r.failure ??= rest;
    else throw new Error(`${path}: unexpected relo line: ${line}`);
  }
  return { relos, candidates, sections };
}

/** Differences between one golden relo and each of our results for it (one per linking program). */
export function compareRelo(g: GoldenRelo, ours: readonly ObjectCoreReloResult[]): string[] {
  const out: string[] = [];
  const where = `prog '${g.prog}' relo #${g.relo}`;
  if (ours.length === 0) return [`${where}: no result of ours`];
  for (const r of ours) {
    const w = `${where} (in ${r.program})`;
    if (r.localSpecText !== g.spec) out.push(`${w}: spec ${r.localSpecText} != ${g.spec}`);
    const cands = r.candidates.map((c) => ({ matched: c.matched, spec: c.spec }));
    if (JSON.stringify(cands) !== JSON.stringify(g.candidates)) {
      out.push(`${w}: candidates ${JSON.stringify(cands)} != ${JSON.stringify(g.candidates)}`);
    }
    if (g.failure !== undefined) {
      if (r.outcome !== "failed") out.push(`${w}: ${r.outcome}, libbpf failed (${g.failure})`);
      else if (/ambiguity/.test(g.failure) && r.error?.code !== "CORE_AMBIGUOUS") {
        out.push(`${w}: failed with ${r.error?.code}, libbpf: ${g.failure}`);
      }
      continue;
    }
    if (g.substituted.length > 0) {
      if (r.outcome !== "poisoned") out.push(`${w}: ${r.outcome}, libbpf poisoned`);
      if (r.functionInsn !== Math.min(...g.substituted))
        out.push(`${w}: insn #${r.functionInsn} != #${g.substituted}`);
      if (Boolean(r.warning) !== g.warning) out.push(`${w}: warning ${r.warning} vs libbpf ${g.warning}`);
      continue;
    }
    const main = g.patches.find((p) => p.field !== "mem_sz");
    const memSz = g.patches.find((p) => p.field === "mem_sz");
    if (!main) {
      out.push(`${w}: golden has neither a patch nor a substitution`);
      continue;
    }
    if (r.outcome !== "patched") out.push(`${w}: ${r.outcome} (${r.error?.message}), libbpf patched`);
    if (r.functionInsn !== main.insn) out.push(`${w}: insn #${r.functionInsn} != #${main.insn}`);
    if (r.insnClass !== main.insnClass) out.push(`${w}: class ${r.insnClass} != ${main.insnClass}`);
    if (r.oldValue !== main.from || r.newValue !== main.to) {
      out.push(`${w}: ${r.oldValue} -> ${r.newValue} != ${main.from} -> ${main.to}`);
    }
    const ms = r.memSize ? `${r.memSize.from}->${r.memSize.to}` : "none";
    const gs = memSz ? `${memSz.from}->${memSz.to}` : "none";
    if (ms !== gs) out.push(`${w}: mem size ${ms} != ${gs}`);
  }
  return out;
}
