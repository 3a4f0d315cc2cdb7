/**
 * The bpf_conformance suite's assembly syntax: `mnemonic operand, operand` with `%rN` registers,
 * `[%rN+off]` memory operands, `lock [fetch] op [%rN+off], %rM` atomics, `call N`,
 * `call local label`, `call %rN` (callx: the register goes in dst, as LLVM encodes callx),
 * labels `name:`, jump targets as labels or `+N`/`-N`, and an implicit label `exit` at the first
 * `exit`. Decimal immediates must fit a signed 32-bit value, hex ones 32 bits.
 */
import { ELF } from "../../elf/types.js";
import { type Instruction, insn } from "../instruction.js";
import { ALU_OPS, ATOMIC_OPS, CLASS, JMP_OPS, MODE, SIZE, SRC_K, SRC_X } from "../opcodes.js";
import { asmError, type SourcePos } from "./lexer.js";
import type { AsmBuilder, InsnFixup } from "./module.js";

const ALU: Readonly<Record<string, { op: number; off: number }>> = {
  add: { op: ALU_OPS.add, off: 0 },
  sub: { op: ALU_OPS.sub, off: 0 },
  mul: { op: ALU_OPS.mul, off: 0 },
  div: { op: ALU_OPS.div, off: 0 },
  sdiv: { op: ALU_OPS.div, off: 1 },
  or: { op: ALU_OPS.or, off: 0 },
  and: { op: ALU_OPS.and, off: 0 },
  lsh: { op: ALU_OPS.lsh, off: 0 },
  rsh: { op: ALU_OPS.rsh, off: 0 },
  mod: { op: ALU_OPS.mod, off: 0 },
  smod: { op: ALU_OPS.mod, off: 1 },
  xor: { op: ALU_OPS.xor, off: 0 },
  mov: { op: ALU_OPS.mov, off: 0 },
  arsh: { op: ALU_OPS.arsh, off: 0 },
};

const JMP: Readonly<Record<string, number>> = {
  jeq: JMP_OPS.jeq,
  jgt: JMP_OPS.jgt,
  jge: JMP_OPS.jge,
  jset: JMP_OPS.jset,
  jne: JMP_OPS.jne,
  jsgt: JMP_OPS.jsgt,
  jsge: JMP_OPS.jsge,
  jlt: JMP_OPS.jlt,
  jle: JMP_OPS.jle,
  jslt: JMP_OPS.jslt,
  jsle: JMP_OPS.jsle,
};

const MEM_SIZES: Readonly<Record<string, number>> = { b: SIZE.B, h: SIZE.H, w: SIZE.W, dw: SIZE.DW };

const LOCK_OPS: Readonly<Record<string, number>> = {
  add: ATOMIC_OPS.add,
  or: ATOMIC_OPS.or,
  and: ATOMIC_OPS.and,
  xor: ATOMIC_OPS.xor,
};

/** Internal label names: kept out of the symbol table like LLVM's `.L` labels. */
const labelName = (name: string): string => `.L${name}`;

interface Ctx {
  readonly pos: SourcePos;
  /** Column of the statement. */
  readonly col: number;
  /** The source line, to point errors at the operand they are about. */
  readonly line: string;
}

/** Throw, pointing at `near` (an operand's text) when the line contains it. */
function fail(ctx: Ctx, code: string, message: string, near?: string): never {
  const at = near !== undefined && near.trim() !== "" ? ctx.line.indexOf(near.trim(), ctx.col - 1) : -1;
  throw asmError(code, message, ctx.pos, at >= 0 ? at + 1 : ctx.col);
}

function reg(ctx: Ctx, text: string | undefined): number {
  if (text === undefined) fail(ctx, "E_ASM_OPERANDS", "missing register operand");
  const m = /^%r([0-9]+)$/.exec(text.trim());
  if (!m) fail(ctx, "E_ASM_REGISTER", `invalid register '${text.trim()}' (expected %r0..%r10)`, text);
  const n = Number(m[1]);
  if (n > 10) fail(ctx, "E_ASM_REGISTER", `invalid register '${text.trim()}' (expected %r0..%r10)`, text);
  return n;
}

const isReg = (text: string | undefined): boolean => text !== undefined && /^%/.test(text.trim());

/** Parse a number: decimal (signed range) or hex (unsigned spelling allowed). */
function number(ctx: Ctx, text: string | undefined, bits: 16 | 32 | 64, what: string): bigint {
  if (text === undefined) fail(ctx, "E_ASM_OPERANDS", `missing ${what}`);
  const t = text.trim();
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|[0-9]+)$/.exec(t);
  if (!m) fail(ctx, "E_ASM_NUMBER", `invalid ${what} '${t}'`, t);
  const neg = m[1] === "-";
  const hex = /^0[xX]/.test(m[2]);
  const mag = BigInt(m[2]);
  const v = neg ? -mag : mag;
  const half = 1n << BigInt(bits - 1);
  const lo = -half;
  const hi = hex && !neg ? (1n << BigInt(bits)) - 1n : half - 1n;
  if (v < lo || v > hi)
    fail(ctx, "E_ASM_RANGE", `${what} ${t} is out of range for ${bits} bits`, t.replace(/^\+/, ""));
  return v;
}

