/**
 * One instruction in LLVM's BPF assembly syntax (what `clang -S -target bpf` writes and
 * `llvm-mc -triple bpfel` reads), e.g. `r1 = *(u32 *)(r1 + 8)`, `if w1 == 5 goto +2`,
 * `lock *(u64 *)(r1 + 0) += r2`, `r1 = map ll`. The accepted forms and their operand widths were
 * established by running llvm-mc-19 on each form; where llvm-mc silently truncates an immediate
 * that does not fit its field, we refuse it instead.
 */
import { type Instruction, insn } from "../instruction.js";
import { ALU_OPS, ATOMIC_OPS, CLASS, JMP_OPS, MODE, SIZE, SRC_K, SRC_X } from "../opcodes.js";
import { Cursor, parseExpr } from "./expr.js";
import { asmError, type SourcePos, type Token } from "./lexer.js";
import type { Expr, InsnFixup } from "./module.js";

export interface ParsedInsn {
  readonly insn: Instruction;
  readonly fixup?: InsnFixup;
}

interface Reg {
  readonly n: number;
  /** true for rN (64-bit view), false for wN (32-bit view). */
  readonly wide: boolean;
  readonly col: number;
}

/** LLVM's BPF register file: r0..r11 (r11 is internal but llvm-mc accepts it). */
export const MAX_REG = 11;

/**
 * A register token. llvm-mc matches the statement's first token case-insensitively (`R1 = 2`,
 * `EXIT`) and every later one exactly (`r1 = R2` reads R2 as a symbol), and so do we.
 */
export function regOf(t: Token | undefined, first = false): { n: number; wide: boolean } | undefined {
  if (t?.kind !== "ident") return undefined;
  const m = (first ? /^([rRwW])([0-9]+)$/ : /^([rw])([0-9]+)$/).exec(t.text);
  if (!m) return undefined;
  return { n: Number(m[2]), wide: m[1] === "r" || m[1] === "R" };
}

const ALU_ASSIGN: Readonly<Record<string, { op: number; off: number }>> = {
  "+=": { op: ALU_OPS.add, off: 0 },
  "-=": { op: ALU_OPS.sub, off: 0 },
  "*=": { op: ALU_OPS.mul, off: 0 },
  "/=": { op: ALU_OPS.div, off: 0 },
  "|=": { op: ALU_OPS.or, off: 0 },
  "&=": { op: ALU_OPS.and, off: 0 },
  "<<=": { op: ALU_OPS.lsh, off: 0 },
  ">>=": { op: ALU_OPS.rsh, off: 0 },
  "%=": { op: ALU_OPS.mod, off: 0 },
  "^=": { op: ALU_OPS.xor, off: 0 },
  "s>>=": { op: ALU_OPS.arsh, off: 0 },
  "s/=": { op: ALU_OPS.div, off: 1 },
  "s%=": { op: ALU_OPS.mod, off: 1 },
};

const JMP_COND: Readonly<Record<string, number>> = {
  "==": JMP_OPS.jeq,
  "!=": JMP_OPS.jne,
  ">": JMP_OPS.jgt,
  ">=": JMP_OPS.jge,
  "<": JMP_OPS.jlt,
  "<=": JMP_OPS.jle,
  "&": JMP_OPS.jset,
  "s>": JMP_OPS.jsgt,
  "s>=": JMP_OPS.jsge,
  "s<": JMP_OPS.jslt,
  "s<=": JMP_OPS.jsle,
};

const LOCK_OPS: Readonly<Record<string, number>> = {
  "+=": ATOMIC_OPS.add,
  "|=": ATOMIC_OPS.or,
  "&=": ATOMIC_OPS.and,
  "^=": ATOMIC_OPS.xor,
};

const FETCH_OPS: Readonly<Record<string, number>> = {
  atomic_fetch_add: ATOMIC_OPS.fetchAdd,
  atomic_fetch_or: ATOMIC_OPS.fetchOr,
  atomic_fetch_and: ATOMIC_OPS.fetchAnd,
  atomic_fetch_xor: ATOMIC_OPS.fetchXor,
};

