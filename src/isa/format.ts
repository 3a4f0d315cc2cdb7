/**
 * Instruction text exactly as llvm-objdump-19 prints it for BPF (its "print immediates in hex"
 * default). The decode rules mirror what LLVM 19's BPF disassembler accepts, measured against
 * llvm-objdump-19 on every opcode byte with random fields: a field an LLVM instruction does not
 * encode is ignored, a field it pins (e.g. `off` of most ALU ops) must match, and a register
 * field above r11 makes the whole slot `<unknown>`. The mcpu only matters through ALU32
 * (v3 and up): 8/16/32-bit loads, stores and 32-bit atomics then name `w` registers.
 */
import { type Instruction, OP_LD_IMM64 } from "./instruction.js";

export type Mcpu = "v1" | "v2" | "v3" | "v4";
export const MCPUS: readonly Mcpu[] = ["v1", "v2", "v3", "v4"];

export interface FormatOptions {
  /** CPU version as given to `llvm-objdump --mcpu`; default (none) behaves like v1. */
  readonly mcpu?: Mcpu;
}

/** The text llvm-objdump prints for a slot it cannot decode. */
export const UNKNOWN_TEXT = "<unknown>";

/** Does this mcpu turn on LLVM's ALU32 feature (w-register sub-word loads/stores/atomics)? */
export function hasAlu32(mcpu: Mcpu | undefined): boolean {
  return mcpu === "v3" || mcpu === "v4";
}

const R: readonly string[] = Array.from({ length: 12 }, (_, i) => `r${i}`);
const W: readonly string[] = Array.from({ length: 12 }, (_, i) => `w${i}`);

/** LLVM's formatImm in hex mode for a signed value that fits a double exactly. */
export function hexImm(v: number): string {
  return v < 0 ? "-0x" + (-v).toString(16) : "0x" + v.toString(16);
}

/** The signed 64-bit value hi:lo in LLVM's hex spelling (lo taken unsigned, hi signed). */
export function hexImm64(lo: number, hi: number): string {
  const l = lo >>> 0;
  const h = hi | 0;
  if (h === 0) return "0x" + l.toString(16);
  if (h > 0) return "0x" + h.toString(16) + l.toString(16).padStart(8, "0");
  return "-0x" + (-((BigInt(h) << 32n) + BigInt(l))).toString(16);
}

/**
 * How operands are spelled: llvm-objdump prints immediates in hex, the assembly printer (clang
 * -S) in decimal and names branch/call targets and ld_imm64 symbols instead of numbers.
 */
export interface OperandStyle {
  /** A 32-bit immediate. */
  imm(v: number): string;
  /** The 64-bit immediate of ld_imm64, from its two words. */
  imm64(lo: number, hi: number): string;
  /** A memory displacement with its sign: " + 0x10" / " - 8". */
  disp(off: number): string;
  /** A branch displacement: "+0x3" / "-7". */
  br(v: number): string;
}

export const OBJDUMP_STYLE: OperandStyle = {
  imm: hexImm,
  imm64: hexImm64,
  disp: (off) => (off < 0 ? " - 0x" + (-off).toString(16) : " + 0x" + off.toString(16)),
  br: (v) => (v < 0 ? "-0x" + (-v).toString(16) : "+0x" + v.toString(16)),
};

export const ASM_STYLE: OperandStyle = {
  imm: (v) => String(v),
  imm64: (lo, hi) => String((BigInt(hi | 0) << 32n) + BigInt(lo >>> 0)),
  disp: (off) => (off < 0 ? " - " + String(-off) : " + " + String(off)),
  br: (v) => (v < 0 ? String(v) : "+" + String(v)),
};

/** Replacements for numeric operands (assembly printing): a label or symbol instead. */
export interface SymbolicOperands {
  /** The branch target (jumps) or callee (call) name. */
  readonly target?: string;
  /** The ld_imm64 value spelled as a symbol expression ("map", "data + 8"). */
  readonly value?: string;
}

