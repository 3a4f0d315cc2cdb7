/**
 * `verify --kernel`: ask the running kernel's verifier about each program of an object, one
 * program per load (with the maps it needs), and report in the JSON shape the offline verifier
 * shares: {file, programs: [{name, section, type, verdict, error?: {insn, message},
 * processedInsns?, log?}]}. A failure before the verifier (CO-RE, externs, attach target, a
 * big-endian object) is a reject whose message says what failed.
 */
import type { ObjectSpec } from "../elf/object/types.js";
import { isTsbpfError, UsageError } from "../errors.js";
import { progInfo } from "./bpf.js";
import { BpfSyscallError } from "./errors.js";
import { loadObject, ProgramLoadError } from "./object.js";

export interface KernelVerifyOptions {
  /** Only these programs (default: every program, autoload or not). */
  readonly programs?: readonly string[];
  /** 0: no log in the report (the kernel still logs a failure); 1/2: the verifier's log, kept. */
  readonly logLevel?: number;
  /** CO-RE target BTF (default /sys/kernel/btf/vmlinux). */
  readonly targetBtf?: string;
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

function processed(log: string): number | undefined {
  const m = /^processed (\d+) insns/m.exec(log);
  return m ? Number(m[1]) : undefined;
}

/** Load each program on its own and report the kernel's verdicts. */
export async function verifyWithKernel(
  spec: ObjectSpec,
  opts: KernelVerifyOptions = {},
): Promise<VerifyReport> {
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
