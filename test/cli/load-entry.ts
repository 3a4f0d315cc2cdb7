// The CLI with the loader commands wired as the integrator will wire them, for tests that must
// run it as a child process (as an unprivileged user). Same error handling as main().
import { CommanderError } from "commander";
import { registerLoad } from "../../src/cli/commands/load.js";
import { registerMap } from "../../src/cli/commands/map.js";
import { registerProg } from "../../src/cli/commands/prog.js";
import { registerRun } from "../../src/cli/commands/run.js";
import { type CliIo, defaultIo, ExitCode } from "../../src/cli/io.js";
import { buildProgram } from "../../src/cli/main.js";
import { isTsbpfError } from "../../src/errors.js";

export async function runLoaderCli(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const program = buildProgram(io);
  // Commands the integrator may already have wired are not registered twice.
  const have = new Set(program.commands.map((c) => c.name()));
  if (!have.has("load")) registerLoad(program, io);
  if (!have.has("run")) registerRun(program, io);
  if (!have.has("prog")) registerProg(program, io);
  if (!have.has("map")) registerMap(program, io);
  try {
    await program.parseAsync(argv as string[]);
    return io.exitCode ?? ExitCode.Ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? ExitCode.Ok : ExitCode.BadInput;
    if (isTsbpfError(e) || (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string")) {
      io.stderr(`tsbpf: ${(e as Error).message}\n`);
      return ExitCode.BadInput;
    }
    throw e;
  }
}

if (process.argv[1]?.endsWith("load-entry.ts")) {
  process.exitCode = await runLoaderCli(process.argv);
}
