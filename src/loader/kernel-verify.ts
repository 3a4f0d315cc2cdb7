/**
 * `verify --kernel`: ask the running kernel's verifier about each program of an object, one
 * program per load (with the maps it needs), and report in the JSON shape the offline verifier
 * shares: {file, programs: [{name, section, type, verdict, error?: {insn, message},
 * processedInsns?, log?}]}. A failure before the verifier (CO-RE, externs, attach target, a
 * big-endian object) is a reject whose message says what failed.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { openObjectSync } from "../elf/object/open.js";
import type { ObjectSpec } from "../elf/object/types.js";
import { isTsbpfError, UsageError } from "../errors.js";
import { progInfo } from "./bpf.js";
import { BpfSyscallError } from "./errors.js";
import { loadObject, ProgramLoadError } from "./object.js";
import { runUnprivileged, withUnprivilegedBpf } from "./unprivileged.js";

export interface KernelVerifyOptions {
  /** Only these programs (default: every program, autoload or not). */
  readonly programs?: readonly string[];
  /** 0: no log in the report (the kernel still logs a failure); 1/2: the verifier's log, kept. */
  readonly logLevel?: number;
  /** CO-RE target BTF (default /sys/kernel/btf/vmlinux). */
  readonly targetBtf?: string;
  /**
   * Load as an unprivileged user (a child process as nobody without capabilities, with
   * kernel.unprivileged_bpf_disabled set to 0 for the run): the kernel's unprivileged verdicts.
   * The object must have come from a file (spec.file). Root only.
   */
  readonly unprivileged?: boolean;
}

export interface VerifyProgramReport {
  readonly name: string;
  readonly section: string;
  readonly type: string;
  readonly verdict: "accept" | "reject";
  readonly error?: { readonly insn: number | null; readonly message: string };
  readonly processedInsns?: number;
  readonly log?: string;
}

export interface VerifyReport {
  readonly file: string;
  readonly programs: readonly VerifyProgramReport[];
}

/** Set in the unprivileged child (see verifyFileJob): EPERM is a verdict there, not a usage error. */
let asUnprivileged = false;

/** The reject message for a bpf() command refused with EPERM (no verifier log). */
export function eperm(e: BpfSyscallError): string {
  return `${e.command}: EPERM`;
}

/** A job of the unprivileged child: verify the programs of an object file. */
export interface VerifyFileJob {
  readonly file: string;
  readonly programs?: readonly string[];
  readonly logLevel?: number;
  readonly targetBtf?: string;
}

/** Runs in the unprivileged child process (src/loader/unprivileged-child.ts). */
export async function verifyFileJob(job: VerifyFileJob): Promise<VerifyReport> {
  asUnprivileged = true;
  const spec = openObjectSync(new Uint8Array(readFileSync(job.file)), { file: job.file });
  return verifyWithKernel(spec, {
    ...(job.programs ? { programs: job.programs } : {}),
    ...(job.logLevel !== undefined ? { logLevel: job.logLevel } : {}),
    ...(job.targetBtf ? { targetBtf: job.targetBtf } : {}),
  });
}

/** Several object files judged by the unprivileged kernel, in one child process. */
export async function verifyFilesUnprivileged(jobs: readonly VerifyFileJob[]): Promise<VerifyReport[]> {
  const abs = jobs.map((j) => ({ ...j, file: resolve(j.file) }));
  const results = await withUnprivilegedBpf(() => runUnprivileged(import.meta.url, "verifyFileJob", abs));
  return results.map((r, k) => {
    if (!r.ok) throw new UsageError("E_ORACLE", `unprivileged load of ${jobs[k]!.file}: ${r.error}`);
    return { ...(r.value as VerifyReport), file: jobs[k]!.file };
  });
}

async function verifyUnprivileged(spec: ObjectSpec, opts: KernelVerifyOptions): Promise<VerifyReport> {
  if (!spec.file)
    throw new UsageError("E_USAGE", "an unprivileged kernel verdict needs an object read from a file");
  const [r] = await verifyFilesUnprivileged([
    {
      file: spec.file,
      ...(opts.programs ? { programs: opts.programs } : {}),
      ...(opts.logLevel !== undefined ? { logLevel: opts.logLevel } : {}),
      ...(opts.targetBtf ? { targetBtf: opts.targetBtf } : {}),
    },
  ]);
  return { ...r!, file: spec.file };
}

