// The CLI entry for tests that must run it as a child process (as an unprivileged user).
import { type CliIo, defaultIo } from "../../src/cli/io.js";
import { main } from "../../src/cli/main.js";

export async function runLoaderCli(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  return main(argv, io);
}

if (process.argv[1]?.endsWith("load-entry.ts")) {
  process.exitCode = await runLoaderCli(process.argv);
}