const imm32 = (ctx: Ctx, text: string | undefined, what = "immediate"): number =>
  Number(BigInt.asIntN(32, number(ctx, text, 32, what)));

/** `[%rN+off]`, `[%rN-off]` or `[%rN]`. */
function mem(ctx: Ctx, text: string | undefined): { reg: number; off: number } {
  if (text === undefined) fail(ctx, "E_ASM_OPERANDS", "missing memory operand");
  const m = /^\[\s*(%?\w+)\s*(?:([+-])\s*(\w+))?\s*\]$/.exec(text.trim());
  if (!m) fail(ctx, "E_ASM_OPERAND", `invalid memory operand '${text.trim()}' (expected [%rN+offset])`, text);
  const r = reg(ctx, m[1]);
  const off = m[3] === undefined ? 0n : number(ctx, `${m[2]}${m[3]}`, 16, "offset");
  return { reg: r, off: Number(BigInt.asIntN(16, off)) };
}

/** Split operands on commas outside brackets. */
function splitOperands(s: string): string[] {
  if (s.trim() === "") return [];
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "[") depth++;
    if (ch === "]") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

function count(ctx: Ctx, mnemonic: string, ops: readonly string[], n: number): void {
  if (ops.length !== n) {
    fail(ctx, "E_ASM_OPERANDS", `'${mnemonic}' takes ${n} operand${n === 1 ? "" : "s"}, found ${ops.length}`);
  }
}

function jumpTarget(
  ctx: Ctx,
  text: string | undefined,
  field: "off" | "imm",
): { value: number; fixup?: InsnFixup } {
  if (text === undefined) fail(ctx, "E_ASM_OPERANDS", "missing jump target");
  const t = text.trim();
  if (/^[+-]/.test(t)) return { value: Number(number(ctx, t, field === "off" ? 16 : 32, "jump offset")) };
  if (!/^[A-Za-z_.$][\w.$]*$/.test(t)) fail(ctx, "E_ASM_OPERAND", `invalid jump target '${t}'`, t);
  const col = ctx.line.lastIndexOf(t) + 1 || ctx.col;
  return { value: 0, fixup: { kind: "jump", target: labelName(t), field, col, display: t } };
}