// Operator of each ALU op code (opcode >> 4), "" where the op has its own shape.
const ALU_OP: readonly string[] = [
  "+=",
  "-=",
  "*=",
  "/=",
  "|=",
  "&=",
  "<<=",
  ">>=",
  "",
  "%=",
  "^=",
  "",
  "s>>=",
  "",
  "",
  "",
];
// Operator of each conditional jump code (opcode >> 4), "" for the non-conditional ones.
const JMP_OP: readonly string[] = [
  "",
  "==",
  ">",
  ">=",
  "&",
  "!=",
  "s>",
  "s>=",
  "",
  "",
  "<",
  "<=",
  "s<",
  "s<=",
  "",
  "",
];
const SIZE_NAME: readonly string[] = ["u32", "u16", "u8", "u64"];
const SSIZE_NAME: readonly string[] = ["s32", "s16", "s8", ""];
const ATOMIC_OP: Readonly<Record<number, string>> = { 0: "+", 4: "|", 5: "&", 10: "^" };
const FETCH_NAME: Readonly<Record<number, string>> = { 0: "add", 4: "or", 5: "and", 10: "xor" };

/**
 * Text of one instruction from its raw fields, or undefined when LLVM 19 cannot decode it.
 * `hi` is the immediate of the second slot of an ld_imm64 (undefined: the slot is missing).
 */
