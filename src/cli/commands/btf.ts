/**
 * `tsbpf btf dump file <path> [format raw|c|json]` (and `-j`): bpftool's argument order and output
 * (`-j` and `format json` print what `bpftool -j btf dump` prints). Keywords
 * may be abbreviated to any prefix, as bpftool allows (`btf dump f x.o fo c`).
 */
import type { Command } from "commander";
import { dumpBtfC } from "../../elf/btf/c-dump.js";
import { dumpBtfJson } from "../../elf/btf/json-dump.js";
import { loadBtfFile } from "../../elf/btf/load.js";
import { dumpBtfRaw } from "../../elf/btf/raw-dump.js";
import { UsageError } from "../../errors.js";
import type { CliIo } from "../io.js";

const SYSFS_DIR = "/sys/kernel/btf/";
const SYSFS_VMLINUX = "/sys/kernel/btf/vmlinux";

function isPrefix(word: string, full: string): boolean {
  return word.length > 0 && full.startsWith(word);
}

export async function runBtfDump(
  args: readonly string[],
  io: CliIo,
  opts: { json?: boolean; format?: string; baseBtf?: string } = {},
): Promise<void> {
  const [src, path, ...keywords] = args;
  // `--format X` (the tsbpf-wide spelling) is the same as bpftool's trailing `format X`.
  const rest = opts.format !== undefined ? [...keywords, "format", opts.format] : keywords;
  if (src === undefined || !isPrefix(src, "file")) {
    throw new UsageError(
      "BTF_USAGE",
      src === undefined
        ? "expected: btf dump file <path> [format raw|c|json]"
        : `unsupported BTF source '${src}' (only 'file' is supported)`,
    );
  }
  if (path === undefined) throw new UsageError("BTF_USAGE", "expected a path after 'file'");
  let format: "raw" | "c" | "json" = opts.json ? "json" : "raw";
  for (let i = 0; i < rest.length; i++) {
    if (!isPrefix(rest[i], "format")) throw new UsageError("BTF_USAGE", `unrecognized option: '${rest[i]}'`);
    const value = rest[++i];
    if (value === undefined) throw new UsageError("BTF_USAGE", "expecting value for 'format' option");
    if (value === "c") {
      if (opts.json) throw new UsageError("BTF_USAGE", "JSON output for C-syntax dump is not supported");
      format = "c";
    } else if (value === "raw" || value === "json") {
      // `format json` is `-j`: the machine-readable form of the raw listing.
      format = opts.json || value === "json" ? "json" : "raw";
    } else {
      throw new UsageError(
        "BTF_USAGE",
        `unrecognized format specifier: '${value}', possible values: raw, c, json`,
      );
    }
  }
  // Split BTF: an explicit base (-B, as bpftool's), or vmlinux for module BTF under /sys/kernel/btf/.
  const base =
    opts.baseBtf !== undefined
      ? await loadBtfFile(opts.baseBtf)
      : path.startsWith(SYSFS_DIR) && path !== SYSFS_VMLINUX
        ? await loadBtfFile(SYSFS_VMLINUX)
        : undefined;
  const btf = await loadBtfFile(path, { base });
  io.stdout(format === "c" ? dumpBtfC(btf) : format === "json" ? dumpBtfJson(btf) : dumpBtfRaw(btf));
}

export function registerBtf(program: Command, io: CliIo): void {
  const btf = program.command("btf").description("inspect BTF type information");
  btf
    .command("dump")
    .description("dump BTF types like `bpftool btf dump`: dump file <path> [format raw|c|json]")
    .argument("<args...>", "file <path> [format raw|c|json]")
    .option("-j, --json", "raw listing as JSON, like `bpftool -j`")
    .option("--format <format>", "raw, c or json (same as the trailing `format` keyword)")
    .option("-B, --base-btf <path>", "base BTF of a split BTF file, like bpftool's -B")
    .action(async (args: string[], opts: { json?: boolean; format?: string; baseBtf?: string }) => {
      await runBtfDump(args, io, opts);
    });
}
