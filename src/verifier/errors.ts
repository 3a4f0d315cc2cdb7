/** Internal: a verification failure at an instruction, in the kernel's words. */
export class VerifyAbort extends Error {
  constructor(
    readonly insn: number,
    message: string,
    /** False when our model refuses something it does not model (not a kernel message). */
    readonly kernelWording = true,
  ) {
    // Internal and always caught: no stack trace to capture (capturing one costs more than
    // verifying a small program).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }
}

/** A program construct outside what this verifier models: rejected (never guessed as safe). */
export const notModelled = (insn: number, what: string): VerifyAbort =>
  new VerifyAbort(insn, `tsbpf: ${what} is not modelled by the offline verifier`, false);
