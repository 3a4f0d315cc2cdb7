/**
 * `tsbpf btf dump file <path> [format raw|c]`: bpftool's argument order and output. Keywords
 * may be abbreviated to any prefix, as bpftool allows (`btf dump f x.o fo c`).
 */
import type { Command } from "commander";
import { dumpBtfC } from "../../elf/btf/c-dump.js";
import { loadBtfFile } from "../../elf/btf/load.js";
import { dumpBtfRaw } from "../../elf/btf/raw-dump.js";
import { UsageError } from "../../errors.js";
import type { CliIo } from "../io.js";

const SYSFS_DIR = "/sys/kernel/btf/";
const SYSFS_VMLINUX = "/sys/kernel/btf/vmlinux";

function isPrefix(word: string, full: string): boolean {
  return word.length > 0 && full.startsWith(word);
}

export async function runBtfDump(args: readonly string[], io: CliIo): Promise<void> {
  const [src, path, ...rest] = args;
  if (src === undefined || !isPrefix(src, "file")) {
    throw new UsageError(
      "BTF_USAGE",
      src === undefined
        ? "expected: btf dump file <path> [format raw|c]"
        : `unsupported BTF source '${src}' (only 'file' is supported)`,
    );
  }
  if (path === undefined) throw new UsageError("BTF_USAGE", "expected a path after 'file'");
  let format: "raw" | "c" = "raw";
  for (let i = 0; i < rest.length; i++) {
    if (!isPrefix(rest[i], "format")) throw new UsageError("BTF_USAGE", `unrecognized option: '${rest[i]}'`);
    const value = rest[++i];
    if (value === undefined) throw new UsageError("BTF_USAGE", "expecting value for 'format' option");
    if (value !== "raw" && value !== "c") {
      throw new UsageError("BTF_USAGE", `unrecognized format specifier: '${value}', possible values: raw, c`);
    }
    format = value;
  }
  // Module BTF under /sys/kernel/btf/ is split BTF on top of vmlinux, as bpftool assumes.
  const base =
    path.startsWith(SYSFS_DIR) && path !== SYSFS_VMLINUX ? await loadBtfFile(SYSFS_VMLINUX) : undefined;
  const btf = await loadBtfFile(path, { base });
  io.stdout(format === "c" ? dumpBtfC(btf) : dumpBtfRaw(btf));
}

export function registerBtf(program: Command, io: CliIo): void {
  const btf = program.command("btf").description("inspect BTF type information");
  btf
    .command("dump")
    .description("dump BTF types like `bpftool btf dump`: dump file <path> [format raw|c]")
    .argument("<args...>", "file <path> [format raw|c]")
    .action(async (args: string[]) => {
      await runBtfDump(args, io);
    });
}