function processed(log: string): number | undefined {
  const m = /^processed (\d+) insns/m.exec(log);
  return m ? Number(m[1]) : undefined;
}

/** Load each program on its own and report the kernel's verdicts. */
export async function verifyWithKernel(
  spec: ObjectSpec,
  opts: KernelVerifyOptions = {},
): Promise<VerifyReport> {
  if (opts.unprivileged) return verifyUnprivileged(spec, opts);
  const names = opts.programs && opts.programs.length > 0 ? opts.programs : spec.programs.map((p) => p.name);
  const programs: VerifyProgramReport[] = [];
  const level = opts.logLevel ?? 0;
  for (const name of names) {
    const p = spec.program(name);
    const base = { name: p.name, section: p.section, type: p.type.name };
    try {
      const obj = await loadObject(spec, {
        programs: [name],
        logLevel: level || undefined,
        targetBtf: opts.targetBtf,
      });
      const live = obj.programs.get(name);
      const log = live?.log ?? "";
      // At log level 0 there is no "processed N insns" line; the kernel keeps the same count in
      // bpf_prog_info.verified_insns (5.16+).
      let n = processed(log);
      if (n === undefined && live) n = progInfo(live.fd).verifiedInsns || undefined;
      obj.close();
      programs.push({
        ...base,
        verdict: "accept",
        ...(n !== undefined ? { processedInsns: n } : {}),
        ...(level > 0 ? { log } : {}),
      });
    } catch (e) {
      if (e instanceof ProgramLoadError) {
        const n = processed(e.log);
        programs.push({
          ...base,
          verdict: "reject",
          error: { insn: e.insn ?? null, message: e.reason },
          ...(n !== undefined ? { processedInsns: n } : {}),
          ...(level > 0 || e.log ? { log: e.log } : {}),
        });
      } else if (e instanceof UsageError && e.code === "E_ENDIAN") {
        programs.push({ ...base, verdict: "reject", error: { insn: null, message: e.message } });
      } else if (e instanceof BpfSyscallError && e.errnoName === "EPERM" && asUnprivileged) {
        // Unprivileged: the kernel refuses the program type, a map type or a flag before its
        // verifier runs; that is the unprivileged verdict.
        programs.push({ ...base, verdict: "reject", error: { insn: null, message: eperm(e) } });
      } else if (e instanceof BpfSyscallError && e.errnoName === "EPERM") {
        // No privilege is bad input for the whole run, not a verdict.
        throw new UsageError(
          "E_PERM",
          `${e.command}: EPERM: loading BPF programs needs root (CAP_BPF + CAP_PERFMON)`,
        );
      } else if (isTsbpfError(e) && !(e instanceof UsageError)) {
        // Failures before the verifier (map creation, BTF, CO-RE...) are rejects that say what failed.
        programs.push({
          ...base,
          verdict: "reject",
          error: { insn: null, message: e.message.split("\n")[0]! },
        });
      } else throw e;
    }
  }
  return { file: spec.file ?? spec.name, programs };
}

/** Text form: one line per program, then the error (and log when asked). */
export function formatVerifyReport(r: VerifyReport): string {
  const out: string[] = [];
  for (const p of r.programs) {
    const stats = p.processedInsns !== undefined ? ` (${p.processedInsns} insns processed)` : "";
    out.push(`${r.file}: ${p.name} (${p.section}, ${p.type}): ${p.verdict}${stats}`);
    if (p.error) out.push(`  ${p.error.insn !== null ? `insn ${p.error.insn}: ` : ""}${p.error.message}`);
    if (p.log)
      out.push(
        ...p.log
          .trimEnd()
          .split("\n")
          .map((l) => `  | ${l}`),
      );
  }
  return `${out.join("\n")}\n`;
}
