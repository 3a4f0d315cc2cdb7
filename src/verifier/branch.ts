/**
 * Conditional jumps on scalars: whether a branch is always/never taken (is_scalar_branch_taken)
 * and what each side learns about both registers (regs_refine_cond_op), for JMP and JMP32.
 */
import {
  type Bounds,
  constBounds,
  markUnbounded,
  S32_MAX,
  S32_MIN,
  S64_MAX,
  S64_MIN,
  syncBounds,
} from "./scalar.js";
import {
  type Tnum,
  tnumAnd,
  tnumConst,
  tnumIntersect,
  tnumIsConst,
  tnumOr,
  tnumSubreg,
  tnumWithSubreg,
  U32,
  U64,
} from "./tnum.js";

export type CondOp =
  | "jeq"
  | "jne"
  | "jgt"
  | "jge"
  | "jlt"
  | "jle"
  | "jsgt"
  | "jsge"
  | "jslt"
  | "jsle"
  | "jset";

export const COND_OPS: Readonly<Record<number, CondOp>> = {
  16: "jeq",
  32: "jgt",
  48: "jge",
  64: "jset",
  80: "jne",
  96: "jsgt",
  112: "jsge",
  160: "jlt",
  176: "jle",
  192: "jslt",
  208: "jsle",
};

/** The op that holds on the other side of the branch (rev_opcode). */
export function negateOp(op: CondOp): CondOp | undefined {
  switch (op) {
    case "jeq":
      return "jne";
    case "jne":
      return "jeq";
    case "jgt":
      return "jle";
    case "jle":
      return "jgt";
    case "jge":
      return "jlt";
    case "jlt":
      return "jge";
    case "jsgt":
      return "jsle";
    case "jsle":
      return "jsgt";
    case "jsge":
      return "jslt";
    case "jslt":
      return "jsge";
    case "jset":
      return undefined; // "not jset" is handled by refine's negated flag
  }
}

/** The op with its operands swapped (flip_opcode). */
export function flipOp(op: CondOp): CondOp {
  switch (op) {
    case "jgt":
      return "jlt";
    case "jlt":
      return "jgt";
    case "jge":
      return "jle";
    case "jle":
      return "jge";
    case "jsgt":
      return "jslt";
    case "jslt":
      return "jsgt";
    case "jsge":
      return "jsle";
    case "jsle":
      return "jsge";
    default:
      return op;
  }
}

interface View {
  umin: bigint;
  umax: bigint;
  smin: bigint;
  smax: bigint;
  t: Tnum;
}

/** The 64-bit or 32-bit ranges of `b`, written into `out` (one of the scratch views below). */
function view(b: Bounds, is32: boolean, out: View): View {
  if (is32) {
    out.umin = b.u32min;
    out.umax = b.u32max;
    out.smin = b.s32min;
    out.smax = b.s32max;
    out.t = tnumSubreg(b.varOff);
  } else {
    out.umin = b.umin;
    out.umax = b.umax;
    out.smin = b.smin;
    out.smax = b.smax;
    out.t = b.varOff;
  }
  return out;
}

// Scratch views, one pair per function (a view lives only during one call, and neither function
// is re-entered while its views are in use): no allocation per compare.
const newView = (): View => ({ umin: 0n, umax: 0n, smin: 0n, smax: 0n, t: { value: 0n, mask: 0n } });
const TAKEN_X = newView();
const TAKEN_Y = newView();
const REFINE_X = newView();
const REFINE_Y = newView();

/** 1 taken, 0 not taken, -1 unknown. */
export function scalarBranchTaken(a: Bounds, b: Bounds, op: CondOp, is32: boolean): 1 | 0 | -1 {
  const x = view(a, is32, TAKEN_X);
  const y = view(b, is32, TAKEN_Y);
  switch (op) {
    case "jeq":
      if (tnumIsConst(x.t) && tnumIsConst(y.t)) return x.t.value === y.t.value ? 1 : 0;
      if (x.umin > y.umax || x.umax < y.umin) return 0;
      if (x.smin > y.smax || x.smax < y.smin) return 0;
      if ((x.t.value ^ y.t.value) & ~(x.t.mask | y.t.mask) & U64) return 0;
      return -1;
    case "jne":
      if (tnumIsConst(x.t) && tnumIsConst(y.t)) return x.t.value !== y.t.value ? 1 : 0;
      if (x.umin > y.umax || x.umax < y.umin) return 1;
      if (x.smin > y.smax || x.smax < y.smin) return 1;
      if ((x.t.value ^ y.t.value) & ~(x.t.mask | y.t.mask) & U64) return 1;
      return -1;
    case "jset":
      if (!tnumIsConst(y.t)) {
        if (tnumIsConst(x.t)) return scalarBranchTaken(b, a, op, is32);
        return -1;
      }
      if ((x.t.value & y.t.value) !== 0n) return 1;
      if (((x.t.value | x.t.mask) & y.t.value) === 0n) return 0;
      return -1;
    case "jgt":
      if (x.umin > y.umax) return 1;
      if (x.umax <= y.umin) return 0;
      return -1;
    case "jsgt":
      if (x.smin > y.smax) return 1;
      if (x.smax <= y.smin) return 0;
      return -1;
    case "jlt":
      if (x.umax < y.umin) return 1;
      if (x.umin >= y.umax) return 0;
      return -1;
    case "jslt":
      if (x.smax < y.smin) return 1;
      if (x.smin >= y.smax) return 0;
      return -1;
    case "jge":
      if (x.umin >= y.umax) return 1;
      if (x.umax < y.umin) return 0;
      return -1;
    case "jsge":
      if (x.smin >= y.smax) return 1;
      if (x.smax < y.smin) return 0;
      return -1;
    case "jle":
      if (x.umax <= y.umin) return 1;
      if (x.umin > y.umax) return 0;
      return -1;
    case "jsle":
      if (x.smax <= y.smin) return 1;
      if (x.smin > y.smax) return 0;
      return -1;
  }
}

