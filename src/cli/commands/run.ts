/**
 * `tsbpf run <obj> --program NAME [--kernel] [--packet HEX | --ctx HEX] [--repeat N]`: run one
 * program on an input and print {retval, packetOut?, durationNs}. `--kernel` uses
 * BPF_PROG_TEST_RUN on the live kernel; without it the offline VM runs it (src/vm/run-cli.ts,
 * which also takes --ctx as JSON, --btf and --budget, and reports faults), or the `offline`
 * runner given to registerRun.
 */
import type { Command } from "commander";
import { openObject } from "../../elf/object/open.js";
import type { ObjectSpec } from "../../elf/object/types.js";
import { UsageError } from "../../errors.js";
import { loadObject } from "../../loader/object.js";
import { runOfflineCli } from "../../vm/run-cli.js";
import type { CliIo } from "../io.js";
import { withPermissionHint } from "./load.js";

export interface RunInput {
  readonly program: string;
  readonly packet?: Uint8Array;
  readonly ctx?: Uint8Array;
  readonly repeat: number;
}

/** What `run` prints, offline or on the kernel. */
export interface RunResult {
  readonly retval: number;
  readonly packetOut?: Uint8Array;
  readonly durationNs: number;
}

/** The offline VM's runner, when there is one. */
export type OfflineRunner = (spec: ObjectSpec, input: RunInput) => Promise<RunResult>;

export interface RunCliOptions {
  program?: string;
  kernel?: boolean;
  packet?: string;
  ctx?: string;
  repeat?: string;
  format?: string;
  btf?: string;
  budget?: string;
  engine?: string;
}

export function parseHex(text: string, what: string): Uint8Array {
  const clean = text.replace(/^0x/i, "").replace(/[\s:]/g, "");
  if (clean.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(clean))
    throw new UsageError("E_USAGE", `${what} must be hex bytes (e.g. 0a0b0c), got '${text}'`);
  return Uint8Array.from(Buffer.from(clean, "hex"));
}

/** BPF_PROG_TEST_RUN of one program of the object on the running kernel. */
export async function runOnKernel(spec: ObjectSpec, input: RunInput): Promise<RunResult> {
  using obj = await loadObject(spec, { programs: [input.program] });
  const r = obj.program(input.program).testRun({
    data: input.packet,
    ctx: input.ctx,
    repeat: input.repeat > 1 ? input.repeat : undefined,
  });
  return {
    retval: r.retval,
    ...(input.packet !== undefined ? { packetOut: r.data } : {}),
    durationNs: r.duration,
  };
}

export function formatRunResult(r: RunResult, format: string): string {
  const hex = r.packetOut ? Buffer.from(r.packetOut).toString("hex") : undefined;
  if (format === "json")
    return `${JSON.stringify({ retval: r.retval, ...(hex !== undefined ? { packetOut: hex } : {}), durationNs: r.durationNs })}\n`;
  return `retval: ${r.retval}\n${hex !== undefined ? `packet out: ${hex}\n` : ""}duration: ${r.durationNs} ns\n`;
}

export async function runRun(
  path: string,
  o: RunCliOptions,
  io: CliIo,
  offline?: OfflineRunner,
): Promise<void> {
  const format = o.format ?? "text";
  if (format !== "text" && format !== "json")
    throw new UsageError("E_USAGE", `--format must be text or json, not '${format}'`);
  if (!o.kernel && !offline) {
    // The simulator's own command: JSON contexts, CO-RE target, budget, fault reports.
    await runOfflineCli(
      path,
      {
        program: o.program,
        packet: o.packet,
        ctx: o.ctx,
        repeat: o.repeat,
        btf: o.btf,
        budget: o.budget,
        engine: o.engine,
        format,
      },
      io,
    );
    return;
  }
  if (!o.program) throw new UsageError("E_USAGE", "run needs --program NAME");
  if (o.packet !== undefined && o.ctx !== undefined)
    throw new UsageError("E_USAGE", "give --packet or --ctx, not both");
  const repeat = o.repeat !== undefined ? Number(o.repeat) : 1;
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new UsageError("E_USAGE", `--repeat '${o.repeat}' must be a positive integer`);
  const input: RunInput = {
    program: o.program,
    packet: o.packet !== undefined ? parseHex(o.packet, "--packet") : undefined,
    ctx: o.ctx !== undefined ? parseHex(o.ctx, "--ctx") : undefined,
    repeat,
  };
  const spec = await openObject(path);
  spec.program(o.program);
  const r = o.kernel ? await runOnKernel(spec, input) : await offline!(spec, input);
  io.stdout(formatRunResult(r, format));
}

export function registerRun(program: Command, io: CliIo, offline?: OfflineRunner): void {
  program
    .command("run")
    .description("run one program on an input: BPF_PROG_TEST_RUN with --kernel, else the offline VM")
    .argument("<obj>", "BPF object file")
    .option("--program <name>", "the program to run")
    .option("--kernel", "run on the live kernel (BPF_PROG_TEST_RUN)")
    .option("--packet <hex>", "packet bytes (XDP, tc, socket filter...)")
    .option("--ctx <hex|json>", "context bytes (offline also JSON)")
    .option("--repeat <n>", "run this many times (duration is the average)")
    .option("--btf <file>", "offline: CO-RE target BTF")
    .option("--budget <n>", "offline: instruction budget")
    .option(
      "--engine <engine>",
      "offline: interp (the reference interpreter) or jit (compiled to JavaScript)",
    )
    .option("--format <format>", "text or json", "text")
    .action(async (path: string, o: RunCliOptions) => {
      await withPermissionHint(() => runRun(path, o, io, offline));
    });
}