function encodeLine(ctx: Ctx, mnemonic: string, ops: string[]): { insn: Instruction; fixup?: InsnFixup } {
  const m = mnemonic.toLowerCase();
  if (m === "exit") {
    count(ctx, m, ops, 0);
    return { insn: insn(CLASS.JMP | JMP_OPS.exit) };
  }
  if (m === "lddw") {
    count(ctx, m, ops, 2);
    const dst = reg(ctx, ops[0]);
    const v = BigInt.asUintN(64, number(ctx, ops[1], 64, "immediate"));
    return {
      insn: {
        opcode: 0x18,
        dst,
        src: 0,
        off: 0,
        imm: Number(BigInt.asIntN(32, v & 0xffffffffn)),
        wide: { opcode: 0, dst: 0, src: 0, off: 0, imm: Number(BigInt.asIntN(32, v >> 32n)) },
      },
    };
  }
  let mm = /^ldx(s?)(b|h|w|dw)$/.exec(m);
  if (mm) {
    count(ctx, m, ops, 2);
    if (mm[1] === "s" && mm[2] === "dw") fail(ctx, "E_ASM_MNEMONIC", `invalid mnemonic '${mnemonic}'`);
    const dst = reg(ctx, ops[0]);
    const a = mem(ctx, ops[1]);
    const mode = mm[1] === "s" ? MODE.MEMSX : MODE.MEM;
    return { insn: insn(CLASS.LDX | mode | MEM_SIZES[mm[2]], dst, a.reg, a.off, 0) };
  }
  mm = /^st(x?)(b|h|w|dw)$/.exec(m);
  if (mm) {
    count(ctx, m, ops, 2);
    const a = mem(ctx, ops[0]);
    if (mm[1] === "x")
      return { insn: insn(CLASS.STX | MODE.MEM | MEM_SIZES[mm[2]], a.reg, reg(ctx, ops[1]), a.off, 0) };
    return { insn: insn(CLASS.ST | MODE.MEM | MEM_SIZES[mm[2]], a.reg, 0, a.off, imm32(ctx, ops[1])) };
  }
  mm = /^(be|le|swap|bswap)(16|32|64)$/.exec(m);
  if (mm) {
    count(ctx, m, ops, 1);
    const dst = reg(ctx, ops[0]);
    const bits = Number(mm[2]);
    if (mm[1] === "be") return { insn: insn(CLASS.ALU | ALU_OPS.end | SRC_X, dst, 0, 0, bits) };
    if (mm[1] === "le") return { insn: insn(CLASS.ALU | ALU_OPS.end | SRC_K, dst, 0, 0, bits) };
    return { insn: insn(CLASS.ALU64 | ALU_OPS.end | SRC_K, dst, 0, 0, bits) };
  }
  mm = /^movsx(8|16|32)(32|64)$/.exec(m);
  if (mm) {
    count(ctx, m, ops, 2);
    if (mm[1] === "32" && mm[2] === "32") fail(ctx, "E_ASM_MNEMONIC", `invalid mnemonic '${mnemonic}'`);
    const cls = mm[2] === "32" ? CLASS.ALU : CLASS.ALU64;
    return { insn: insn(cls | ALU_OPS.mov | SRC_X, reg(ctx, ops[0]), reg(ctx, ops[1]), Number(mm[1]), 0) };
  }
  mm = /^neg(32)?$/.exec(m);
  if (mm) {
    count(ctx, m, ops, 1);
    return { insn: insn((mm[1] ? CLASS.ALU : CLASS.ALU64) | ALU_OPS.neg, reg(ctx, ops[0])) };
  }
  mm = /^([a-z]+?)(32)?$/.exec(m);
  if (mm && ALU[mm[1]]) {
    count(ctx, m, ops, 2);
    const a = ALU[mm[1]];
    const cls = mm[2] ? CLASS.ALU : CLASS.ALU64;
    const dst = reg(ctx, ops[0]);
    if (isReg(ops[1])) return { insn: insn(cls | a.op | SRC_X, dst, reg(ctx, ops[1]), a.off, 0) };
    return { insn: insn(cls | a.op | SRC_K, dst, 0, a.off, imm32(ctx, ops[1])) };
  }
  if (m === "ja" || m === "ja32") {
    count(ctx, m, ops, 1);
    if (m === "ja") {
      const t = jumpTarget(ctx, ops[0], "off");
      return { insn: insn(CLASS.JMP | JMP_OPS.ja, 0, 0, t.value, 0), fixup: t.fixup };
    }
    const t = jumpTarget(ctx, ops[0], "imm");
    return { insn: insn(CLASS.JMP32 | JMP_OPS.ja, 0, 0, 0, t.value), fixup: t.fixup };
  }
  if (mm && JMP[mm[1]] !== undefined) {
    count(ctx, m, ops, 3);
    const cls = mm[2] ? CLASS.JMP32 : CLASS.JMP;
    const dst = reg(ctx, ops[0]);
    const t = jumpTarget(ctx, ops[2], "off");
    if (isReg(ops[1])) {
      return { insn: insn(cls | JMP[mm[1]] | SRC_X, dst, reg(ctx, ops[1]), t.value, 0), fixup: t.fixup };
    }
    return { insn: insn(cls | JMP[mm[1]] | SRC_K, dst, 0, t.value, imm32(ctx, ops[1])), fixup: t.fixup };
  }
  fail(ctx, "E_ASM_MNEMONIC", `invalid mnemonic '${mnemonic}'`);
}

function callLine(ctx: Ctx, words: string[]): { insn: Instruction; fixup?: InsnFixup } {
  // call N | call helper N | call runtime N | call local label | call %rN
  if (words.length === 1) {
    if (isReg(words[0])) return { insn: insn(CLASS.JMP | JMP_OPS.call | SRC_X, reg(ctx, words[0])) };
    return { insn: insn(CLASS.JMP | JMP_OPS.call, 0, 0, 0, imm32(ctx, words[0], "helper id")) };
  }
  if (words.length !== 2)
    fail(ctx, "E_ASM_OPERANDS", "'call' takes a target (call N, call local label, call %rN)");
  const [mode, target] = words;
  if (mode === "helper")
    return { insn: insn(CLASS.JMP | JMP_OPS.call, 0, 0, 0, imm32(ctx, target, "helper id")) };
  if (mode === "runtime")
    return { insn: insn(CLASS.JMP | JMP_OPS.call, 0, 2, 0, imm32(ctx, target, "function id")) };
  if (mode === "local") {
    if (/^[+-]/.test(target)) {
      return { insn: insn(CLASS.JMP | JMP_OPS.call, 0, 1, 0, imm32(ctx, target, "call offset")) };
    }
    return {
      insn: insn(CLASS.JMP | JMP_OPS.call, 0, 1, 0, -1),
      fixup: { kind: "call", target: labelName(target), col: ctx.col, noRef: true, display: target },
    };
  }
  fail(ctx, "E_ASM_OPERAND", `invalid call mode '${mode}' (helper, local or runtime)`);
}