const maxB = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const minB = (a: bigint, b: bigint): bigint => (a < b ? a : b);

function setView(b: Bounds, v: View, is32: boolean): void {
  if (is32) {
    b.u32min = v.umin;
    b.u32max = v.umax;
    b.s32min = v.smin;
    b.s32max = v.smax;
    b.varOff = tnumWithSubreg(b.varOff, v.t);
  } else {
    b.umin = v.umin;
    b.umax = v.umax;
    b.smin = v.smin;
    b.smax = v.smax;
    b.varOff = v.t;
  }
}

/**
 * Learn from `a <op> b` holding (both registers may change). With `negated`, the op's negation
 * holds (for jset: no common bit). Bounds may end up empty: the caller treats that as an
 * impossible path.
 */
export function refine(a: Bounds, b: Bounds, op: CondOp, is32: boolean, negated: boolean): void {
  let o: CondOp = op;
  if (negated) {
    if (op === "jset") {
      refineJsetFalse(a, b, is32);
      syncBounds(a);
      syncBounds(b);
      return;
    }
    o = negateOp(op)!;
  }
  const x = view(a, is32, REFINE_X);
  const y = view(b, is32, REFINE_Y);
  const umaxAll = is32 ? U32 : U64;
  const sminAll = is32 ? S32_MIN : S64_MIN;
  const smaxAll = is32 ? S32_MAX : S64_MAX;
  switch (o) {
    case "jeq": {
      x.umin = y.umin = maxB(x.umin, y.umin);
      x.umax = y.umax = minB(x.umax, y.umax);
      x.smin = y.smin = maxB(x.smin, y.smin);
      x.smax = y.smax = minB(x.smax, y.smax);
      // Only intersect tnums that can overlap; otherwise bounds are already empty or will be.
      const t = tnumIntersect(x.t, y.t);
      x.t = t;
      y.t = t;
      break;
    }
    case "jne": {
      // Only a constant on one side teaches something: shave it off the other's bounds.
      const shave = (p: View, c: View): void => {
        if (!tnumIsConst(c.t)) return;
        const v = c.t.value;
        const sv = is32 ? BigInt.asIntN(32, v) : BigInt.asIntN(64, v);
        if (p.umin === v && p.umin < umaxAll) p.umin++;
        else if (p.umax === v && p.umax > 0n) p.umax--;
        if (p.smin === sv && p.smin < smaxAll) p.smin++;
        else if (p.smax === sv && p.smax > sminAll) p.smax--;
      };
      shave(x, y);
      shave(y, x);
      break;
    }
    case "jset": {
      if (tnumIsConst(y.t) && isPow2(y.t.value)) x.t = tnumOr(x.t, tnumConst(y.t.value));
      break;
    }
    case "jle":
      x.umax = minB(x.umax, y.umax);
      y.umin = maxB(y.umin, x.umin);
      break;
    case "jlt":
      x.umax = minB(x.umax, y.umax - 1n);
      y.umin = maxB(y.umin, x.umin + 1n);
      break;
    case "jge":
      x.umin = maxB(x.umin, y.umin);
      y.umax = minB(y.umax, x.umax);
      break;
    case "jgt":
      x.umin = maxB(x.umin, y.umin + 1n);
      y.umax = minB(y.umax, x.umax - 1n);
      break;
    case "jsle":
      x.smax = minB(x.smax, y.smax);
      y.smin = maxB(y.smin, x.smin);
      break;
    case "jslt":
      x.smax = minB(x.smax, y.smax - 1n);
      y.smin = maxB(y.smin, x.smin + 1n);
      break;
    case "jsge":
      x.smin = maxB(x.smin, y.smin);
      y.smax = minB(y.smax, x.smax);
      break;
    case "jsgt":
      x.smin = maxB(x.smin, y.smin + 1n);
      y.smax = minB(y.smax, x.smax - 1n);
      break;
  }
  setView(a, x, is32);
  setView(b, y, is32);
  syncBounds(a);
  syncBounds(b);
}

function isPow2(v: bigint): boolean {
  return v !== 0n && (v & (v - 1n)) === 0n;
}

function refineJsetFalse(a: Bounds, b: Bounds, is32: boolean): void {
  // No common bits: the constant's bits are clear in the other register. As 6.18 does, the
  // other register's ranges are forgotten first (only its tnum narrows), and only one side
  // learns: the first non-constant one facing a constant.
  const cst = (x: Bounds): boolean => tnumIsConst(is32 ? tnumSubreg(x.varOff) : x.varOff);
  let p = a;
  let c = b;
  if (!cst(c)) {
    p = b;
    c = a;
  }
  if (!cst(c)) return;
  const ct = is32 ? tnumSubreg(c.varOff) : c.varOff;
  const keep = tnumConst(~ct.value & (is32 ? U32 : U64));
  markUnbounded(p);
  if (is32) p.varOff = tnumWithSubreg(p.varOff, tnumAnd(tnumSubreg(p.varOff), keep));
  else p.varOff = tnumAnd(p.varOff, keep);
}

/** A constant operand of a compare-with-immediate: JMP sign-extends imm to 64 bits, JMP32 uses 32. */
export function immBounds(imm: number): Bounds {
  return constBounds(BigInt(imm));
}