export function llvmInsnText(
  opcode: number,
  dst: number,
  src: number,
  off: number,
  imm: number,
  hi: number | undefined,
  alu32: boolean,
  style: OperandStyle = OBJDUMP_STYLE,
  sym?: SymbolicOperands,
): string | undefined {
  const cls = opcode & 7;
  const code = opcode >> 4;
  const x = (opcode & 8) !== 0;
  switch (cls) {
    case 4: // ALU
    case 7: {
      // ALU64
      if (dst > 11) return undefined;
      const regs = cls === 7 ? R : W;
      const d = regs[dst];
      switch (code) {
        case 0x8: // neg: only dst is encoded
          return x ? undefined : d + " = -" + d;
        case 0xd: {
          // le/be (ALU) and bswap (ALU64 K): only dst and imm are encoded.
          if (imm !== 16 && imm !== 32 && imm !== 64) return undefined;
          if (cls === 7) return x ? undefined : R[dst] + " = bswap" + imm + " " + R[dst];
          return R[dst] + " = " + (x ? "be" : "le") + imm + " " + R[dst];
        }
        case 0xe:
        case 0xf:
          return undefined;
        case 0xb: {
          // mov
          if (!x) return off === 0 ? d + " = " + style.imm(imm) : undefined;
          if (src > 11) return undefined;
          const s = regs[src];
          if (off === 0) return d + " = " + s;
          if (off === 8 || off === 16 || (off === 32 && cls === 7)) return d + " = (s" + off + ")" + s;
          if (off === 1 && cls === 7)
            return (
              d +
              " = addr_space_cast(" +
              s +
              ", " +
              style.imm(imm >>> 16) +
              ", " +
              style.imm(imm & 0xffff) +
              ")"
            );
          return undefined;
        }
        default: {
          let op = ALU_OP[code];
          if (off !== 0) {
            // sdiv/smod are div/mod with off = 1
            if (off !== 1 || (code !== 0x3 && code !== 0x9)) return undefined;
            op = "s" + op;
          }
          if (!x) return d + " " + op + " " + style.imm(imm);
          if (src > 11) return undefined;
          return d + " " + op + " " + regs[src];
        }
      }
    }
    case 5: // JMP
    case 6: {
      // JMP32
      const op = JMP_OP[code];
      if (op !== "") {
        if (dst > 11) return undefined;
        const regs = cls === 5 ? R : W;
        if (x) {
          if (src > 11) return undefined;
          return "if " + regs[dst] + " " + op + " " + regs[src] + " goto " + (sym?.target ?? style.br(off));
        }
        return (
          "if " + regs[dst] + " " + op + " " + style.imm(imm) + " goto " + (sym?.target ?? style.br(off))
        );
      }
      if (cls === 6) return opcode === 0x06 ? "gotol " + (sym?.target ?? style.br(imm)) : undefined;
      switch (opcode) {
        case 0x05:
          return "goto " + (sym?.target ?? style.br(off));
        case 0x85:
          return "call " + (sym?.target ?? style.imm(imm));
        case 0x8d:
          return dst > 11 ? undefined : "callx " + R[dst];
        case 0x95:
          return imm === 0 ? "exit" : undefined;
        case 0xe5:
          return "may_goto " + (sym?.target ?? style.br(off));
        default:
          return undefined;
      }
    }
    case 0: {
      // LD
      if (opcode === OP_LD_IMM64) {
        if (dst > 11 || off !== 0 || hi === undefined) return undefined;
        if (src === 0 || sym?.value !== undefined)
          return R[dst] + " = " + (sym?.value ?? style.imm64(imm, hi)) + " ll";
        // LLVM's decoder folds the high word into the pseudo operand (printed as 32 bits), so
        // ld_pseudo shows only the low word of the immediate, unsigned.
        return "ld_pseudo\t" + R[dst] + ", " + style.imm(src) + ", " + style.imm(imm >>> 0);
      }
      const size = (opcode >> 3) & 3;
      if (size === 3) return undefined;
      const mode = opcode & 0xe0;
      if (mode === 0x20) return "r0 = *(" + SIZE_NAME[size] + " *)skb[" + style.imm(imm) + "]";
      if (mode === 0x40) return src > 11 ? undefined : "r0 = *(" + SIZE_NAME[size] + " *)skb[" + R[src] + "]";
      return undefined;
    }
    case 1: {
      // LDX
      if (dst > 11 || src > 11) return undefined;
      const size = (opcode >> 3) & 3;
      const mode = opcode & 0xe0;
      if (mode === 0x60) {
        const d = alu32 && size !== 3 ? W[dst] : R[dst];
        return d + " = *(" + SIZE_NAME[size] + " *)(" + R[src] + style.disp(off) + ")";
      }
      if (mode === 0x80 && size !== 3)
        return R[dst] + " = *(" + SSIZE_NAME[size] + " *)(" + R[src] + style.disp(off) + ")";
      return undefined;
    }
    case 2: {
      // ST
      if ((opcode & 0xe0) !== 0x60 || dst > 11) return undefined;
      return (
        "*(" + SIZE_NAME[(opcode >> 3) & 3] + " *)(" + R[dst] + style.disp(off) + ") = " + style.imm(imm)
      );
    }
    default: {
      // STX
      if (dst > 11 || src > 11) return undefined;
      const size = (opcode >> 3) & 3;
      const mode = opcode & 0xe0;
      if (mode === 0x60) {
        const s = alu32 && size !== 3 ? W[src] : R[src];
        return "*(" + SIZE_NAME[size] + " *)(" + R[dst] + style.disp(off) + ") = " + s;
      }
      if (mode !== 0xc0) return undefined;
      const aop = (imm >> 4) & 0xf;
      const fetch = (imm & 0xf) === 1;
      if (size === 3) return atomicText(aop, fetch, R, src, R[dst] + style.disp(off), "u64", "_64");
      if (size !== 0) return undefined;
      // Without ALU32, LLVM only knows the legacy 32-bit xadd (any low nibble).
      if (!alu32)
        return aop === 0 ? "lock *(u32 *)(" + R[dst] + style.disp(off) + ") += " + R[src] : undefined;
      return atomicText(aop, fetch, W, src, R[dst] + style.disp(off), "u32", "32_32");
    }
  }
}

function atomicText(
  aop: number,
  fetch: boolean,
  regs: readonly string[],
  src: number,
  addr: string,
  ty: string,
  suffix: string,
): string | undefined {
  const s = regs[src];
  if (fetch) {
    const name = FETCH_NAME[aop];
    if (name !== undefined)
      return s + " = atomic_fetch_" + name + "((" + ty + " *)(" + addr + "), " + s + ")";
    if (aop === 0xe) return s + " = xchg" + suffix + "(" + addr + ", " + s + ")";
    if (aop === 0xf) return regs[0] + " = cmpxchg" + suffix + "(" + addr + ", " + regs[0] + ", " + s + ")";
    return undefined;
  }
  const op = ATOMIC_OP[aop];
  return op === undefined ? undefined : "lock *(" + ty + " *)(" + addr + ") " + op + "= " + s;
}

