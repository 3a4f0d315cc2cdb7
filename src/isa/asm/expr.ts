/**
 * Assembler expressions over a token cursor: numbers, symbols, unary - + ~ and the binary
 * operators of the GNU/LLVM assembler with C precedence. A result is a constant, a symbol plus
 * constant, or a difference of two symbols plus constant (resolved after layout).
 */
import { asmError, type SourcePos, type Token } from "./lexer.js";
import type { Expr } from "./module.js";

export class Cursor {
  i = 0;
  constructor(
    readonly toks: readonly Token[],
    readonly pos: SourcePos,
    /** Column just past the statement, for "expected X at end of line" errors. */
    readonly endCol: number,
  ) {}
  peek(k = 0): Token | undefined {
    return this.toks[this.i + k];
  }
  next(): Token | undefined {
    return this.toks[this.i++];
  }
  done(): boolean {
    return this.i >= this.toks.length;
  }
  col(): number {
    return this.peek()?.col ?? this.endCol;
  }
  isOp(text: string, k = 0): boolean {
    const t = this.peek(k);
    return t?.kind === "op" && t.text === text;
  }
  isIdent(text?: string, k = 0): boolean {
    const t = this.peek(k);
    // Keywords after the first token are matched exactly, as llvm-mc does (`GOTO` is refused).
    return t?.kind === "ident" && (text === undefined || t.text === text);
  }
  eatOp(text: string): boolean {
    if (this.isOp(text)) {
      this.i++;
      return true;
    }
    return false;
  }
  expectOp(text: string, what?: string): void {
    if (!this.eatOp(text)) {
      const t = this.peek();
      throw asmError(
        "E_ASM_SYNTAX",
        `expected '${text}'${what ? ` ${what}` : ""}${t ? `, found '${t.text}'` : " at end of line"}`,
        this.pos,
        this.col(),
      );
    }
  }
  expectEnd(): void {
    const t = this.peek();
    if (t) throw asmError("E_ASM_SYNTAX", `unexpected '${t.text}' after the operands`, this.pos, t.col);
  }
}

const BINARY: ReadonlyArray<readonly string[]> = [
  ["|"],
  ["^"],
  ["&"],
  ["==", "!="],
  ["<", "<=", ">", ">="],
  ["<<", ">>"],
  ["+", "-"],
  ["*", "/", "%"],
];

const constant = (add: bigint): Expr => ({ add });

/** Parse an expression (constant, symbol plus constant, or difference of two symbols). */
export function parseExpr(c: Cursor): Expr {
  return parseBinary(c, 0);
}

function parseBinary(c: Cursor, level: number): Expr {
  if (level >= BINARY.length) return parseUnary(c);
  let left = parseBinary(c, level + 1);
  for (;;) {
    const t = c.peek();
    if (t?.kind !== "op" || !BINARY[level].includes(t.text)) return left;
    c.next();
    const right = parseBinary(c, level + 1);
    left = combine(t.text, left, right, c, t.col);
  }
}

function combine(op: string, a: Expr, b: Expr, c: Cursor, col: number): Expr {
  if (op === "+") {
    if (a.sym !== undefined && b.sym !== undefined) throw notConst(c, col, "cannot add two symbols");
    if (b.sym !== undefined) return { ...b, add: a.add + b.add };
    return { ...a, add: a.add + b.add };
  }
  if (op === "-") {
    if (b.sub !== undefined) throw notConst(c, col, "expression too complex");
    if (b.sym !== undefined) {
      if (a.sym === undefined || a.sub !== undefined) throw notConst(c, col, "cannot subtract a symbol here");
      return { sym: a.sym, sub: b.sym, add: a.add - b.add };
    }
    return { ...a, add: a.add - b.add };
  }
  if (a.sym !== undefined || b.sym !== undefined) throw notConst(c, col, `operator '${op}' needs constants`);
  const x = a.add;
  const y = b.add;
  switch (op) {
    case "*":
      return constant(x * y);
    case "/":
    case "%":
      if (y === 0n) throw asmError("E_ASM_EXPR", "division by zero in expression", c.pos, col);
      return constant(op === "/" ? x / y : x % y);
    case "<<":
      return constant(BigInt.asIntN(64, x << (y & 63n)));
    case ">>":
      return constant(BigInt.asIntN(64, x) >> (y & 63n));
    case "&":
      return constant(x & y);
    case "|":
      return constant(x | y);
    case "^":
      return constant(x ^ y);
    case "==":
      return constant(x === y ? -1n : 0n);
    case "!=":
      return constant(x !== y ? -1n : 0n);
    case "<":
      return constant(x < y ? -1n : 0n);
    case "<=":
      return constant(x <= y ? -1n : 0n);
    case ">":
      return constant(x > y ? -1n : 0n);
    default:
      return constant(x >= y ? -1n : 0n);
  }
}

function notConst(c: Cursor, col: number, why: string) {
  return asmError("E_ASM_EXPR", why, c.pos, col);
}

function parseUnary(c: Cursor): Expr {
  const t = c.peek();
  if (!t) throw asmError("E_ASM_SYNTAX", "expected an expression at end of line", c.pos, c.endCol);
  if (t.kind === "op" && (t.text === "-" || t.text === "+" || t.text === "~" || t.text === "!")) {
    c.next();
    const v = parseUnary(c);
    if (t.text === "+") return v;
    if (v.sym !== undefined) throw notConst(c, t.col, `operator '${t.text}' needs a constant`);
    if (t.text === "-") return constant(-v.add);
    if (t.text === "~") return constant(~v.add);
    return constant(v.add === 0n ? 1n : 0n);
  }
  if (t.kind === "num") {
    c.next();
    return constant(t.value);
  }
  if (t.kind === "ident") {
    c.next();
    return { sym: t.text, add: 0n };
  }
  if (t.kind === "op" && t.text === "(") {
    c.next();
    const v = parseExpr(c);
    c.expectOp(")", "to close the expression");
    return v;
  }
  throw asmError("E_ASM_SYNTAX", `unexpected '${t.text}' in expression`, c.pos, t.col);
}