function lockLine(ctx: Ctx, rest: string): { insn: Instruction } {
  // lock [fetch] op[32] [%rN+off], %rM
  const words = rest.trim().split(/\s+/, 2);
  let fetch = false;
  let body = rest.trim();
  if (words[0] === "fetch") {
    fetch = true;
    body = body.slice(5).trim();
  }
  const sp = body.search(/\s/);
  if (body === "" || sp < 0)
    fail(ctx, "E_ASM_LOCK", "Invalid number of operands for lock (lock [fetch] op [%rN+off], %rM)");
  const op = body.slice(0, sp);
  const ops = splitOperands(body.slice(sp));
  if (ops.length !== 2)
    fail(ctx, "E_ASM_LOCK", "Invalid number of operands for lock (lock [fetch] op [%rN+off], %rM)");
  const m = /^(add|or|and|xor|xchg|cmpxchg)(32)?$/.exec(op);
  if (!m) fail(ctx, "E_ASM_LOCK", `invalid lock operation '${op}'`);
  let code: number;
  if (m[1] === "xchg") code = ATOMIC_OPS.xchg;
  else if (m[1] === "cmpxchg") code = ATOMIC_OPS.cmpxchg;
  else code = LOCK_OPS[m[1]] | (fetch ? ATOMIC_OPS.fetchAdd : 0);
  const a = mem(ctx, ops[0]);
  const src = reg(ctx, ops[1]);
  return { insn: insn(CLASS.STX | MODE.ATOMIC | (m[2] ? SIZE.W : SIZE.DW), a.reg, src, a.off, code) };
}

/** Assemble conformance-syntax text into the builder's .text; defines a global `main`. */
export function assembleConformance(b: AsmBuilder, source: string, file?: string): void {
  const labels = new Set<string>();
  let sawExit = false;
  let userExitLabel = false;
  const lines = source.split("\n");
  for (const raw of lines) {
    const l = raw.replace(/#.*$/, "").trim();
    if (/^exit\s*:/.test(l)) userExitLabel = true;
  }
  b.defineLabel("main", { file, line: 1 });
  b.setBind("main", ELF.STB_GLOBAL);
  b.setType("main", ELF.STT_FUNC);
  lines.forEach((raw, idx) => {
    const pos: SourcePos = { file, line: idx + 1 };
    let text = raw.replace(/\r$/, "");
    const hash = text.indexOf("#");
    if (hash >= 0) text = text.slice(0, hash);
    const lead = text.length - text.trimStart().length;
    text = text.trim();
    // Labels (possibly followed by an instruction on the same line).
    let lm = /^([A-Za-z_.$][\w.$]*)\s*:\s*/.exec(text);
    while (lm) {
      const name = lm[1];
      if (labels.has(name)) throw asmError("E_ASM_LABEL", `duplicate label '${name}'`, pos, lead + 1);
      labels.add(name);
      b.defineLabel(labelName(name), pos, lead + 1);
      text = text.slice(lm[0].length);
      lm = /^([A-Za-z_.$][\w.$]*)\s*:\s*/.exec(text);
    }
    if (text === "") return;
    const ctx: Ctx = { pos, col: lead + 1, line: raw };
    const sp = text.search(/\s/);
    const mnemonic = sp < 0 ? text : text.slice(0, sp);
    const rest = sp < 0 ? "" : text.slice(sp);
    if (!/^[A-Za-z][A-Za-z0-9]*$/.test(mnemonic))
      fail(ctx, "E_ASM_MNEMONIC", `invalid mnemonic '${mnemonic}'`);
    let out: { insn: Instruction; fixup?: InsnFixup };
    if (mnemonic === "lock") out = lockLine(ctx, rest);
    else if (mnemonic === "call")
      out = callLine(
        ctx,
        rest
          .trim()
          .split(/\s+/)
          .filter((w) => w !== ""),
      );
    else if (mnemonic === "callx") {
      const ops = splitOperands(rest);
      count(ctx, mnemonic, ops, 1);
      out = { insn: insn(CLASS.JMP | JMP_OPS.call | SRC_X, reg(ctx, ops[0])) };
    } else out = encodeLine(ctx, mnemonic, splitOperands(rest));
    if (mnemonic === "exit" && !sawExit && !userExitLabel) {
      b.defineLabel(labelName("exit"), pos);
      sawExit = true;
    }
    b.addInsn(out.insn, pos, out.fixup);
  });
  b.setSize("main", { sym: ".Lmain_end", sub: "main", add: 0n });
  b.defineLabel(".Lmain_end", { file, line: lines.length });
}
