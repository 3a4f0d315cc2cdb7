/** A program loaded from an ObjectSpec: its fd, verifier log, and a test-run shortcut. */
import type { ProgramSpec } from "../elf/object/types.js";
import { objPin, progInfo, type TestRunOptions, type TestRunResult, testRun } from "./bpf.js";
import type { Fd } from "./fd.js";

export class LiveProgram implements Disposable {
  readonly name: string;
  readonly section: string;
  readonly spec: ProgramSpec;
  readonly fd: Fd;
  /** The verifier log ("" unless a log level was asked for). */
  readonly log: string;

  constructor(spec: ProgramSpec, fd: Fd, log: string) {
    this.name = spec.name;
    this.section = spec.section;
    this.spec = spec;
    this.fd = fd;
    this.log = log;
  }

  /** Program type id (enum bpf_prog_type). */
  get type(): number {
    return this.spec.type.id;
  }

  /** Kernel id of the program. */
  get id(): number {
    return progInfo(this.fd).id;
  }

  /** BPF_PROG_TEST_RUN on this program. */
  testRun(o: TestRunOptions = {}): TestRunResult {
    return testRun(this.fd, o);
  }

  pin(path: string): void {
    objPin(this.fd, path);
  }

  close(): void {
    this.fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