const SIZES: Readonly<Record<string, number>> = { 8: SIZE.B, 16: SIZE.H, 32: SIZE.W, 64: SIZE.DW };

const ENDIAN = /^(be|le|bswap)(16|32|64)$/;

class InsnParser {
  constructor(readonly c: Cursor) {}

  get pos(): SourcePos {
    return this.c.pos;
  }

  fail(code: string, message: string, col?: number): never {
    throw asmError(code, message, this.pos, col ?? this.c.col());
  }

  reg(what = "a register"): Reg {
    const t = this.c.peek();
    const r = regOf(t, this.c.i === 0);
    if (!r || !t) {
      this.fail("E_ASM_REGISTER", `expected ${what}${t ? `, found '${t.text}'` : " at end of line"}`);
    }
    if (r.n > MAX_REG)
      this.fail("E_ASM_REGISTER", `bad register '${t.text}' (r0..r${MAX_REG} or w0..w${MAX_REG})`);
    this.c.next();
    return { ...r, col: t.col };
  }

  isReg(k = 0): boolean {
    return regOf(this.c.peek(k), this.c.i + k === 0) !== undefined;
  }

  wideReg(what: string): Reg {
    const r = this.reg(what);
    if (!r.wide)
      this.fail("E_ASM_REGISTER", `${what} must be a 64-bit register (r${r.n}), not w${r.n}`, r.col);
    return r;
  }

  /** A constant expression in [lo, hi]. */
  constant(lo: bigint, hi: bigint, what: string): bigint {
    const col = this.c.col();
    const e = parseExpr(this.c);
    if (e.sym !== undefined) this.fail("E_ASM_EXPR", `${what} must be a constant, not a symbol`, col);
    if (e.add < lo || e.add > hi) {
      this.fail("E_ASM_RANGE", `${what} ${e.add} is out of range [${lo}, ${hi}]`, col);
    }
    return e.add;
  }

  /** A 32-bit immediate: any value whose two's complement fits 32 bits (signed or unsigned spelling). */
  imm32(what = "immediate"): number {
    return Number(BigInt.asIntN(32, this.constant(-0x80000000n, 0xffffffffn, what)));
  }

  /** `(rN + off)` / `(rN - off)`: base register and signed 16-bit offset. */
  memRef(close = true): { base: Reg; off: number } {
    this.c.expectOp("(", "before the address");
    const base = this.wideReg("base register");
    let sign = 0n;
    if (this.c.eatOp("+")) sign = 1n;
    else if (this.c.eatOp("-")) sign = -1n;
    else this.fail("E_ASM_SYNTAX", "expected '+ offset' or '- offset' after the base register");
    const col = this.c.col();
    const t = this.c.peek();
    if (t?.kind === "op" && (t.text === "-" || t.text === "+")) {
      this.fail("E_ASM_RANGE", "offset must be written as '+ N' or '- N' with N >= 0", col);
    }
    const e = parseExpr(this.c);
    if (e.sym !== undefined) this.fail("E_ASM_EXPR", "offset must be a constant", col);
    const off = sign * e.add;
    if (off < -0x8000n || off > 0x7fffn)
      this.fail("E_ASM_RANGE", `offset ${off} is out of range [-32768, 32767]`, col);
    if (close) this.c.expectOp(")", "after the offset");
    return { base, off: Number(off) };
  }

  /** `(u8 *)` style cast: returns the bit width and signedness. */
  cast(allowSigned: boolean): { bits: number; signed: boolean; col: number } {
    this.c.expectOp("(", "to open the size cast");
    const t = this.c.next();
    const m = t?.kind === "ident" ? /^([us])(8|16|32|64)$/.exec(t.text) : null;
    if (!m || !t)
      this.fail(
        "E_ASM_SYNTAX",
        `expected a size (u8, u16, u32, u64${allowSigned ? ", s8, s16, s32" : ""})`,
        t?.col,
      );
    const signed = m[1] === "s";
    if (signed && (!allowSigned || m[2] === "64"))
      this.fail("E_ASM_SYNTAX", `'${t.text}' is not allowed here`, t.col);
    this.c.expectOp("*", "in the size cast");
    this.c.expectOp(")", "to close the size cast");
    return { bits: Number(m[2]), signed, col: t.col };
  }

