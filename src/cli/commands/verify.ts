/**
 * `tsbpf verify <obj>... [--program NAME] [--format text|json|sarif] [--log-level 0|1|2]
 * [--btf FILE] [--unprivileged] [--kernel]`: the offline verifier's verdict per program (as root, or as an unprivileged loader). Exit 0 when every
 * program is accepted, 1 when any is rejected, 2 on bad input.
 */
import type { Command } from "commander";
import { openObject } from "../../elf/object/index.js";
import { UsageError } from "../../errors.js";
import { kernelBtf } from "../../verifier/kernel-btf.js";
import { type FileReport, programReport, toJson, toSarif, toText } from "../../verifier/report.js";
import { verifyProgram } from "../../verifier/verify.js";
import { type CliIo, ExitCode } from "../io.js";
import { progressBar } from "../progress.js";
import { runVerifyKernel, withPermissionHint } from "./load.js";

export interface VerifyCliOptions {
  readonly program?: string;
  readonly format?: string;
  readonly logLevel?: string;
  readonly btf?: string;
  readonly unprivileged?: boolean;
  readonly kernel?: boolean;
}

export async function runVerify(files: readonly string[], opts: VerifyCliOptions, io: CliIo): Promise<void> {
  if (opts.kernel) {
    // The running kernel's verdict, through the loader (root): same JSON shape as offline.
    await withPermissionHint(() =>
      runVerifyKernel(
        files,
        {
          program: opts.program === undefined ? undefined : [opts.program],
          format: opts.format,
          logLevel: opts.logLevel,
          btf: opts.btf,
          ...(opts.unprivileged ? { unprivileged: true } : {}),
        },
        io,
      ),
    );
    return;
  }
  const format = opts.format ?? "text";
  if (!["text", "json", "sarif"].includes(format)) {
    throw new UsageError("E_USAGE", `unknown --format '${format}' (expected text, json or sarif)`);
  }
  const level = Number(opts.logLevel ?? "0");
  if (![0, 1, 2].includes(level))
    throw new UsageError("E_USAGE", `--log-level must be 0, 1 or 2, got '${opts.logLevel}'`);
  // A named kernel BTF must exist (a bad path is bad input, exit 2); it is parsed when first needed.
  if (opts.btf) kernelBtf(opts.btf);
  const reports: FileReport[] = [];
  const hints = new Map<string, string>();
  let rejected = false;
  const progress = progressBar(io, files.length);
  // the bar is erased whatever happens, before results or an error are printed
  try {
    for (const [index, file] of files.entries()) {
      progress.step(index, file);
      const obj = await openObject(file);
      const progs = opts.program ? [obj.program(opts.program)] : obj.programs;
      const programs = progs.map((p) => {
        const r = verifyProgram(obj, p, {
          logLevel: level as 0 | 1 | 2,
          ...(opts.btf ? { btf: opts.btf } : {}),
          ...(opts.unprivileged ? { unprivileged: true } : {}),
        });
        if (r.verdict === "reject") rejected = true;
        if (r.hint) hints.set(`${file}\0${p.name}`, r.hint);
        return programReport(r, level > 0);
      });
      reports.push({ file, programs });
    }
  } finally {
    progress.done();
  }
  if (format === "json") io.stdout(`${toJson(reports)}\n`);
  else if (format === "sarif") io.stdout(`${toSarif(reports, "0")}\n`);
  else {
    io.stdout(toText(reports, hints));
    if (level > 0) {
      for (const f of reports)
        for (const p of f.programs) if (p.log) io.stdout(`--- ${f.file} ${p.name} log ---\n${p.log}`);
    }
  }
  io.exitCode = rejected ? ExitCode.Failed : ExitCode.Ok;
}

export function registerVerify(program: Command, io: CliIo): void {
  program
    .command("verify")
    .description("verify BPF programs offline, as the kernel verifier would (root, or --unprivileged)")
    .argument("<obj...>", "BPF object files")
    .option("--program <name>", "only this program")
    .option("--format <format>", "text, json or sarif", "text")
    .option("--log-level <n>", "0, 1 (kernel log of the failing path) or 2 (every instruction)", "0")
    .option(
      "--btf <file>",
      "kernel BTF for BTF-typed programs, kfuncs and CO-RE (default /sys/kernel/btf/vmlinux, else the shipped 6.18 BTF)",
    )
    .option("--kernel", "ask the running kernel instead (loads each program on its own; root)")
    .option(
      "--unprivileged",
      "judge as a loader without CAP_BPF/CAP_PERFMON (with --kernel: load as nobody from a child process)",
    )
    .action(async (files: string[], opts: VerifyCliOptions) => {
      await runVerify(files, opts, io);
    });
}
