/** Output and exit status for CLI commands, replaceable in tests. */
export const ExitCode = { Ok: 0, Failed: 1, BadInput: 2 } as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** stderr is a terminal (progress output is drawn only then). */
  stderrIsTTY?: boolean;
  stderrColumns?: number;
  /** Set by a command to report failure without throwing (e.g. a rejected program). */
  exitCode?: ExitCodeValue;
}

export function defaultIo(): CliIo {
  return {
    stdout: (s) => {
      process.stdout.write(s);
    },
    stderr: (s) => {
      process.stderr.write(s);
    },
    stderrIsTTY: process.stderr.isTTY === true,
    ...(process.stderr.columns ? { stderrColumns: process.stderr.columns } : {}),
  };
}

/** An in-memory CliIo for tests. */
export function captureIo(): CliIo & { out: string; err: string } {
  const io = {
    out: "",
    err: "",
    exitCode: undefined as ExitCodeValue | undefined,
    stdout(s: string) {
      io.out += s;
    },
    stderr(s: string) {
      io.err += s;
    },
  };
  return io;
}