  /** Branch target: `+N`, `-N`, `N` or a label. */
  target(field: "off" | "imm"): { value: number; fixup?: InsnFixup } {
    const t = this.c.peek();
    if (t?.kind === "ident" && !this.isReg()) {
      this.c.next();
      return { value: 0, fixup: { kind: "jump", target: t.text, field, col: t.col } };
    }
    const [lo, hi] = field === "off" ? [-0x8000n, 0x7fffn] : [-0x80000000n, 0x7fffffffn];
    return { value: Number(this.constant(lo, hi, "jump offset")) };
  }

  parse(): ParsedInsn {
    const c = this.c;
    const first = c.peek();
    if (!first) this.fail("E_ASM_SYNTAX", "empty instruction");
    if (first.kind === "ident" && !this.isReg()) {
      const word = first.text.toLowerCase();
      switch (word) {
        case "exit":
          c.next();
          c.expectEnd();
          return { insn: insn(CLASS.JMP | JMP_OPS.exit) };
        case "goto":
        case "may_goto": {
          c.next();
          const t = this.target("off");
          c.expectEnd();
          const op = word === "goto" ? JMP_OPS.ja : JMP_OPS.jcond;
          return { insn: insn(CLASS.JMP | op, 0, 0, t.value, 0), fixup: t.fixup };
        }
        case "gotol": {
          c.next();
          const t = this.target("imm");
          c.expectEnd();
          return { insn: insn(CLASS.JMP32 | JMP_OPS.ja, 0, 0, 0, t.value), fixup: t.fixup };
        }
        case "call":
          return this.call();
        case "callx": {
          c.next();
          const r = this.wideReg("call target register");
          c.expectEnd();
          return { insn: insn(CLASS.JMP | JMP_OPS.call | SRC_X, r.n) };
        }
        case "if":
          return this.cond();
        case "lock":
          return this.lock();
        case "ld_pseudo":
          return this.ldPseudo();
        default:
          this.fail("E_ASM_MNEMONIC", `unknown instruction '${first.text}'`, first.col);
      }
    }
    if (first.kind === "op" && first.text === "*") return this.store();
    if (this.isReg()) return this.assign();
    this.fail("E_ASM_SYNTAX", `unexpected '${first.text}' at the start of an instruction`, first.col);
  }

  /**
   * `ld_pseudo rD, SRC, IMM`: an ld_imm64 with a pseudo source register (map fd, BTF id...).
   * llvm-mc encodes only the low word of IMM (the high word is 0); a symbol crashes it.
   */
  ldPseudo(): ParsedInsn {
    const c = this.c;
    c.next();
    const dst = this.wideReg("destination register");
    c.expectOp(",", "after the destination register");
    const src = Number(this.constant(0n, 15n, "pseudo source"));
    c.expectOp(",", "after the pseudo source");
    const imm = this.imm32();
    c.expectEnd();
    return {
      insn: {
        opcode: 0x18,
        dst: dst.n,
        src,
        off: 0,
        imm,
        wide: { opcode: 0, dst: 0, src: 0, off: 0, imm: 0 },
      },
    };
  }

  call(): ParsedInsn {
    const c = this.c;
    c.next();
    const t = c.peek();
    if (this.isReg()) this.fail("E_ASM_SYNTAX", "call through a register is written 'callx rN'");
    if (t?.kind === "ident") {
      const col = c.col();
      const e = parseExpr(c);
      c.expectEnd();
      if (e.sym === undefined || e.sub !== undefined || e.add !== 0n) {
        this.fail("E_ASM_EXPR", "call target must be a number or a function name", col);
      }
      return {
        insn: insn(CLASS.JMP | JMP_OPS.call, 0, 1, 0, -1),
        fixup: { kind: "call", target: e.sym, col },
      };
    }
    const imm = this.imm32("helper id");
    c.expectEnd();
    return { insn: insn(CLASS.JMP | JMP_OPS.call, 0, 0, 0, imm) };
  }

