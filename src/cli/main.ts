/**
 * The tsbpf command line. Each subcommand lives in its own module under commands/ and registers
 * itself on the program. Exit codes: 0 success, 1 rejected program or failed run, 2 bad input.
 */
import { Command, CommanderError } from "commander";
import { isTsbpfError } from "../errors.js";
import { registerAsm } from "./commands/asm.js";
import { registerBtf } from "./commands/btf.js";
import { registerInspect } from "./commands/inspect.js";
import { registerLoad } from "./commands/load.js";
import { registerMap } from "./commands/map.js";
import { registerObjdump } from "./commands/objdump.js";
import { registerProg } from "./commands/prog.js";
import { registerRun } from "./commands/run.js";
import { registerVerify } from "./commands/verify.js";
import { type CliIo, defaultIo, ExitCode } from "./io.js";

export function buildProgram(io: CliIo): Command {
  const program = new Command();
  program
    .name("tsbpf")
    .description("eBPF toolchain and verifier simulator in TypeScript")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .showHelpAfterError(false);
  registerObjdump(program, io);
  registerAsm(program, io);
  registerBtf(program, io);
  registerInspect(program, io);
  registerVerify(program, io);
  registerLoad(program, io);
  registerRun(program, io);
  registerProg(program, io);
  registerMap(program, io);
  return program;
}

/** Run the CLI; resolves to the process exit code. Never throws for user errors. */
export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv as string[]);
    return io.exitCode ?? ExitCode.Ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.exitCode === 0) {
        return ExitCode.Ok;
      }
      return ExitCode.BadInput;
    }
    if (isTsbpfError(e)) {
      io.stderr(`tsbpf: ${e.message}\n`);
      return ExitCode.BadInput;
    }
    if (e instanceof Error && "code" in e && typeof (e as NodeJS.ErrnoException).code === "string") {
      // File-system errors on user paths (ENOENT, EACCES...): one line, no stack.
      io.stderr(`tsbpf: ${e.message}\n`);
      return ExitCode.BadInput;
    }
    throw e;
  }
}
