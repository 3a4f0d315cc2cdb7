/** `tsbpf prog list`: the programs loaded on the host, like `bpftool prog list`. */
import type { Command } from "commander";
import { progTypeById } from "../../abi/program-types.js";
import { UsageError } from "../../errors.js";
import { fdById, ids, progInfo } from "../../loader/bpf.js";
import { BpfSyscallError } from "../../loader/errors.js";
import type { ProgInfo } from "../../loader/info.js";
import type { CliIo } from "../io.js";
import { withPermissionHint } from "./load.js";

/** Every loaded program's info (programs that vanish while listing are skipped). */
export function listPrograms(): ProgInfo[] {
  const out: ProgInfo[] = [];
  for (const id of ids("prog")) {
    try {
      using fd = fdById("prog", id);
      out.push(progInfo(fd));
    } catch (e) {
      if (e instanceof BpfSyscallError && e.errnoName === "ENOENT") continue;
      throw e;
    }
  }
  return out;
}

export function formatProgram(p: ProgInfo): string {
  const type = progTypeById(p.type)?.name ?? `type ${p.type}`;
  const lines = [`${p.id}: ${type}  name ${p.name}  tag ${p.tag}${p.gplCompatible ? "  gpl" : ""}`];
  lines.push(`\tuid ${p.createdByUid}  run_cnt ${p.runCnt}  run_time_ns ${p.runTimeNs}`);
  lines.push(
    `\txlated ${p.xlatedProgLen}B  jited ${p.jitedProgLen}B${p.mapIds.length > 0 ? `  map_ids ${p.mapIds.join(",")}` : ""}`,
  );
  if (p.btfId) lines.push(`\tbtf_id ${p.btfId}`);
  return `${lines.join("\n")}\n`;
}

export function progJson(p: ProgInfo): Record<string, unknown> {
  return {
    id: p.id,
    type: progTypeById(p.type)?.name ?? p.type,
    name: p.name,
    tag: p.tag,
    gpl_compatible: p.gplCompatible,
    uid: p.createdByUid,
    bytes_xlated: p.xlatedProgLen,
    jited: p.jitedProgLen > 0,
    bytes_jited: p.jitedProgLen,
    map_ids: p.mapIds,
    btf_id: p.btfId,
    run_cnt: Number(p.runCnt),
    run_time_ns: Number(p.runTimeNs),
  };
}

export function registerProg(program: Command, io: CliIo): void {
  const prog = program.command("prog").description("programs loaded on the host (like bpftool prog)");
  prog
    .command("list")
    .alias("show")
    .description("list loaded programs")
    .option("--format <format>", "text or json", "text")
    .action(async (o: { format: string }) => {
      await withPermissionHint(() => listProgramsCli(o, io));
    });
}

function listProgramsCli(o: { format: string }, io: CliIo): void {
  if (o.format !== "text" && o.format !== "json")
    throw new UsageError("E_USAGE", `--format must be text or json, not '${o.format}'`);
  const list = listPrograms();
  io.stdout(
    o.format === "json" ? `${JSON.stringify(list.map(progJson))}\n` : list.map(formatProgram).join(""),
  );
}