  cond(): ParsedInsn {
    const c = this.c;
    c.next();
    const dst = this.reg("the register to compare");
    const opTok = c.next();
    const code = opTok?.kind === "op" ? JMP_COND[opTok.text] : undefined;
    if (code === undefined || !opTok) {
      this.fail(
        "E_ASM_SYNTAX",
        `expected a comparison (==, !=, >, >=, <, <=, &, s>, s>=, s<, s<=)`,
        opTok?.col,
      );
    }
    const cls = dst.wide ? CLASS.JMP : CLASS.JMP32;
    let src = 0;
    let imm = 0;
    let srcBit = SRC_K;
    if (this.isReg()) {
      const r = this.reg();
      if (r.wide !== dst.wide)
        this.fail("E_ASM_REGISTER", "both registers of a comparison must have the same width", r.col);
      src = r.n;
      srcBit = SRC_X;
    } else {
      imm = this.imm32();
    }
    if (!c.isIdent("goto")) this.fail("E_ASM_SYNTAX", "expected 'goto' after the comparison");
    c.next();
    const t = this.target("off");
    c.expectEnd();
    return { insn: insn(cls | code | srcBit, dst.n, src, t.value, imm), fixup: t.fixup };
  }

  lock(): ParsedInsn {
    const c = this.c;
    c.next();
    c.expectOp("*", "after 'lock'");
    const cast = this.cast(false);
    if (cast.bits !== 32 && cast.bits !== 64)
      this.fail("E_ASM_LOCK", "lock operations are 32 or 64 bits wide", cast.col);
    const { base, off } = this.memRef();
    const opTok = c.next();
    const aop = opTok?.kind === "op" ? LOCK_OPS[opTok.text] : undefined;
    if (aop === undefined || !opTok)
      this.fail("E_ASM_LOCK", "expected +=, |=, &= or ^= in a lock instruction", opTok?.col);
    const src = this.reg("source register");
    if (cast.bits === 64 && !src.wide)
      this.fail("E_ASM_REGISTER", "a 64-bit lock operation needs an r register", src.col);
    // llvm-mc takes `lock *(u32 *)... += rN` (the old XADDW spelling) but only w for |= &= ^=.
    if (cast.bits === 32 && src.wide && aop !== ATOMIC_OPS.add) {
      this.fail("E_ASM_REGISTER", `a 32-bit lock ${opTok.text} needs a w register`, src.col);
    }
    c.expectEnd();
    return { insn: insn(CLASS.STX | MODE.ATOMIC | SIZES[cast.bits], base.n, src.n, off, aop) };
  }

  store(): ParsedInsn {
    const c = this.c;
    c.next();
    const cast = this.cast(false);
    const { base, off } = this.memRef();
    c.expectOp("=", "in the store");
    const size = SIZES[cast.bits];
    if (this.isReg()) {
      const src = this.reg("source register");
      if (cast.bits === 64 && !src.wide)
        this.fail("E_ASM_REGISTER", "a 64-bit store needs an r register", src.col);
      c.expectEnd();
      return { insn: insn(CLASS.STX | MODE.MEM | size, base.n, src.n, off, 0) };
    }
    const imm = this.imm32();
    c.expectEnd();
    return { insn: insn(CLASS.ST | MODE.MEM | size, base.n, 0, off, imm) };
  }

