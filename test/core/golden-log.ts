/**
 * Reading the libbpf CO-RE logs that test/fixtures/golden/core/capture.sh keeps: one entry per
 * (program, relo #) with libbpf's spec, candidates and what it did to the instruction, plus the
 * candidate lists of each local type.
 */
import { readFileSync } from "node:fs";

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
    else throw new Error(`${path}: unexpected relo line: ${line}`);
  }
  return { relos, candidates, sections };
}
