/**
 * Why-trace entries for branch decisions, formatted only when printed: formatting registers at
 * every conditional jump was a large share of the verifier's time, and almost every path's trace
 * is dropped unread. Plain classes (no closures), so an entry keeps only what it prints alive.
 */
import type { Instruction } from "../isa/instruction.js";
import type { CondOp } from "./branch.js";
import { type Reg, regStr } from "./state.js";

/** `r<dst>=<reg> <op> r<src>=<reg>` (or the immediate), from copies of the operands before refinement. */
export class BranchCond {
  constructor(
    private readonly i: Instruction,
    private readonly op: CondOp,
    private readonly a: Reg,
    private readonly b: Reg | undefined,
  ) {}
  toString(): string {
    const { i, op, a, b } = this;
    return `r${i.dst}=${regStr(a)} ${op} ${b ? `r${i.src}=${regStr(b)}` : i.imm}`;
  }
}

/** `<insn>: <condition> <outcome>`. */
export class BranchTrace {
  constructor(
    private readonly t: number,
    private readonly cond: BranchCond,
    private readonly outcome: string,
  ) {}
  toString(): string {
    return `${this.t}: ${this.cond} ${this.outcome}`;
  }
}