  assign(): ParsedInsn {
    const c = this.c;
    const dst = this.reg();
    const cls = dst.wide ? CLASS.ALU64 : CLASS.ALU;
    const opTok = c.next();
    if (opTok?.kind !== "op")
      this.fail("E_ASM_SYNTAX", "expected an assignment operator after the register", opTok?.col);
    const alu = ALU_ASSIGN[opTok.text];
    if (alu) {
      if (this.isReg()) {
        const src = this.reg();
        if (src.wide !== dst.wide)
          this.fail("E_ASM_REGISTER", "both registers must have the same width", src.col);
        c.expectEnd();
        return { insn: insn(cls | alu.op | SRC_X, dst.n, src.n, alu.off, 0) };
      }
      const imm = this.imm32();
      c.expectEnd();
      return { insn: insn(cls | alu.op | SRC_K, dst.n, 0, alu.off, imm) };
    }
    if (opTok.text !== "=") this.fail("E_ASM_SYNTAX", `unknown operator '${opTok.text}'`, opTok.col);
    const t = c.peek();
    if (!t) this.fail("E_ASM_SYNTAX", "expected a value after '='");
    // r1 = -r1 (neg)
    if (t.kind === "op" && t.text === "-" && this.isReg(1)) {
      c.next();
      const src = this.reg();
      if (src.n !== dst.n || src.wide !== dst.wide)
        this.fail("E_ASM_REGISTER", "negation is written 'rN = -rN' (same register)", src.col);
      c.expectEnd();
      return { insn: insn(cls | ALU_OPS.neg | SRC_K, dst.n) };
    }
    // r1 = (s8)r2 (movsx)
    if (t.kind === "op" && t.text === "(") {
      c.next();
      const s = c.next();
      const m = s?.kind === "ident" ? /^s(8|16|32)$/.exec(s.text) : null;
      if (!m || !s)
        this.fail("E_ASM_SYNTAX", "expected (s8), (s16) or (s32) before the source register", s?.col);
      c.expectOp(")", "after the cast");
      const src = this.reg();
      const bits = Number(m[1]);
      if (src.wide !== dst.wide)
        this.fail("E_ASM_REGISTER", "both registers must have the same width", src.col);
      if (!dst.wide && bits === 32)
        this.fail("E_ASM_SYNTAX", "(s32) sign extension needs r registers", s.col);
      c.expectEnd();
      return { insn: insn(cls | ALU_OPS.mov | SRC_X, dst.n, src.n, bits, 0) };
    }
    if (t.kind === "op" && t.text === "*") {
      c.next();
      return this.load(dst);
    }
    if (t.kind === "ident" && !this.isReg()) {
      const word = t.text;
      const em = ENDIAN.exec(word);
      if (em && this.isReg(1)) return this.endian(dst, em[1], Number(em[2]));
      if (word in FETCH_OPS) return this.fetch(dst, FETCH_OPS[word]);
      if (word === "xchg_64" || word === "xchg32_32") return this.xchg(dst, word === "xchg_64");
      if (word === "cmpxchg_64" || word === "cmpxchg32_32") return this.cmpxchg(dst, word === "cmpxchg_64");
      if (word === "addr_space_cast") return this.addrSpaceCast(dst);
    }
    if (this.isReg()) {
      const src = this.reg();
      c.expectEnd();
      // clang writes `rX = wY` for a 32-bit move that zero-extends into rX; llvm-mc only reads
      // `wX = wY`, which is the same instruction.
      if (dst.wide && !src.wide) return { insn: insn(CLASS.ALU | ALU_OPS.mov | SRC_X, dst.n, src.n) };
      if (src.wide !== dst.wide)
        this.fail("E_ASM_REGISTER", "both registers must have the same width", src.col);
      return { insn: insn(cls | ALU_OPS.mov | SRC_X, dst.n, src.n) };
    }
    // Immediate or `... ll` (ld_imm64).
    const col = c.col();
    const e = parseExpr(c);
    if (c.isIdent("ll")) {
      c.next();
      c.expectEnd();
      if (!dst.wide) this.fail("E_ASM_REGISTER", "a 64-bit load ('ll') needs an r register", dst.col);
      return this.ldImm64(dst.n, e, col);
    }
    c.expectEnd();
    if (e.sym !== undefined)
      this.fail("E_ASM_EXPR", `symbol '${e.sym}' needs 'll' (64-bit load of an address)`, col);
    if (e.add < -0x80000000n || e.add > 0xffffffffn) {
      this.fail(
        "E_ASM_RANGE",
        `immediate ${e.add} is out of range [-2147483648, 4294967295] (use 'll' for 64 bits)`,
        col,
      );
    }
    return { insn: insn(cls | ALU_OPS.mov | SRC_K, dst.n, 0, 0, Number(BigInt.asIntN(32, e.add))) };
  }

