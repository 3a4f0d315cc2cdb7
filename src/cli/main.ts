/**
 * The tsbpf command line. Each subcommand lives in its own module under commands/ and registers
 * itself on the program. Exit codes: 0 success, 1 rejected program or failed run, 2 bad input.
 */
import { Command, CommanderError } from "commander";
import { isTsbpfError } from "../errors.js";
import { type CliIo, defaultIo, ExitCode } from "./io.js";

type Register = (program: Command, io: CliIo) => void;

/**
 * Subcommands, loaded on demand: a run imports only the module of the command it names, so
 * `tsbpf objdump` does not pay for the loader, the verifier or the ABI tables at start-up.
 */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  objdump: async () => (await import("./commands/objdump.js")).registerObjdump,
  asm: async () => (await import("./commands/asm.js")).registerAsm,
  btf: async () => (await import("./commands/btf.js")).registerBtf,
  inspect: async () => (await import("./commands/inspect.js")).registerInspect,
  verify: async () => (await import("./commands/verify.js")).registerVerify,
  load: async () => (await import("./commands/load.js")).registerLoad,
  run: async () => (await import("./commands/run.js")).registerRun,
  prog: async () => (await import("./commands/prog.js")).registerProg,
  map: async () => (await import("./commands/map.js")).registerMap,
};

/** The commander program; with `argv`, only the named subcommand is loaded (all for help). */
export async function buildProgram(io: CliIo, argv?: readonly string[]): Promise<Command> {
  const program = new Command();
  program
    .name("tsbpf")
    .description("eBPF toolchain and verifier simulator in TypeScript")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .showHelpAfterError(false);
  const named = argv?.[2];
  const names = named !== undefined && Object.hasOwn(COMMANDS, named) ? [named] : Object.keys(COMMANDS);
  for (const name of names) (await COMMANDS[name]())(program, io);
  return program;
}

/** Run the CLI; resolves to the process exit code. Never throws for user errors. */
export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const program = await buildProgram(io, argv);
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