/**
 * For an instruction LLVM decodes as a branch, its displacement in slots from the next slot
 * (llvm-objdump annotates the target); undefined for anything else (calls included).
 */
export function llvmBranchDisplacement(opcode: number, off: number, imm: number): number | undefined {
  const cls = opcode & 7;
  if (cls !== 5 && cls !== 6) return undefined;
  if (JMP_OP[opcode >> 4] !== "") return off;
  if (opcode === 0x05 || opcode === 0xe5) return off;
  if (opcode === 0x06) return imm;
  return undefined;
}

/**
 * The instruction text llvm-objdump-19 prints for one instruction (no address, bytes or branch
 * target annotation), or `<unknown>` where LLVM cannot decode it.
 */
export function formatInsn(insn: Instruction, opts: FormatOptions = {}): string {
  const text = llvmInsnText(
    insn.opcode,
    insn.dst,
    insn.src,
    insn.off,
    insn.imm,
    insn.opcode === OP_LD_IMM64 ? insn.wide?.imm : 0,
    hasAlu32(opts.mcpu),
  );
  return text ?? UNKNOWN_TEXT;
}

/**
 * The fields llvm-mc writes back when it assembles the text LLVM prints for this instruction:
 * the fields LLVM does not encode become 0 (and a 32-bit xadd without ALU32 loses its atomic
 * op bits). Undefined when LLVM cannot decode the instruction. An instruction equal to its
 * canonical form survives print-then-assemble unchanged.
 */
export function llvmCanonical(insn: Instruction, alu32: boolean): Instruction | undefined {
  const { opcode, dst, src, off, imm } = insn;
  const hi = opcode === OP_LD_IMM64 ? insn.wide?.imm : 0;
  if (llvmInsnText(opcode, dst, src, off, imm, hi, alu32) === undefined) return undefined;
  const c = (d: number, s: number, o: number, i: number): Instruction => ({
    opcode,
    dst: d,
    src: s,
    off: o,
    imm: i,
  });
  const code = opcode >> 4;
  const x = (opcode & 8) !== 0;
  switch (opcode & 7) {
    case 4:
    case 7:
      if (code === 0x8) return c(dst, 0, 0, 0);
      if (code === 0xd) return c(dst, 0, 0, imm);
      if (x) return c(dst, src, off, code === 0xb && off === 1 ? imm : 0);
      return c(dst, 0, off, imm);
    case 5:
    case 6:
      if (JMP_OP[code] !== "") return x ? c(dst, src, off, 0) : c(dst, 0, off, imm);
      switch (opcode) {
        case 0x05:
        case 0xe5:
          return c(0, 0, off, 0);
        case 0x06:
        case 0x85:
          return c(0, 0, 0, imm);
        case 0x8d:
          return c(dst, 0, 0, 0);
        default:
          return c(0, 0, 0, 0);
      }
    case 0:
      if (opcode === OP_LD_IMM64) {
        // ld_pseudo prints (and so re-encodes) only the low word.
        const wide = { opcode: 0, dst: 0, src: 0, off: 0, imm: src === 0 ? (hi ?? 0) : 0 };
        return { opcode, dst, src, off: 0, imm, wide };
      }
      return (opcode & 0xe0) === 0x20 ? c(0, 0, 0, imm) : c(0, src, 0, 0);
    case 1:
      return c(dst, src, off, 0);
    case 2:
      return c(dst, 0, off, imm);
    default: {
      if ((opcode & 0xe0) === 0x60) return c(dst, src, off, 0);
      if ((opcode & 0x18) === 0 && !alu32) return c(dst, src, off, 0);
      return c(dst, src, off, (imm & 0xf0) | ((imm & 0xf) === 1 ? 1 : 0));
    }
  }
}