  ldImm64(dst: number, e: Expr, col: number): ParsedInsn {
    if (e.sub !== undefined)
      this.fail("E_ASM_EXPR", "a 64-bit load takes a number or a symbol plus offset", col);
    if (e.sym !== undefined) {
      return {
        insn: {
          opcode: 0x18,
          dst,
          src: 0,
          off: 0,
          imm: 0,
          wide: { opcode: 0, dst: 0, src: 0, off: 0, imm: 0 },
        },
        fixup: { kind: "ldimm", target: e.sym, addend: e.add, col },
      };
    }
    if (e.add < -(1n << 63n) || e.add >= 1n << 64n)
      this.fail("E_ASM_RANGE", `immediate ${e.add} does not fit in 64 bits`, col);
    const v = BigInt.asUintN(64, e.add);
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

  load(dst: Reg): ParsedInsn {
    const c = this.c;
    const cast = this.cast(true);
    const size = SIZES[cast.bits];
    if (c.isIdent("skb")) {
      c.next();
      if (!dst.wide || dst.n !== 0) this.fail("E_ASM_REGISTER", "packet loads (skb[...]) write r0", dst.col);
      if (cast.signed || cast.bits === 64)
        this.fail("E_ASM_SYNTAX", "packet loads are u8, u16 or u32", cast.col);
      c.expectOp("[", "after skb");
      if (this.isReg()) {
        const r = this.wideReg("index register");
        c.expectOp("]", "after the index register");
        c.expectEnd();
        return { insn: insn(CLASS.LD | MODE.IND | size, 0, r.n, 0, 0) };
      }
      const imm = this.imm32("packet offset");
      c.expectOp("]", "after the packet offset");
      c.expectEnd();
      return { insn: insn(CLASS.LD | MODE.ABS | size, 0, 0, 0, imm) };
    }
    const { base, off } = this.memRef();
    c.expectEnd();
    if (cast.signed) {
      if (!dst.wide) this.fail("E_ASM_REGISTER", "sign-extending loads need an r register", dst.col);
      return { insn: insn(CLASS.LDX | MODE.MEMSX | size, dst.n, base.n, off, 0) };
    }
    if (!dst.wide && cast.bits === 64)
      this.fail("E_ASM_REGISTER", "a 64-bit load needs an r register", dst.col);
    return { insn: insn(CLASS.LDX | MODE.MEM | size, dst.n, base.n, off, 0) };
  }

  endian(dst: Reg, kind: string, bits: number): ParsedInsn {
    const c = this.c;
    c.next();
    const src = this.reg();
    c.expectEnd();
    if (!dst.wide || !src.wide) this.fail("E_ASM_REGISTER", `${kind}${bits} works on r registers`, dst.col);
    if (src.n !== dst.n)
      this.fail(
        "E_ASM_REGISTER",
        `${kind}${bits} is written 'rN = ${kind}${bits} rN' (same register)`,
        src.col,
      );
    if (kind === "bswap") return { insn: insn(CLASS.ALU64 | ALU_OPS.end | SRC_K, dst.n, 0, 0, bits) };
    // BPF_TO_LE is source bit 0, BPF_TO_BE source bit 1 of the ALU class.
    return { insn: insn(CLASS.ALU | ALU_OPS.end | (kind === "be" ? SRC_X : SRC_K), dst.n, 0, 0, bits) };
  }

  fetch(dst: Reg, op: number): ParsedInsn {
    const c = this.c;
    c.next();
    c.expectOp("(", "after the atomic operation");
    const cast = this.cast(false);
    if (cast.bits !== 32 && cast.bits !== 64)
      this.fail("E_ASM_LOCK", "atomic operations are 32 or 64 bits wide", cast.col);
    const { base, off } = this.memRef();
    c.expectOp(",", "between the address and the value");
    const src = this.reg("value register");
    c.expectOp(")", "to close the atomic operation");
    c.expectEnd();
    const wide = cast.bits === 64;
    if (src.wide !== wide || dst.wide !== wide) {
      this.fail(
        "E_ASM_REGISTER",
        `a ${cast.bits}-bit atomic operation uses ${wide ? "r" : "w"} registers`,
        src.col,
      );
    }
    if (src.n !== dst.n)
      this.fail("E_ASM_REGISTER", "the result register must be the value register", src.col);
    return { insn: insn(CLASS.STX | MODE.ATOMIC | SIZES[cast.bits], base.n, src.n, off, op) };
  }

  xchg(dst: Reg, wide: boolean): ParsedInsn {
    const c = this.c;
    c.next();
    // xchg_64(r1 + 0, r2): the call's parentheses enclose the address.
    const { base, off } = this.memRef(false);
    c.expectOp(",", "between the address and the value");
    const src = this.reg("value register");
    c.expectOp(")", "to close the exchange");
    c.expectEnd();
    if (src.wide !== wide || dst.wide !== wide)
      this.fail("E_ASM_REGISTER", `operands must be ${wide ? "r" : "w"} registers`, src.col);
    if (src.n !== dst.n)
      this.fail("E_ASM_REGISTER", "the result register must be the value register", src.col);
    return {
      insn: insn(CLASS.STX | MODE.ATOMIC | (wide ? SIZE.DW : SIZE.W), base.n, src.n, off, ATOMIC_OPS.xchg),
    };
  }

  /** `rD = addr_space_cast(rS, dst_as, src_as)`: ALU64 mov with off 1, imm = dst_as << 16 | src_as. */
  addrSpaceCast(dst: Reg): ParsedInsn {
    const c = this.c;
    c.next();
    c.expectOp("(", "after addr_space_cast");
    const src = this.wideReg("source register");
    c.expectOp(",", "after the source register");
    const to = this.constant(0n, 0xffffn, "destination address space");
    c.expectOp(",", "after the destination address space");
    const from = this.constant(0n, 0xffffn, "source address space");
    c.expectOp(")", "to close addr_space_cast");
    c.expectEnd();
    if (!dst.wide) this.fail("E_ASM_REGISTER", "addr_space_cast works on r registers", dst.col);
    return { insn: insn(CLASS.ALU64 | ALU_OPS.mov | SRC_X, dst.n, src.n, 1, Number((to << 16n) | from) | 0) };
  }

  cmpxchg(dst: Reg, wide: boolean): ParsedInsn {
    const c = this.c;
    c.next();
    const { base, off } = this.memRef(false);
    c.expectOp(",", "after the address");
    const cmp = this.reg("compare register");
    c.expectOp(",", "after the compare register");
    const src = this.reg("new value register");
    c.expectOp(")", "to close the compare-exchange");
    c.expectEnd();
    if (src.wide !== wide || dst.wide !== wide || cmp.wide !== wide) {
      this.fail("E_ASM_REGISTER", `operands must be ${wide ? "r" : "w"} registers`, src.col);
    }
    if (dst.n !== 0 || cmp.n !== 0)
      this.fail("E_ASM_REGISTER", "compare-exchange compares and returns r0 (w0)", cmp.col);
    return {
      insn: insn(CLASS.STX | MODE.ATOMIC | (wide ? SIZE.DW : SIZE.W), base.n, src.n, off, ATOMIC_OPS.cmpxchg),
    };
  }
}

/** Parse one LLVM-syntax instruction statement. */
export function parseLlvmInsn(toks: readonly Token[], pos: SourcePos, endCol: number): ParsedInsn {
  return new InsnParser(new Cursor(toks, pos, endCol)).parse();
}
