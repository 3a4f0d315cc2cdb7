/**
 * The one error a run can end with. A program under the VM either returns r0 or stops with a
 * VmFault: defined behaviours (division by zero, out-of-range shifts, LD_ABS beyond the packet)
 * are not faults, only things the kernel's verifier would have refused or that cannot be done.
 */
import { TsbpfError } from "../errors.js";

export type VmFaultKind =
  /** An access outside a region's bounds, or at an address that belongs to no region. */
  | "out-of-bounds"
  /** A store (or atomic) into a read-only region. */
  | "read-only"
  /** A helper call whose id is not in the environment's helper table. */
  | "unknown-helper"
  /** A kfunc call or a feature the simulator does not provide. */
  | "unsupported"
  /** An opcode the ISA does not define, or an instruction the strict check refuses. */
  | "invalid-insn"
  /** A jump or call to a slot outside the program or into the middle of an ld_imm64. */
  | "bad-jump"
  /** More than 8 nested bpf-to-bpf call frames. */
  | "call-depth"
  /** The instruction budget ran out (a runaway loop). */
  | "budget"
  /** An ld_imm64 with a pseudo source the environment cannot resolve. */
  | "unresolved"
  /** A helper refused its arguments or failed (it names the reason). */
  | "helper"
  /** A bug in the simulator itself (an exception that is not a fault): please report it. */
  | "internal";

export interface VmSourceLine {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  readonly text?: string;
}

export class VmFault extends TsbpfError {
  /** Slot index of the faulting instruction (kernel numbering: ld_imm64 counts as two). */
  readonly insn: number;
  readonly kind: VmFaultKind;
  /** The 64-bit address involved, for memory faults. */
  readonly address: bigint | undefined;
  /** The source line of the instruction, when the caller knows it (BTF line info). */
  readonly source: VmSourceLine | undefined;
  /** The name of the program the instruction belongs to, when it has one (tail calls). */
  readonly program: string | undefined;
  /** The bare description, without the "insn N:" prefix of `message`. */
  readonly detail: string;

  constructor(
    kind: VmFaultKind,
    detail: string,
    opts: { insn?: number; address?: bigint; source?: VmSourceLine; program?: string } = {},
  ) {
    const insn = opts.insn ?? -1;
    const prog = opts.program !== undefined ? `${opts.program}: ` : "";
    const where = insn >= 0 ? `insn ${insn}: ` : "";
    const line = opts.source ? ` (${opts.source.file}:${opts.source.line})` : "";
    super(`E_VM_${kind.toUpperCase().replace(/-/g, "_")}`, `${prog}${where}${detail}${line}`);
    this.insn = insn;
    this.kind = kind;
    this.address = opts.address;
    this.source = opts.source;
    this.program = opts.program;
    this.detail = detail;
  }

  /** The same fault at a known instruction, with a source line or program name attached. */
  with(opts: { insn?: number; source?: VmSourceLine; program?: string }): VmFault {
    return new VmFault(this.kind, this.detail, {
      insn: opts.insn ?? this.insn,
      address: this.address,
      source: opts.source ?? this.source,
      program: opts.program ?? this.program,
    });
  }
}

export function isVmFault(e: unknown): e is VmFault {
  return e instanceof VmFault;
}
