/**
 * Why-trace entries for branch decisions, formatted only when printed: formatting registers at
 * every conditional jump was a large share of the verifier's time, and almost every path's trace
 * is dropped unread. Plain classes (no closures), so an entry keeps only what it prints alive.
 */
import type { Instruction } from "../isa/instruction.js";
import type { CondOp } from "./branch.js";
import { isConst } from "./scalar.js";
import { constScalar, copyReg, type Reg, regStr, type TraceEntry } from "./state.js";

/**
 * What a branch condition prints of an operand, kept as it is now: a known constant scalar
 * prints as its value alone (regStr), so the value is enough; anything else is copied (the
 * register is refined in place afterwards).
 */
export function condOperand(r: Reg): Reg | bigint {
  return r.type === "scalar" && isConst(r) ? r.varOff.value : copyReg(r);
}

/** `r<dst>=<reg> <op> r<src>=<reg>` (or the immediate), from copies of the operands before refinement. */
export class BranchCond {
  constructor(
    private readonly i: Instruction,
    private readonly op: CondOp,
    private readonly a: Reg | bigint,
    private readonly b: Reg | bigint | undefined,
  ) {}
  toString(): string {
    const { i, op, a, b } = this;
    return `r${i.dst}=${operandStr(a)} ${op} ${b !== undefined ? `r${i.src}=${operandStr(b)}` : i.imm}`;
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

const operandStr = (r: Reg | bigint): string => regStr(typeof r === "bigint" ? constScalar(r) : r);

/**
 * The text of a why-trace, for a result's lazy `trace` getter: built on first read, then kept on
 * `result` as a plain property (same place in the key order). Formatting registers was most of the
 * cost of a small rejected program, and most callers never read the trace.
 */
export function traceText(result: object, entries: readonly TraceEntry[]): readonly string[] {
  const text = entries.map(String);
  Object.defineProperty(result, "trace", {
    value: text,
    enumerable: true,
    configurable: true,
    writable: true,
  });
  return text;
}
