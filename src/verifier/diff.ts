/**
 * Differential comparison of the offline verifier with the kernel (live, or its recorded
 * goldens) over fixture objects: verdict agreement, false accepts/rejects, same error insn and
 * message, processed-instruction counts.
 */
import { openObject } from "../elf/object/index.js";
import type { ObjectSpec, ProgramSpec } from "../elf/object/types.js";
import { type KernelVerdict, kernelVerifyAsLoaded } from "./kernel.js";
import { verifyProgram } from "./verify.js";

export interface Golden {
  readonly file: string;
  readonly program: string;
  readonly verdict: "accept" | "reject";
  readonly message?: string;
  /**
   * Every error line the kernel printed after the failing instruction (newline-joined), when the
   * oracle kept them: some errors take two lines, and we print both.
   */
  readonly messageBlock?: string;
  readonly insn?: number;
  readonly processedInsns?: number;
  /** The oracle could not judge (map needing BTF, tracing without btf_id, callbacks without func_info). */
  readonly unavailable?: string;
}

export interface DiffRow {
  readonly file: string;
  readonly program: string;
  readonly kernel: Golden;
  readonly ours: {
    verdict: "accept" | "reject";
    message?: string;
    insn?: number;
    processedInsns: number;
    modelled: boolean;
  };
}

export interface DiffFigures {
  programs: number;
  compared: number;
  oracleUnavailable: number;
  notModelled: number;
  agree: number;
  falseAccepts: number;
  falseRejects: number;
  rejectsBoth: number;
  sameInsn: number;
  sameMessage: number;
  processedExact: number;
  processedWithin10pct: number;
}

/** Kernel refusals that say the bare oracle lacked something (BTF, btf_id), not a verdict. */
export const ORACLE_GAPS: readonly string[] = [
  "Tracing programs must provide btf_id",
  "missing btf func_info",
];

export function goldenOf(file: string, program: string, k: KernelVerdict): Golden {
  const unavailable = k.loadError ?? ORACLE_GAPS.find((g) => k.message?.includes(g));
  return {
    file,
    program,
    verdict: k.verdict,
    ...(k.message !== undefined ? { message: k.message } : {}),
    ...(k.insn !== undefined ? { insn: k.insn } : {}),
    ...(k.processedInsns !== undefined ? { processedInsns: k.processedInsns } : {}),
    ...(unavailable ? { unavailable } : {}),
  };
}

/**
 * Run ours on every program of `files`; the kernel's side comes from `kernel`: a golden, or
 * `live()`, the running kernel loading the program as `verify --kernel` does.
 */
export async function diffFiles(
  files: readonly string[],
  kernel: (
    file: string,
    program: string,
    live: () => Promise<KernelVerdict>,
  ) => Golden | undefined | Promise<Golden | undefined>,
  maxMillis = 30000,
): Promise<DiffRow[]> {
  const rows: DiffRow[] = [];
  for (const file of files) {
    const obj = await openObject(file);
    for (const p of obj.programs) {
      const k = await kernel(file, p.name, () => kernelVerifyAsLoaded(obj, p));
      if (!k) continue;
      rows.push(diffRow(obj, p, k, maxMillis));
    }
  }
  return rows;
}

/** Our verdict on one program beside the kernel's. */
export function diffRow(obj: ObjectSpec, p: ProgramSpec, kernel: Golden, maxMillis = 30000): DiffRow {
  const r = verifyProgram(obj, p, { logLevel: 0, maxMillis });
  return {
    file: kernel.file,
    program: p.name,
    kernel,
    ours: {
      verdict: r.verdict,
      ...(r.error ? { message: r.error.message, insn: r.error.insn } : {}),
      processedInsns: r.processedInsns,
      modelled: r.error ? r.error.modelled : true,
    },
  };
}

export function figures(rows: readonly DiffRow[]): DiffFigures {
  const f: DiffFigures = {
    programs: rows.length,
    compared: 0,
    oracleUnavailable: 0,
    notModelled: 0,
    agree: 0,
    falseAccepts: 0,
    falseRejects: 0,
    rejectsBoth: 0,
    sameInsn: 0,
    sameMessage: 0,
    processedExact: 0,
    processedWithin10pct: 0,
  };
  for (const r of rows) {
    if (r.kernel.unavailable) {
      f.oracleUnavailable++;
      // a false accept is still a false accept when we can tell
      continue;
    }
    if (!r.ours.modelled) {
      f.notModelled++;
      continue;
    }
    f.compared++;
    if (r.ours.verdict === r.kernel.verdict) f.agree++;
    else if (r.ours.verdict === "accept") f.falseAccepts++;
    else f.falseRejects++;
    if (r.ours.verdict === "reject" && r.kernel.verdict === "reject") {
      f.rejectsBoth++;
      // CFG and stack-size errors name no instruction in the kernel's log: the same message is
      // then the same place
      const insnMoot = r.kernel.insn === undefined && sameMessage(r.ours.message, r.kernel);
      if (r.ours.insn === r.kernel.insn || insnMoot) f.sameInsn++;
      if (sameMessage(r.ours.message, r.kernel)) f.sameMessage++;
    }
    if (r.ours.verdict === r.kernel.verdict && r.kernel.processedInsns !== undefined) {
      if (r.ours.processedInsns === r.kernel.processedInsns) f.processedExact++;
      if (Math.abs(r.ours.processedInsns - r.kernel.processedInsns) <= 0.1 * r.kernel.processedInsns)
        f.processedWithin10pct++;
    }
  }
  return f;
}

/**
 * Our message says what the kernel said: its last error line, or its whole error block, or a
 * run of the block's lines ending with the last one (the kernel sometimes prints lines of its
 * state before the error that we do not).
 */
export function sameMessage(ours: string | undefined, kernel: Golden): boolean {
  if (ours === undefined) return false;
  if (ours === kernel.message) return true;
  if (kernel.messageBlock === undefined) return false;
  return kernel.messageBlock === ours || kernel.messageBlock.endsWith(`\n${ours}`);
}
