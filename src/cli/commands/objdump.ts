/**
 * `tsbpf objdump -d [-r] [-l] [--no-show-raw-insn] [--no-print-imm-hex] [--mcpu=v1..v4] <file.o>...`:
 * the output of `llvm-objdump-19` with the same flags, byte for byte. `-r` alone prints the
 * relocation tables.
 * Files are printed one after another; like llvm-objdump, the first unreadable file stops the
 * run (after the files before it were printed), here with one error line and exit code 2.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { readElf } from "../../elf/reader.js";
import { UsageError } from "../../errors.js";
import { disassemble, relocationRecords } from "../../isa/disasm.js";
import { MCPUS, type Mcpu } from "../../isa/format.js";
import type { CliIo } from "../io.js";

export interface ObjdumpCliOptions {
  readonly disassemble?: boolean;
  readonly reloc?: boolean;
  readonly showRawInsn?: boolean;
  readonly printImmHex?: boolean;
  readonly lineNumbers?: boolean;
  readonly mcpu?: string;
  readonly lineInfo?: boolean;
}

function parseMcpu(value: string | undefined): Mcpu | undefined {
  // "generic" is LLVM's name for the default CPU (v1 behaviour).
  if (value === undefined || value === "generic") return undefined;
  if ((MCPUS as readonly string[]).includes(value)) return value as Mcpu;
  throw new UsageError("E_USAGE", `unknown --mcpu '${value}' (expected ${MCPUS.join(", ")} or generic)`);
}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "No such file or directory" : String(e);
    throw new UsageError("E_IO", `'${path}': ${why}`);
  }
}

/** Run the objdump command over `files`, writing each file's output as it is produced. */
export async function runObjdump(
  files: readonly string[],
  opts: ObjdumpCliOptions,
  io: CliIo,
): Promise<void> {
  if (opts.disassemble !== true && opts.reloc !== true) {
    throw new UsageError("E_USAGE", "objdump: nothing to do: give -d (disassemble) and/or -r (relocations)");
  }
  if (files.length === 0) throw new UsageError("E_USAGE", "objdump: no input files");
  const mcpu = parseMcpu(opts.mcpu);
  for (const path of files) {
    const elf = readElf(await readInput(path), { file: path });
    if (opts.disassemble === true) {
      io.stdout(
        disassemble(elf, {
          path,
          relocs: opts.reloc === true,
          showRawInsn: opts.showRawInsn !== false,
          printImmHex: opts.printImmHex !== false,
          lineNumbers: opts.lineNumbers === true,
          mcpu,
          btfLineInfo: opts.lineInfo === true,
        }),
      );
    } else {
      io.stdout(relocationRecords(elf, { path }));
    }
  }
}

export function registerObjdump(program: Command, io: CliIo): void {
  program
    .command("objdump")
    .description("disassemble BPF objects exactly like llvm-objdump-19")
    .argument("<files...>", "BPF ELF objects")
    .option("-d, --disassemble", "disassemble executable sections")
    .option("-r, --reloc", "show relocations (inline with -d)")
    .option("-l, --line-numbers", "interleave source file names and line numbers (DWARF)")
    .option("--no-show-raw-insn", "do not print instruction bytes")
    .option("--print-imm-hex", "print immediates in hex (the default)")
    .option("--no-print-imm-hex", "print immediates in decimal")
    .option(
      "--mcpu <cpu>",
      "BPF CPU version v1, v2, v3 or v4 (v3+ prints w registers for sub-word memory ops)",
    )
    .option(
      "--line-info",
      "precede instructions with their BTF line_info source line, as `bpftool prog dump xlated linum` (not an llvm-objdump flag)",
    )
    .action(async (files: string[], opts: ObjdumpCliOptions) => {
      await runObjdump(files, opts, io);
    });
}
