/**
 * Typed errors with stable codes. Library code throws these (never process.exit), and the CLI
 * turns them into one clear line and exit code 2 (bad input) or 1 (rejected / failed run).
 */
export class TsbpfError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A malformed or unsupported ELF file. `section` names the offending section when there is one. */
export class ElfError extends TsbpfError {
  readonly file: string | undefined;
  readonly section: string | undefined;
  constructor(code: string, message: string, opts: { file?: string; section?: string } = {}) {
    const where = [opts.file, opts.section ? `section ${opts.section}` : undefined]
      .filter(Boolean)
      .join(": ");
    super(code, where ? `${where}: ${message}` : message);
    this.file = opts.file;
    this.section = opts.section;
  }
}

/** Malformed BTF or BTF.ext. `typeId` names the offending type when there is one. */
export class BtfError extends TsbpfError {
  readonly typeId: number | undefined;
  constructor(code: string, message: string, opts: { typeId?: number } = {}) {
    super(code, opts.typeId !== undefined ? `type [${opts.typeId}]: ${message}` : message);
    this.typeId = opts.typeId;
  }
}

/** An assembly text the assembler refuses. `line` is 1-based. */
export class AsmError extends TsbpfError {
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(code: string, message: string, opts: { line?: number; column?: number; file?: string } = {}) {
    const at =
      opts.line !== undefined
        ? `${opts.file ?? "<input>"}:${opts.line}${opts.column !== undefined ? `:${opts.column}` : ""}: `
        : "";
    super(code, `${at}${message}`);
    this.line = opts.line;
    this.column = opts.column;
  }
}

/** An instruction that breaks an encoding rule (strict check, encode of an out-of-range field). */
export class InsnError extends TsbpfError {
  readonly insn: number | undefined;
  constructor(code: string, message: string, opts: { insn?: number } = {}) {
    super(code, opts.insn !== undefined ? `insn ${opts.insn}: ${message}` : message);
    this.insn = opts.insn;
  }
}

/** Bad input or usage at the CLI or API edge (missing file, unknown program name...). */
export class UsageError extends TsbpfError {}

export function isTsbpfError(e: unknown): e is TsbpfError {
  return e instanceof TsbpfError;
}
